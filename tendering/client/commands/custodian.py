"""``etender custodian …``: a custodian confirms its custody of a tender, and opens its parts at the opening."""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path
from typing import Any

from tendering.client import keys as keystore
from tendering.client.commands.base import Registry, Session, current_zone, read_secret, say, when
from tendering.client.commands.keys import registered_fingerprints
from tendering.client.commands.opening import bid_state, hall_of, roles_text, tender_line
from tendering.client.commands.tenders import check_tender_id, fetch_tender
from tendering.client.custody import b64encode, custody_slots, custody_statement, sign_statement
from tendering.client.opening import (
    check_local_clock,
    custodian_parts,
    custodian_position,
    hall_bids,
    remember_opening_time,
    remembered_opening_time,
)
from tendering.client.progress import Progress
from tendering.client.transport import ClientError


def cmd_custodian_open(args: argparse.Namespace, session: Session) -> int:
    tender_id = check_tender_id(args.tender_id)
    path, hall = hall_of(session, tender_id)
    tender = hall["tender"]
    if "custodian" not in (hall.get("roles") or []):
        raise ClientError(
            f"you are not a custodian of tender {tender['number']} (your roles in its opening: {roles_text(hall)})"
        )
    if tender.get("unreleased_bids") != "custodians":
        raise ClientError(
            f"tender {tender['number']} has its bids opened only by their bidders (a bid not released counts as "
            "revoked): custodians' parts are not used"
        )
    concluded = hall["moments"].get("decryption_concluded_at")
    if concluded:
        raise ClientError(
            f"the decryption of tender {tender['number']} ended at {when(concluded)}: parts are no longer taken"
        )
    say(f"{tender_line(hall)}: opening time {when(tender['opening_time'])} ({current_zone().key})")
    # The platform's clock opened the hall; this machine's own must agree before any part leaves it.
    check_local_clock(
        tender["opening_time"],
        current_zone(),
        "parts are submitted",
        remembered=remembered_opening_time(session.home, tender_id),
    )
    bids = hall_bids(session.get(f"{path}/manifests"), tender_id)
    if not bids:
        say(f"{tender_line(hall)}: no bids, nothing to open")
        return 0
    key = keystore.existing_key(session.home, "encryption", args.key)
    position = custodian_position(bids, key)
    slot: dict[str, Any] = next((c for c in hall.get("custodians") or [] if c["position"] == position + 1), {})
    who = f"custodian {position + 1}" + (f" ({slot['name']})" if slot.get("name") else "")
    if slot.get("submitted_at"):
        say(f"{tender_line(hall)}: you, {who}, submitted your parts at {when(slot['submitted_at'])}; nothing to do")
        return 0
    waiting = sum(1 for bid in bids if bid.state == "awaiting_key")
    say(
        f"{tender_line(hall)}: {len(bids)} bid(s), {waiting} still without a key; you are {who} "
        f"of {len(hall.get('custodians') or [])} (k = {tender['threshold']})"
    )
    passphrase = read_secret(
        "passphrase",
        "ETENDER_PASSPHRASE",
        file=args.passphrase_file,
        prompt=f"Passphrase of encryption key {args.key!r}: ",
    )
    private = key.private_key(passphrase)

    def signing_private() -> Any:
        # Only when a part does not open: the statement is signed with the custodian's own signing key, the one
        # it confirmed custody with (the platform refuses a statement from any other, naming the key).
        signing = keystore.existing_key(session.home, "signing", args.signing_key)
        try:
            return signing.private_key(passphrase)
        except ClientError:
            other = read_secret(
                "passphrase",
                "ETENDER_SIGNING_PASSPHRASE",
                file=args.signing_passphrase_file,
                prompt=f"Passphrase of signing key {args.signing_key!r}: ",
            )
            return signing.private_key(other)

    progress = Progress("open", len(bids), unit="bids")
    try:
        opened = custodian_parts(bids, private, signing_private, progress.update)
    except BaseException:
        progress.abandon()
        raise
    progress.finish()
    for problem in opened.problems:
        say(problem)
    # One request for every part and statement: every (bid, subset) of yours once, and subsets are combined at once.
    submitted = session.post(
        f"{path}/custodian-parts", {"parts": opened.parts, "refusals": opened.refusals}, timeout=600
    )
    say(
        f'{submitted["parts"]} part(s) and {submitted.get("refusals", 0)} signed "does not open" statement(s) '
        f"submitted for {len(bids)} bid(s)"
    )
    _, after = hall_of(session, tender_id)
    for view in sorted(after["bids"], key=lambda v: v["position"]):
        say(f"  bid {view['position']} ({view['bid']}): {bid_state(view, tender['threshold'])}")
    return 0


def cmd_custodian_confirm(args: argparse.Namespace, session: Session) -> int:
    tender_id = check_tender_id(args.tender_id)
    me = session.get("/api/accounts/me")
    tender = fetch_tender(session, tender_id)
    custody = session.transport(authenticated=False).request("GET", f"/api/tenders/{tender_id}/custody").data
    slots = custody_slots(custody, tender_id)
    recipients = [slot.fingerprint for slot in slots]
    n, threshold = len(slots), int(tender["custodian_threshold"])
    about = f"tender {tender['number']} ({tender['title']})"
    slot = next((s for s in slots if s.username == me["username"]), None)
    if slot is None:
        raise ClientError(f"you ({me['username']}) are not one of the {n} custodians of {about}: nothing to confirm")
    if custody.get("recipients") != recipients or custody.get("threshold") != threshold:
        raise ClientError(
            f"the platform's custody of {about} is inconsistent (its list of recipients or k is not the keys and k it "
            "serves): not confirmed. Tell the trading centre"
        )
    key = keystore.existing_key(session.home, "encryption", args.key)
    local = key.fingerprint()
    if recipients[slot.index] != local:
        elsewhere = [str(i + 1) for i, fp in enumerate(recipients) if fp == local]
        raise ClientError(
            f"{about} lists for you, custodian {slot.index + 1} of {n} (index {slot.index}), the encryption key "
            f"{recipients[slot.index]}, which is NOT your local encryption key {args.key!r} ({local})"
            + (f" (that key is listed at position {', '.join(elsewhere)})" if elsewhere else "")
            + ": not confirmed. Bids sealed to that key could be opened by whoever holds it; tell the trading centre"
        )
    signing = keystore.existing_key(session.home, "signing", args.signing_key)
    signing_fp = signing.fingerprint()
    statement = custody_statement(tender_id, slot.index, threshold, recipients, me["username"], signing_fp)
    remember_opening_time(session.home, tender_id, tender.get("opening_time"))
    say(f"{about}")
    say(f"  you are custodian {slot.index + 1} of {n} (index {slot.index}); {threshold} of {n} open a bid together")
    say(f"  your encryption key {local} ({args.key!r}, here)")
    for other in slots:
        mark = "  <- you" if other.index == slot.index else ""
        say(f"    {other.index + 1}: {other.name} ({other.username})  {other.fingerprint}{mark}")
    if slot.confirmation:
        served = base64.b64decode(str(slot.confirmation.get("statement") or ""))
        if served == statement:
            say(f"you confirmed it at {when(slot.confirmation.get('confirmed_at'))}; nothing to do")
            return 0
        raise ClientError(
            f"the platform holds a confirmation of yours from {when(slot.confirmation.get('confirmed_at'))} "
            "that is not "
            f"the statement this client makes now with signing key {args.signing_key!r} ({signing_fp}): the keys "
            "listed or your signing key changed since. Tell the trading centre"
        )
    if signing_fp not in registered_fingerprints(session).get("signing", set()):
        raise ClientError(
            f"your signing key {args.signing_key!r} ({signing_fp}) is not registered on the platform (or revoked): "
            f"run `etender keys register --purpose signing --name {args.signing_key}` first"
        )
    if not args.yes:
        if not sys.stdin.isatty():
            raise ClientError("confirming needs your agreement on a terminal: add --yes")
        answer = input(
            f"Confirm that you serve on {about} as custodian {slot.index + 1} of {n}, k = {threshold}? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            say("not confirmed")
            return 1
    passphrase = read_secret(
        "passphrase",
        "ETENDER_PASSPHRASE",
        file=args.passphrase_file,
        prompt=f"Passphrase of signing key {args.signing_key!r}: ",
    )
    signature = sign_statement(statement, signing.private_key(passphrase))
    session.post(
        f"/api/tenders/{tender_id}/custody/confirmation",
        {"statement": b64encode(statement), "signature": b64encode(signature)},
    )
    say(f"custody confirmed: signed with your signing key {signing_fp}")
    return 0


def register(registry: Registry) -> None:
    custodian = registry.group("custodian", "a custodian's confirmation of a tender, and its parts at the opening")
    custodian_open = registry.command(
        custodian, "open", cmd_custodian_open, "open your parts of every bid's key here and submit them all at once"
    )
    confirm = registry.command(
        custodian,
        "confirm",
        cmd_custodian_confirm,
        "check that a tender lists your encryption key, and sign your custody of it with your signing key",
    )
    confirm.add_argument("tender_id", help="the tender's id (UUID)")
    confirm.add_argument(
        "--key", default=keystore.DEFAULT_NAME, metavar="NAME", help="local encryption key (default: default)"
    )
    confirm.add_argument(
        "--signing-key", default=keystore.DEFAULT_NAME, metavar="NAME", help="local signing key (default: default)"
    )
    confirm.add_argument("--yes", action="store_true", help="do not ask for agreement on the terminal")
    confirm.add_argument(
        "--passphrase-file", type=Path, help="read the signing key's passphrase from this file's first line"
    )
    custodian_open.add_argument("tender_id", help="the tender's id (UUID)")
    custodian_open.add_argument(
        "--signing-key",
        default=keystore.DEFAULT_NAME,
        metavar="NAME",
        help="local signing key for the statements of parts that do not open (default: default)",
    )
    custodian_open.add_argument(
        "--signing-passphrase-file",
        type=Path,
        help="the signing key's passphrase, if not the encryption key's (or ETENDER_SIGNING_PASSPHRASE)",
    )
    custodian_open.add_argument(
        "--key", default=keystore.DEFAULT_NAME, metavar="NAME", help="local encryption key (default: default)"
    )
    custodian_open.add_argument(
        "--passphrase-file", type=Path, help="read the encryption key's passphrase from this file's first line"
    )
