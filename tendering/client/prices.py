"""The price summary (开标一览表) from ``--price`` options or a small JSON file.

``--price LOT=AMOUNT[:DAYS]`` once per lot (``AMOUNT[:DAYS]`` alone when the
tender has a single lot, or publishes none: the whole tender is then lot
``1``). AMOUNT is yuan with at most two decimals (``12345678.9`` is written
``12345678.90``; a third decimal is refused, never rounded); DAYS is the
schedule (工期) in days, 0 when omitted.

The file form (``--price-file``)::

    {"lots": [{"lot": "1", "price_yuan": "12345678.90", "schedule_days": 365,
               "declared": {"质量标准": "合格", "项目经理": "李四"}}]}

(or just the list). Prices may be strings or JSON numbers (read exactly, as
decimals). A lot is priced at most once, and only lots the tender publishes;
a bid may leave lots out. The summary lists them in the tender's order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tendering.client.transport import ClientError
from tendering.sealing import LotPrice, PriceSummaryError

SINGLE_LOT = "1"
_AMOUNT = re.compile(r"\A(0|[1-9][0-9]{0,15})(\.[0-9]{1,2})?\Z")


@dataclass(frozen=True)
class PriceEntry:
    lot: str | None  # None: the tender's only lot
    price_yuan: str
    schedule_days: int = 0
    declared: Mapping[str, str] = field(default_factory=dict)


def normalize_amount(text: str) -> str:
    """``'12345678.9'`` → ``'12345678.90'``; refuses signs, separators, exponents and a third decimal."""
    value = text.strip()
    if isinstance(text, str) and _AMOUNT.match(value):
        whole, _, cents = value.partition(".")
        return f"{whole}.{cents.ljust(2, '0')}"
    raise ClientError(
        f"not a price in yuan: {text!r} (digits with at most two decimals, no sign or separators, e.g. 12345678.90)"
    )


def _days(text: str, where: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", text.strip()):
        raise ClientError(f"{where}: the schedule is a whole number of days from 0 to 36500, not {text!r}")
    days = int(text)
    if days > 36_500:
        raise ClientError(f"{where}: the schedule is at most 36500 days")
    return days


def parse_price_option(text: str) -> PriceEntry:
    """One ``--price`` value: ``LOT=AMOUNT[:DAYS]`` or ``AMOUNT[:DAYS]``."""
    lot: str | None = None
    rest = text
    if "=" in text:
        lot, _, rest = text.partition("=")
        lot = lot.strip()
        if not lot:
            raise ClientError(f"--price {text!r}: the lot before '=' is empty")
    amount, colon, days = rest.partition(":")
    if colon and not days.strip():
        raise ClientError(f"--price {text!r}: the schedule after ':' is empty")
    where = f"--price {text!r}"
    try:
        price = normalize_amount(amount)
    except ClientError as exc:
        raise ClientError(f"{where}: {exc}") from None
    return PriceEntry(lot, price, _days(days, where) if colon else 0)


def load_price_file(path: Path) -> list[PriceEntry]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as exc:
        raise ClientError(f"cannot read the price file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ClientError(f"the price file {path} is not valid JSON: {exc}") from None
    lots = data.get("lots") if isinstance(data, dict) else data
    if isinstance(data, dict) and set(data) - {"lots"}:
        raise ClientError(
            f"the price file {path} has fields other than 'lots': {', '.join(sorted(set(data) - {'lots'}))}"
        )
    if not isinstance(lots, list) or not lots:
        raise ClientError(f'the price file {path} must hold a non-empty list of lots (or {{"lots": [...]}})')
    entries = []
    for index, item in enumerate(lots):
        where = f"{path}, lot #{index + 1}"
        if not isinstance(item, dict):
            raise ClientError(f"{where}: each lot is an object")
        unknown = set(item) - {"lot", "price_yuan", "schedule_days", "declared"}
        if unknown:
            raise ClientError(f"{where}: unknown fields {', '.join(sorted(unknown))}")
        lot = item.get("lot")
        if isinstance(lot, int) and not isinstance(lot, bool):
            lot = str(lot)
        if lot is not None and not isinstance(lot, str):
            raise ClientError(f"{where}: 'lot' is the lot's id, a string")
        price = item.get("price_yuan")
        if isinstance(price, Decimal | int) and not isinstance(price, bool):
            price = _decimal_text(price, where)
        if not isinstance(price, str):
            raise ClientError(f"{where}: 'price_yuan' is required (e.g. \"12345678.90\")")
        days = item.get("schedule_days", 0)
        if not isinstance(days, int) or isinstance(days, bool):
            raise ClientError(f"{where}: 'schedule_days' is a whole number of days")
        declared = item.get("declared", {})
        if not isinstance(declared, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in declared.items()
        ):
            raise ClientError(f"{where}: 'declared' is an object of text fields")
        try:
            amount = normalize_amount(price)
        except ClientError as exc:
            raise ClientError(f"{where}: {exc}") from None
        entries.append(PriceEntry(lot, amount, _days(str(days), where), declared))
    return entries


def _decimal_text(value: Decimal | int, where: str) -> str:
    try:
        text = format(Decimal(value), "f")
    except (InvalidOperation, ValueError):
        raise ClientError(f"{where}: not a price: {value!r}") from None
    return text


def tender_lot_ids(tender: Mapping[str, Any]) -> list[str]:
    """The lot ids a price summary must cover, in the tender's order (``["1"]`` when it publishes no lots)."""
    lots = tender.get("lots") or []
    return [str(lot["number"]) for lot in lots] or [SINGLE_LOT]


def build_lots(entries: Sequence[PriceEntry], lot_ids: Sequence[str]) -> tuple[LotPrice, ...]:
    """The priced lots in the tender's order; refuses unknown or repeated lots (a bid may leave lots out)."""
    if not entries:
        raise ClientError("give the price: --price LOT=AMOUNT[:DAYS] for each lot, or --price-file FILE")
    by_lot: dict[str, PriceEntry] = {}
    for entry in entries:
        lot = entry.lot
        if lot is None:
            if len(lot_ids) != 1:
                raise ClientError(
                    f"this tender has {len(lot_ids)} lots ({', '.join(lot_ids)}): "
                    "name the lot, --price LOT=AMOUNT[:DAYS]"
                )
            lot = lot_ids[0]
        if lot not in lot_ids:
            raise ClientError(f"the tender has no lot {lot!r} (its lots: {', '.join(lot_ids)})")
        if lot in by_lot:
            raise ClientError(f"lot {lot} is priced twice")
        by_lot[lot] = entry
    try:
        return tuple(
            LotPrice(lot, by_lot[lot].price_yuan, by_lot[lot].schedule_days, dict(by_lot[lot].declared))
            for lot in lot_ids
            if lot in by_lot
        )
    except PriceSummaryError as exc:
        raise ClientError(f"the price summary is not valid: {exc}") from None
