"""The opening record (开标记录表) writes each price with thousands separators and in Chinese capitals."""

from __future__ import annotations

from django.utils import translation

from tendering.models import BidOpening
from tendering.services.opening_record import _lots_text


def _summary(*prices: str) -> dict[str, object]:
    return {
        "lots": [
            {"lot": str(n), "price_yuan": price, "schedule_days": 180, "declared": {}}
            for n, price in enumerate(prices, start=1)
        ]
    }


def test_the_opening_record_writes_each_lot_price_with_separators_and_in_capital_numerals():
    bid_opening = BidOpening(price_summary=_summary("3050000", "16409.02"))
    with translation.override("zh-hans"):
        price, schedule, _declared = _lots_text(bid_opening)
    assert price.splitlines() == [
        "标段 1：3,050,000.00 元（大写：叁佰零伍万元整）",
        "标段 2：16,409.02 元（大写：壹万陆仟肆佰零玖元零贰分）",
    ]
    assert schedule.splitlines() == ["标段 1：180 日历天", "标段 2：180 日历天"]


def test_a_bid_without_a_price_summary_shows_a_dash():
    assert _lots_text(BidOpening(price_summary=None)) == ("—", "—", "—")
