"""The price summary from --price options and from a JSON file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tendering.client.prices import build_lots, load_price_file, normalize_amount, parse_price_option, tender_lot_ids
from tendering.client.transport import ClientError
from tendering.sealing import LotPrice

TWO_LOTS = {"lots": [{"number": 1, "name": "路面工程"}, {"number": 2, "name": "桥梁工程"}]}


# --- refusals first -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1=12.345",
        "1=-5",
        "1=1,000.00",
        "1=1e6",
        "1=¥100",
        "1=",
        "=100",
        "1=100:",
        "1=100:abc",
        "1=100:36501",
        "1=01.00",
    ],
)
def test_malformed_price_options_are_refused(text: str) -> None:
    with pytest.raises(ClientError, match="--price"):
        parse_price_option(text)


def test_a_third_decimal_is_refused_not_rounded() -> None:
    with pytest.raises(ClientError, match="at most two decimals"):
        normalize_amount("99.999")


def test_unknown_repeated_or_unnamed_lots_are_refused() -> None:
    lots = tender_lot_ids(TWO_LOTS)
    with pytest.raises(ClientError, match="no lot '3'"):
        build_lots([parse_price_option("3=100")], lots)
    with pytest.raises(ClientError, match="lot 1 is priced twice"):
        build_lots([parse_price_option("1=100"), parse_price_option("1=200")], lots)
    with pytest.raises(ClientError, match="name the lot"):
        build_lots([parse_price_option("100")], lots)
    with pytest.raises(ClientError, match="give the price"):
        build_lots([], lots)


def test_a_price_file_with_a_bad_lot_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"lots": [{"lot": "1", "price_yuan": "100.00"}, {"lot": "2", "price_yuan": "1.234"}]}))
    with pytest.raises(ClientError, match="lot #2: not a price"):
        load_price_file(path)
    path.write_text(json.dumps({"lots": [{"lot": "1", "price": "100.00"}]}))
    with pytest.raises(ClientError, match="unknown fields price"):
        load_price_file(path)
    path.write_text("{not json")
    with pytest.raises(ClientError, match="not valid JSON"):
        load_price_file(path)


def test_declared_fields_are_checked_by_the_format(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps([{"lot": "1", "price_yuan": "1.00", "declared": {"项目经理": "李四\x07"}}]))
    with pytest.raises(ClientError, match="control characters"):
        build_lots(load_price_file(path), ["1"])


# --- what works ---------------------------------------------------------------------------------------------


def test_price_options_become_lots_in_the_tenders_order() -> None:
    entries = [parse_price_option("2=0.5:30"), parse_price_option("1=12345678.9:365")]
    assert build_lots(entries, tender_lot_ids(TWO_LOTS)) == (
        LotPrice("1", "12345678.90", 365),
        LotPrice("2", "0.50", 30),
    )


def test_a_bid_may_leave_lots_out() -> None:
    assert build_lots([parse_price_option("2=100")], ["1", "2"]) == (LotPrice("2", "100.00", 0),)


def test_a_tender_without_lots_is_lot_1_and_takes_a_bare_amount() -> None:
    assert tender_lot_ids({"lots": []}) == ["1"]
    assert build_lots([parse_price_option("8650000:540")], ["1"]) == (LotPrice("1", "8650000.00", 540),)


def test_a_price_file_reads_numbers_exactly_and_keeps_declared_fields(tmp_path: Path) -> None:
    path = tmp_path / "开标一览表.json"
    path.write_text(
        '{"lots": [{"lot": 1, "price_yuan": 12345678.9, "schedule_days": 365, '
        '"declared": {"质量标准": "合格", "项目经理": "李四"}}, '
        '{"lot": "2", "price_yuan": "0.50", "schedule_days": 30}]}',
        encoding="utf-8",
    )
    assert build_lots(load_price_file(path), ["1", "2"]) == (
        LotPrice("1", "12345678.90", 365, {"质量标准": "合格", "项目经理": "李四"}),
        LotPrice("2", "0.50", 30),
    )
