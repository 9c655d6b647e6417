"""The CLI's price rule (tendering/client/prices.py) gives every result of the table the bid page is checked
against too (tests/js/price-rules.json; the JavaScript side is tests/js/prices.test.mjs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tendering.client.prices import normalize_amount, parse_price_option
from tendering.client.transport import ClientError

TABLE = json.loads((Path(__file__).resolve().parents[1] / "js" / "price-rules.json").read_text(encoding="utf-8"))


def cases(kind: str) -> list[Any]:
    return [pytest.param(case["input"], case["expected"], id=case["case"]) for case in TABLE[kind]]


def test_the_shared_table_has_cases_of_both_kinds_accepted_and_refused():
    for kind in ("amounts", "schedule_days"):
        results = [case["expected"] for case in TABLE[kind]]
        assert len(results) >= 10 and None in results and any(r is not None for r in results)


@pytest.mark.parametrize(("text", "expected"), cases("amounts"))
def test_the_cli_reads_each_amount_of_the_shared_table_as_the_table_says(text: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ClientError, match="not a price in yuan"):
            normalize_amount(text)
    else:
        assert normalize_amount(text) == expected


@pytest.mark.parametrize(("text", "expected"), cases("schedule_days"))
def test_the_cli_reads_each_schedule_of_the_shared_table_as_the_table_says(text: str, expected: int | None) -> None:
    if expected is None:
        with pytest.raises(ClientError, match="schedule"):
            parse_price_option(f"0:{text}")
    else:
        assert parse_price_option(f"0:{text}").schedule_days == expected
