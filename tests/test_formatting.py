"""One way to write moments and amounts (config/formatting.py), on worked examples shared with
the browser's frontend/js/lib/format.js (tests/data/amounts_in_words.json)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import translation

from config.formatting import amount_in_words, group_thousands, moment_text, zone_label

EXAMPLES = json.loads((Path(__file__).parent / "data" / "amounts_in_words.json").read_text("utf-8"))


@pytest.mark.parametrize(("amount", "words", "grouped"), EXAMPLES["examples"])
def test_an_amount_is_written_in_capitals_and_with_thousands_separators_as_the_worked_example(amount, words, grouped):
    assert amount_in_words(amount) == words
    assert amount_in_words(Decimal(amount)) == words
    assert group_thousands(Decimal(amount)) == grouped


@pytest.mark.parametrize("amount", EXAMPLES["refused"])
def test_what_is_not_a_payable_amount_is_refused_in_words(amount):
    with pytest.raises(ValueError):
        amount_in_words(amount)


@pytest.mark.parametrize("amount", ["1.005", "abc", "", "NaN"])
def test_what_is_not_an_amount_to_the_fen_is_refused_with_separators(amount):
    with pytest.raises(ValueError):
        group_thousands(amount)


def test_a_float_is_refused_because_it_cannot_hold_an_amount_exactly():
    with pytest.raises(TypeError):
        amount_in_words(0.1)
    with pytest.raises(TypeError):
        group_thousands(0.1)


def test_a_moment_is_written_in_the_setting_zone_to_the_minute_with_the_zone_name():
    moment = dt.datetime(2026, 12, 3, 8, 30, 59, tzinfo=dt.UTC)
    with translation.override("zh-hans"):
        assert moment_text(moment) == "2026-12-03 16:30 北京时间"
    with translation.override("en"):
        assert moment_text(moment) == "2026-12-03 16:30 Beijing time"
    assert moment_text(moment, label=False) == "2026-12-03 16:30"
    with override_settings(TIME_ZONE="Europe/Berlin"):
        assert moment_text(moment) == "2026-12-03 09:30 Europe/Berlin"
        assert zone_label() == "Europe/Berlin"


def test_a_naive_moment_is_read_as_utc_as_the_database_stores_it():
    assert moment_text(dt.datetime(2026, 12, 3, 8, 30), label=False) == "2026-12-03 16:30"
