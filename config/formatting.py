"""How the platform writes moments and amounts for people, once for pages, PDFs and messages.

- A moment: ``2026-12-03 16:30 北京时间`` — local time in ``settings.TIME_ZONE`` to the
  minute, then the zone's name as people call it (``北京时间`` / "Beijing time" for
  Asia/Shanghai, the zone's identifier otherwise). frontend/js/lib/format.js writes the
  same text in the browser, from the zone the page's configuration carries.
- An amount: ``3,050,000.00`` — yuan with thousands separators and two decimals.
- An amount in Chinese capital numerals (大写金额): ``叁佰零伍万元整``, as the rules for
  financial documents write them (《支付结算办法》附件一): ``零`` for a run of zeros inside
  the number, ``整`` when there is no 分, ``元零…分`` when 角 is zero and 分 is not.

``amount_in_words`` and ``group_thousands`` use no Django; the moment helpers read the
setting and translate the zone's name.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

MOMENT_FORMAT = "%Y-%m-%d %H:%M"

DIGITS = "零壹贰叁肆伍陆柒捌玖"
# Within a group of four digits, from the thousands down; the groups are 元, 万, 亿, 万亿.
PLACES = ("仟", "佰", "拾", "")
GROUPS = ("", "万", "亿", "万亿")
LIMIT = Decimal(10) ** (4 * len(GROUPS))


def platform_zone() -> ZoneInfo:
    """The zone the pages show and read times in: ``settings.TIME_ZONE``."""
    from django.conf import settings

    return ZoneInfo(settings.TIME_ZONE)


def zone_label() -> str:
    """What people call the platform's zone, in the reader's language (``北京时间``)."""
    from django.conf import settings
    from django.utils.translation import gettext

    if settings.TIME_ZONE in ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC"):
        return gettext("北京时间")
    return str(settings.TIME_ZONE)


def as_local(moment: dt.datetime) -> dt.datetime:
    """The moment in the platform's zone (a naive moment is read as UTC, as the database stores it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(platform_zone())


def moment_text(moment: dt.datetime, *, label: bool = True) -> str:
    """``2026-12-03 16:30 北京时间`` (with ``label=False``, without the zone's name)."""
    text = as_local(moment).strftime(MOMENT_FORMAT)
    return f"{text} {zone_label()}" if label else text


def _decimal(value: object) -> Decimal:
    if isinstance(value, float):
        raise TypeError("an amount is a Decimal, an int or its text, never a float")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return amount


def group_thousands(value: object) -> str:
    """``3050000.5`` → ``3,050,000.50``: yuan with thousands separators, to the 分."""
    amount = _decimal(value)
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"an amount is counted to the 分 (two decimals): {value!r}")
    return f"{amount:,.2f}"


def _group_in_words(number: int) -> str:
    """0 < number < 10000 in capitals, ``零`` for each run of zeros between digits."""
    words: list[str] = []
    pending_zero = False
    for place, digit in zip(PLACES, f"{number:04d}", strict=True):
        if digit == "0":
            pending_zero = bool(words)
            continue
        if pending_zero:
            words.append("零")
            pending_zero = False
        words.append(DIGITS[int(digit)] + place)
    return "".join(words)


def amount_in_words(value: object) -> str:
    """``3050000`` → ``叁佰零伍万元整``; ``16409.02`` → ``壹万陆仟肆佰零玖元零贰分``.

    Refuses a negative amount, more than two decimals and 10¹⁶ yuan or more (ValueError).
    """
    amount = _decimal(value)
    if amount < 0:
        raise ValueError(f"an amount in words is not negative: {value!r}")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"an amount is counted to the 分 (two decimals): {value!r}")
    if amount >= LIMIT:
        raise ValueError(f"an amount in words is below 10^16 yuan: {value!r}")
    fen_total = int(amount * 100)
    yuan, jiao, fen = fen_total // 100, fen_total // 10 % 10, fen_total % 10
    words: list[str] = []
    groups = [(yuan // 10 ** (4 * i)) % 10000 for i in range(len(GROUPS))]
    higher = gap = False
    for index in reversed(range(len(GROUPS))):
        group = groups[index]
        if group == 0:
            gap = higher
            continue
        if higher and (gap or group < 1000):
            words.append("零")
        words.append(_group_in_words(group) + GROUPS[index])
        higher, gap = True, False
    if yuan:
        words.append("元")
    if jiao:
        words.append(DIGITS[jiao] + "角")
    elif fen and yuan:
        words.append("零")
    if fen:
        words.append(DIGITS[fen] + "分")
    elif yuan or jiao:
        words.append("整")
    else:
        words = ["零元整"]
    return "".join(words)
