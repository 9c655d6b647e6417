"""Fixtures of the page tests: signed-in clients, form data, compiled English messages."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from config.formatting import platform_zone
from tendering.method import default_method

LOCALE = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES"


def ensure_english_messages() -> None:
    """The English pages need the compiled catalogue (``make messages`` builds it; so does this)."""
    po, mo = LOCALE / "django.po", LOCALE / "django.mo"
    if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
        from django.core.management import call_command

        call_command("compilemessages", locale=["en"], ignore_patterns=[".venv/*", "var/*"], verbosity=0)


@pytest.fixture(scope="session", autouse=True)
def english_messages() -> None:
    ensure_english_messages()


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def local(moment: dt.datetime) -> str:
    """A moment as a ``datetime-local`` value, in Beijing time."""
    return moment.astimezone(platform_zone()).strftime("%Y-%m-%dT%H:%M")


def tender_form_data(now: dt.datetime, custodians: list[Any], **changes: Any) -> dict[str, Any]:
    """What the draft form posts: a valid open tender with one lot, unless changed."""
    deadline = now + dt.timedelta(days=30)
    data: dict[str, Any] = {
        "number": "RJ-2026-FE-01",
        "title": "沙洲坝镇污水管网改造工程",
        "description": "新建污水管网 8.2 公里。",
        "procedure_type": "open",
        "budget": "3200000.00",
        "enquiry_deadline": local(deadline - dt.timedelta(days=10)),
        "bid_deadline": local(deadline),
        "opening_time": local(deadline),
        "evaluation_method": "comprehensive",
        "custodians": [c.pk for c in custodians],
        "custodian_threshold": "2",
        "method": json.dumps(default_method("comprehensive"), ensure_ascii=False),
        "lots-TOTAL_FORMS": "2",
        "lots-INITIAL_FORMS": "0",
        "lots-MIN_NUM_FORMS": "0",
        "lots-MAX_NUM_FORMS": "100",
        "lots-0-number": "1",
        "lots-0-name": "管网工程",
        "lots-0-budget": "3000000.00",
        "lots-1-number": "",
        "lots-1-name": "",
        "lots-1-budget": "",
    }
    data.update(changes)
    return data


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Personas are made for every test; the production hasher would spend seconds on them."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
