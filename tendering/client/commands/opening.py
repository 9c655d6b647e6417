"""``etender open …``: the opening (开标) as a bidder sees it: its key released from here, the hall's state."""

from __future__ import annotations

import argparse
import base64
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tendering.client import keys as keystore
from tendering.client.commands.base import (
    Registry,
    Session,
    current_zone,
    human_size,
    note,
    read_secret,
    say,
    use_zone,
    when,
)
from tendering.client.commands.tenders import check_tender_id
from tendering.client.opening import (
    KEY_IN_HAND,
    HallBid,
    addressed_elsewhere,
    bidder_file_key,
    check_local_clock,
    hall_bids,
    remembered_opening_time,
)
from tendering.client.transport import ApiError, ClientError
from tendering.room.codes import ErrorCode


def hall_of(session: Session, tender_id: str) -> tuple[str, dict[str, Any]]:
    """The opening's API path and the hall as this user sees it now (refused before the opening time)."""
    path = f"/api/tenders/{check_tender_id(tender_id)}/opening"
    hall: dict[str, Any] = session.get(path)
    use_zone((hall.get("tender") or {}).get("time_zone"))
    return path, hall


def tender_line(hall: dict[str, Any]) -> str:
    tender = hall["tender"]
    return f"opening of tender {tender['number']} ({tender['title']})"


def roles_text(hall: dict[str, Any]) -> str:
    return ", ".join(hall.get("roles") or []) or "none"


def key_source(view: dict[str, Any]) -> str:
    return {"bidder": "released by the bidder", "custodians": "from the custodians"}.get(
        view.get("key_source") or "", ""
    )


def decrypted_percent(view: dict[str, Any]) -> int:
    return min(int(view.get("progress_bytes") or 0) * 100 // max(int(view.get("size") or 0), 1), 100)


def bid_state(view: dict[str, Any], threshold: int) -> str:
    """A bid's state in words: what happened to it, or what it waits for."""
    state = view["state"]
    if state == "awaiting_key":
        return f"awaiting its key (from its bidder, or from {threshold} custodians)"
    if state == "key_ready":
        return f"key ready ({key_source(view)}), waiting for the decryption"
    if state == "decrypting":
        return f"decrypting ({key_source(view)}), {decrypted_percent(view)}%"
    if state == "opened":
        return f"opened ({key_source(view)})"
    return f"{state}: {view.get('outcome_detail') or view.get('outcome_code') or '-'}"


def cmd_open_release(args: argparse.Namespace, session: Session) -> int:
    tender_id = check_tender_id(args.tender_id)
    path, hall = hall_of(session, tender_id)
    if "bidder" not in (hall.get("roles") or []):
        hint = "; custodians open their parts with `etender custodian open`" if "custodian" in hall["roles"] else ""
        raise ClientError(
            f"you are not a bidder in the {tender_line(hall)} (your roles there: {roles_text(hall)}): "
            f"only a company whose bid stood at the deadline releases a key{hint}"
        )
    own = {view["bid"]: view for view in hall["bids"] if view.get("own")}
    bids = [bid for bid in hall_bids(session.get(f"{path}/manifests"), tender_id) if bid.bid in own]
    if not bids:
        raise ClientError(f"your organization has no bid in the {tender_line(hall)}")
    moments = hall["moments"]
    say(f"{tender_line(hall)}: opening time {when(hall['tender']['opening_time'])} ({current_zone().key})")
    # The platform's clock opened the hall; this machine's own must agree before any key leaves it.
    check_local_clock(
        hall["tender"]["opening_time"],
        current_zone(),
        "keys are released",
        remembered=remembered_opening_time(session.home, tender_id),
    )
    say(f"{len(bids)} bid(s) of yours; decryption until {when(moments['decryption_ends_at'])}")
    key = keystore.existing_key(session.home, "encryption", args.key)
    local = keystore.local_keys(session.home)
    failures = 0
    to_open: list[HallBid] = []
    for bid in bids:
        view = own[bid.bid]
        if view["state"] in KEY_IN_HAND:
            say(f"{bid.label}: already released ({key_source(view)}; {view['state']})")
        elif view["state"] != "awaiting_key":
            say(f"{bid.label}: not released: {bid_state(view, hall['tender']['threshold'])}")
            failures += 1
        elif moments.get("decryption_concluded_at"):
            say(f"{bid.label}: not released: the decryption ended at {when(moments['decryption_concluded_at'])}")
            failures += 1
        elif problem := addressed_elsewhere(bid, key, local):
            say(f"{bid.label}: not released: {problem}")
            failures += 1
        else:
            to_open.append(bid)
    if to_open:
        passphrase = read_secret(
            "passphrase",
            "ETENDER_PASSPHRASE",
            file=args.passphrase_file,
            prompt=f"Passphrase of encryption key {args.key!r}: ",
        )
        private = key.private_key(passphrase)
        for bid in to_open:
            try:
                file_key = bidder_file_key(bid, private)
            except ClientError as exc:
                say(f"{bid.label}: not released: {exc}")
                failures += 1
                continue
            try:
                released = session.post(
                    f"{path}/bids/{bid.bid}/key", {"file_key": base64.b64encode(file_key).decode("ascii")}
                )
            except ApiError as exc:
                if exc.code == ErrorCode.KEY_ALREADY_READY:
                    say(f"{bid.label}: already released ({exc.message})")
                else:
                    say(f"{bid.label}: refused: {exc.describe()}")
                    failures += 1
                continue
            say(f"{bid.label}: released ({released['state']}): the platform decrypts it now")
    if failures:
        note(f"{failures} of {len(bids)} bid(s) not released")
    return 1 if failures else 0


def display_width(text: str) -> int:
    """Columns a terminal gives ``text``: Chinese characters take two."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Rows aligned in columns (by display width), under their headers."""
    widths = [max(display_width(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    return [
        indent
        + "  ".join(
            cell + " " * (width - display_width(cell)) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in (headers, *rows)
    ]


def price_lines(view: dict[str, Any]) -> list[str]:
    lots = (view.get("price_summary") or {}).get("lots") or []
    return [f"lot {lot['lot']}: {lot['price_yuan']} yuan, {lot['schedule_days']} days" for lot in lots] or ["-"]


def cmd_open_status(args: argparse.Namespace, session: Session) -> int:
    _, hall = hall_of(session, args.tender_id)
    tender, moments = hall["tender"], hall["moments"]
    say(f"{tender['number']}  {tender['title']}")
    say(f"  opening time         {when(tender['opening_time'])}")
    say(f"  your roles           {roles_text(hall)}")
    say(f"  hall opened          {when(moments.get('started_at'))}")
    say(f"  decryption until     {when(moments.get('decryption_ends_at'))}")
    say(f"  decryption ended     {when(moments.get('decryption_concluded_at'))}")
    say(f"  record published     {when(moments.get('record_published_at'))}")
    say(f"  confirmation until   {when(moments.get('confirmation_ends_at'))}")
    say(f"  closed               {when(moments.get('closed_at'))}")
    views = sorted(hall.get("bids") or [], key=lambda v: v["position"])
    say(f"bids ({len(views)})" + ("" if views else ": none stood at the deadline"))
    rows: list[list[str]] = []
    for view in views:
        state = view["state"]
        if state == "decrypting":
            state += f" {decrypted_percent(view)}%"
        prices = price_lines(view)
        if not view.get("price_summary") and not moments.get("record_published_at"):
            prices = ["withheld until every bid is final"]  # the platform shows no price before the record
        mark = " *" if view.get("own") else ""
        rows.append(
            [
                str(view["position"]),
                view["bidder"] + mark,
                state,
                view.get("key_source") or "-",
                human_size(int(view.get("size") or 0)),
                prices[0],
                "yes" if view.get("confirmed_at") else "-",
            ]
        )
        rows.extend(["", "", "", "", "", more, ""] for more in prices[1:])
    if views:
        for line in table(["#", "bidder", "state", "key from", "size", "prices", "confirmed"], rows):
            say(line)
        for view in views:
            if view["state"] in ("revoked", "failed"):
                say(f"  {view['position']}: {view['state']}: {view.get('outcome_detail') or view.get('outcome_code')}")
        if any(view.get("own") for view in views):
            say("  * your organization's bid")
    custodians = sorted(hall.get("custodians") or [], key=lambda c: c["position"])
    say(f"custodians ({tender['threshold']} of {len(custodians)} open a bid together)")
    custodian_rows = [
        [str(c["position"]), c["name"], f"submitted {when(c['submitted_at'])}" if c.get("submitted_at") else "-"]
        for c in custodians
    ]
    for line in table(["#", "name", "parts"], custodian_rows):
        say(line)
    attendance = hall.get("attendance") or []
    if attendance:
        say(f"signed in ({len(attendance)})")
        attendance_rows = [
            [a["name"], a.get("organization") or "-", ", ".join(a.get("roles") or []), when(a.get("signed_in_at"))]
            for a in attendance
        ]
        for line in table(["name", "organization", "roles", "signed in"], attendance_rows):
            say(line)
    objections = hall.get("objections") or []
    if objections:
        say(f"objections ({len(objections)})")
        for item in objections:
            say(f"  bid {item['position']} ({item['bidder']}), {when(item.get('raised_at'))}: {item['text']}")
            say(
                f"    answer: {item['answer']} ({when(item.get('answered_at'))})"
                if item.get("answer")
                else "    not answered yet"
            )
    record = hall.get("record")
    if record:
        say(f"record filed: SHA-256 {record['sha256']}, ledger position {record['ledger_seq']}")
    return 0


def register(registry: Registry) -> None:
    hall = registry.group("open", "the opening (开标): release your bid's key, see the hall")
    release = registry.command(
        hall, "release", cmd_open_release, "open your bid's key here with your encryption key and release it (bidder)"
    )
    status = registry.command(
        hall, "status", cmd_open_status, "the opening hall now: bids, states, prices, custodians, moments"
    )
    for sub in (release, status):
        sub.add_argument("tender_id", help="the tender's id (UUID)")
    release.add_argument(
        "--key", default=keystore.DEFAULT_NAME, metavar="NAME", help="local encryption key (default: default)"
    )
    release.add_argument(
        "--passphrase-file", type=Path, help="read the encryption key's passphrase from this file's first line"
    )
