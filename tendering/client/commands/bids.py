"""``etender seal``, ``submit``, ``replace``, ``withdraw``, ``bids list``, ``bids index``: the bidder's own bids.

Before sealing, the tender's required materials (一次性告知, its method's
documents) are checked against the bid folder here, sending nothing; the
response index (评审因素定位, ``--response-index``) goes inside the ciphertext.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from tendering.client import keys as keystore
from tendering.client.commands.base import (
    OPEN_FOR_BIDS,
    Registry,
    Session,
    bar,
    connect,
    human_size,
    note,
    parse_rate,
    read_secret,
    say,
    when,
)
from tendering.client.commands.keys import registered_fingerprints
from tendering.client.commands.receipt import report_receipt
from tendering.client.commands.tenders import checked_custodians, fetch_tender
from tendering.client.commands.trust import TRUST_HOWTO
from tendering.client.config import write_atomic
from tendering.client.custody import CustodyCheck, check_custody
from tendering.client.opening import remember_opening_time
from tendering.client.prices import PriceEntry, build_lots, load_price_file, parse_price_option, tender_lot_ids
from tendering.client.transport import ClientError
from tendering.client.trust import TrustList
from tendering.client.upload import RateLimiter, SealedFiles, Submitted, Uploader
from tendering.sealing import BidFile, PriceSummary, ResponseIndex, SealingError, collect_bid_files, seal_bid
from tendering.sealing.response_index import index_template, missing_documents, read_pointer_file


def default_output(source: Path) -> Path:
    """``<source>.etb`` beside the source, or ``<source>-2.etb``, ``-3``… when taken."""
    base = source.resolve()
    candidate = base.with_name(base.name + ".etb")
    number = 2
    while any(p.exists() for p in (candidate, *_companions(candidate))):
        candidate = base.with_name(f"{base.name}-{number}.etb")
        number += 1
    return candidate


def _companions(path: Path) -> list[Path]:
    files = SealedFiles(path)
    return [files.manifest, files.signature, files.state, files.receipt]


def verify_custody(
    session: Session, tender: dict[str, Any], custodians: list[tuple[int, str, Any, str]], threshold: int
) -> CustodyCheck:
    """Refuse to seal unless every custodian confirmed, with a key this machine trusts, the keys sealed to.

    The trust list is this machine's own (``etender trust``); the statement is rebuilt here from the
    tender as served now and compared byte for byte (docs/custody.md §C). Nothing is sent either way.
    """
    trust = TrustList.load(session.home)
    refusing = f"refusing to seal for tender {tender['number']} ({tender['title']})"
    if trust.empty:
        raise ClientError(f"{refusing}: {TRUST_HOWTO}")
    custody = session.transport(authenticated=False).request("GET", f"/api/tenders/{tender['id']}/custody").data
    check = check_custody(custody, str(tender["id"]), threshold, trust, now=dt.datetime.now(dt.UTC))
    if [slot.fingerprint for slot in check.slots] != [fp for _, _, _, fp in custodians]:
        check.general.append(
            "the tender's published custodian keys are not the keys of its custody: "
            + ", ".join(f"{position}: {fp[:16]}…" for position, _, _, fp in custodians)
            + " against "
            + ", ".join(f"{slot.index + 1}: {slot.fingerprint[:16]}…" for slot in check.slots)
        )
    if not check.ok:
        raise ClientError(
            f"{refusing}: the custodians' keys do not check out against your trust list ({trust.path}). "
            "Nothing was sealed or sent.\n  "
            + "\n  ".join(check.lines())
            + "\nAsk the custodian(s) named above, or the trading centre, before you bid: a key the custodian "
            "did not confirm may be the operator's."
        )
    say(f"custody of tender {tender['number']} checked against your trust list ({threshold} of {len(check.slots)}):")
    for slot in check.slots:
        say(f"  {slot.label}: confirmed, signing key trusted by {check.trusted_by[slot.index]}")
    return check


def price_entries(args: argparse.Namespace) -> list[PriceEntry]:
    if args.price_file is not None:
        return load_price_file(args.price_file)
    return [parse_price_option(text) for text in args.price or []]


def folder_files(source: Path) -> list[BidFile]:
    """The bid's files as the container lists them; a folder that cannot be sealed is refused here."""
    try:
        return collect_bid_files(source)
    except SealingError as exc:
        raise ClientError(str(exc)) from None


def relative_paths(files: list[BidFile]) -> list[str]:
    return [f.path.removeprefix("bid/") for f in files]


def check_materials(tender: dict[str, Any], files: list[BidFile], pointer_file: Path | None) -> ResponseIndex | None:
    """The response index read from ``pointer_file`` (None without one), after checking that the folder holds
    every document the tender's method requires (一次性告知). Local: nothing is sent.

    A tender served without a ``method`` requires nothing (a platform older than the method).
    """
    method = tender.get("method")
    refusing = f"refusing to seal for tender {tender['number']}"
    index = None
    if pointer_file is not None:
        try:
            index = read_pointer_file(pointer_file.read_bytes(), method)
            if index is not None:
                index.check_paths(f.path for f in files)
        except OSError as exc:
            raise ClientError(f"cannot read the response index {pointer_file}: {exc.strerror}") from None
        except SealingError as exc:
            raise ClientError(
                f"{refusing}: the response index {pointer_file}: {exc}. Nothing was sealed or sent."
            ) from None
    missing = missing_documents(method, relative_paths(files), index)
    if missing:
        raise ClientError(
            f"{refusing}: the bid folder lacks {len(missing)} document(s) the tender requires (一次性告知):\n  "
            + "\n  ".join(f"{q.get('id')} {q.get('title')}: {d.get('id')} {d.get('name')}" for q, d in missing)
            + "\nAdd a file whose name contains the document's name, or point the document to its file with "
            "--response-index (`etender bids index` writes one to fill in). Nothing was sealed or sent."
        )
    return index


def seal(args: argparse.Namespace, session: Session) -> Path:
    """Seal ``args.source`` for ``args.tender``; returns the sealed bid's path."""
    source = Path(args.source)
    if not source.exists():
        raise ClientError(f"{source} does not exist")
    entries = price_entries(args)  # refuse bad prices before anything is fetched or asked
    bid_files = folder_files(source)
    out = Path(args.out) if args.out else default_output(source)
    if args.out and any(p.exists() for p in (out, *_companions(out))) and not args.force:
        raise ClientError(
            f"{out} (or its .manifest/.sig/.upload.json/.receipt.json) exists: choose another --out, or --force"
        )
    if source.is_dir() and out.resolve().is_relative_to(source.resolve()):
        raise ClientError(f"the sealed bid {out} must not be written inside the folder being sealed ({source})")
    tender = fetch_tender(session, args.tender)
    if tender["phase"] != OPEN_FOR_BIDS:
        raise ClientError(
            f"tender {tender['number']} is not open for bids "
            f"(phase {tender['phase']}, deadline {when(tender['bid_deadline'])})"
        )
    lots = build_lots(entries, tender_lot_ids(tender))
    response_index = check_materials(tender, bid_files, args.response_index)
    custodians = checked_custodians(tender)
    threshold = int(tender["custodian_threshold"])
    if not custodians or not 1 <= threshold <= len(custodians):
        raise ClientError(
            f"the tender publishes {len(custodians)} custodian keys and k = {threshold}: cannot seal to that"
        )
    verify_custody(session, tender, custodians, threshold)
    remember_opening_time(session.home, str(tender["id"]), tender.get("opening_time"))
    bidder = session.get("/api/bids/bidder")
    signing_key = keystore.existing_key(session.home, "signing", args.signing_key)
    encryption_key = keystore.existing_key(session.home, "encryption", args.encryption_key)
    registered = registered_fingerprints(session)
    for key in (signing_key, encryption_key):
        if key.fingerprint() not in registered.get(key.purpose, set()):
            raise ClientError(
                f"your {key.purpose} key {key.name!r} ({key.fingerprint()}) "
                "is not registered on the platform (or revoked): the bid would be refused. "
                f"Run `etender keys register --purpose {key.purpose} --name {key.name}`."
            )
    if keystore.loose_permissions(signing_key.private_path):
        note(f"warning: {signing_key.private_path} can be read by other users (chmod 600 it)")
    passphrase = read_secret(
        "passphrase",
        "ETENDER_PASSPHRASE",
        file=args.passphrase_file,
        prompt=f"Passphrase of signing key {args.signing_key!r}: ",
    )
    private = signing_key.private_key(passphrase)
    bid_id = str(uuid.uuid4())
    summary = PriceSummary(tender["id"], bid_id, bidder["credit_code"], lots)
    say(f"sealing {source} for tender {tender['number']} ({tender['title']}) as {bidder['organization']}")
    for lot in lots:
        say(f"  lot {lot.lot}: {lot.price_yuan} yuan, {lot.schedule_days} days")
    if response_index is not None:
        say(f"  response index: {len(response_index.pointers)} pointer(s), sealed inside the bid")
    say(
        f"  to the custodians ({threshold} of {len(custodians)}): "
        + ", ".join(f"{n} {fp[:16]}…" for _, n, _, fp in custodians)
    )
    files = SealedFiles(out)
    partial = out.with_name("." + out.name + ".partial")
    progress = bar("seal", 1)
    try:
        with open(partial, "wb") as sink:

            def update(done: int, total: int) -> None:
                progress.total = total
                progress.update(done)

            sealed = seal_bid(
                bid_files,
                summary,
                tender["id"],
                bid_id,
                bidder["credit_code"],
                private,
                encryption_key.public_key(),
                [key for _, _, key, _ in custodians],
                threshold,
                sink,
                progress=update,
                response_index=response_index,
            )
            sink.flush()
            os.fsync(sink.fileno())
        progress.finish()
    except BaseException:
        progress.abandon()
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, out)
    write_atomic(files.manifest, sealed.manifest_bytes, 0o644)
    write_atomic(files.signature, sealed.signature, 0o644)
    for stale in (files.state, files.receipt):
        stale.unlink(missing_ok=True)  # left by an earlier bid at this path (--force)
    say(f"sealed bid {bid_id}")
    say(f"  {out} ({human_size(sealed.size)}), SHA-256 {sealed.ciphertext_sha256}")
    say(f"  manifest {files.manifest}, signature {files.signature}")
    return out


def cmd_seal(args: argparse.Namespace, session: Session) -> int:
    out = seal(args, session)
    say(f"submit it with: etender submit {out}")
    return 0


def submit(args: argparse.Namespace, session: Session, path: Path) -> tuple[int, Submitted | None]:
    files = SealedFiles(path)
    if files.receipt.exists() and not files.state.exists():
        say(f"{path} was already submitted; its receipt is {files.receipt}")
        return report_receipt(session, files, files.receipt.read_bytes()), None
    limiter = RateLimiter(args.limit_rate) if args.limit_rate else None
    url, token = session.url, session.token
    uploader = Uploader(
        session.transport(),
        path,
        say=say,
        progress=bar,
        retries=args.retries,
        limiter=limiter,
        connect=lambda: connect(url, token),
        pipeline=1 if args.sequential else None,
    )
    submitted = uploader.submit()
    bid = submitted.bid
    say(f"bid {bid['bid_id']} accepted at {when(bid['accepted_at'])} ({bid['status']})")
    return report_receipt(session, files, submitted.receipt), submitted


def cmd_submit(args: argparse.Namespace, session: Session) -> int:
    return submit(args, session, Path(args.file))[0]


def cmd_replace(args: argparse.Namespace, session: Session) -> int:
    session.transport()
    standing = [b for b in session.get("/api/bids", tender=args.tender) if b["status"] == "accepted"]
    if not standing:
        note("note: you have no standing bid for this tender: this submits a first bid")
    out = seal(args, session)
    status, submitted = submit(args, session, out)
    if submitted is not None:
        for old in standing:
            say(f"bid {old['bid_id']} is superseded by {submitted.bid['bid_id']} (kept, marked superseded)")
    return status


def cmd_withdraw(args: argparse.Namespace, session: Session) -> int:
    bid = session.get(f"/api/bids/{args.bid_id}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise ClientError("withdrawing needs confirmation: add --yes")
        answer = input(f"Withdraw bid {bid['bid_id']} (tender {bid['tender_id']}, {human_size(bid['size'])})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            say("not withdrawn")
            return 1
    withdrawn = session.post(f"/api/bids/{args.bid_id}/withdraw")
    say(f"bid {withdrawn['bid_id']} withdrawn at {when(withdrawn['withdrawn_at'])}")
    return report_withdrawal_receipt(session, withdrawn, args.receipt or Path(f"{withdrawn['bid_id']}.withdrawal.json"))


def report_withdrawal_receipt(session: Session, withdrawn: dict[str, Any], path: Path) -> int:
    """Save the withdrawal's receipt, check it names this bid's withdrawal, and verify it with the pinned anchors."""
    from archive.verify import verify_receipt

    encoded = withdrawn.get("withdrawal_receipt") or ""
    if not encoded:
        note(
            "warning: the withdrawal stands, but its receipt is not issued yet (the platform's time-stamp "
            f"authority did not answer); it comes with the bid: GET /api/bids/{withdrawn['bid_id']}"
        )
        return 0
    receipt = base64.b64decode(encoded)
    write_atomic(path, receipt)
    pinned = session.pinned_trust()
    if pinned is None:
        note(f"warning: withdrawal receipt NOT verified: no trust anchors pinned in {session.home}; saved in {path}")
        return 0
    anchors, tsa = pinned
    result = verify_receipt(receipt, anchors, tsa_trusted_pem=tsa, action="tendering.bid.withdrawn")
    subject = result.subject or {}
    if result.ok and (subject.get("bid_id"), subject.get("ciphertext_sha256")) != (
        str(withdrawn["bid_id"]),
        withdrawn["sha256"],
    ):
        say(f"FAILED: the withdrawal receipt saved in {path} names another bid")
        return 1
    if not result.ok:
        say(f"FAILED: the withdrawal receipt saved in {path} does not verify: {result.reason}")
        return 1
    stamped = result.time.strftime("%Y-%m-%d %H:%M:%S UTC") if result.time else "?"
    say(f"withdrawal receipt verified (time-stamped {stamped}): {path}")
    say(f"ledger position {result.seq}")
    return 0


def cmd_bids_list(args: argparse.Namespace, session: Session) -> int:
    query = {"tender": args.tender} if args.tender else {}
    found = session.get("/api/bids", **query)
    if not found:
        say("no bids")
        return 0
    for bid in found:
        say(
            f"{bid['bid_id']}  tender {bid['tender_id']}  {bid['status']:<10}  {human_size(bid['size'])}  "
            f"accepted {when(bid['accepted_at'])}  ledger {bid['ledger_seq']}"
        )
    return 0


def cmd_bids_index(args: argparse.Namespace, session: Session) -> int:
    """Write a response index to fill in: every criterion, qualification item and document of the method."""
    source = Path(args.folder)
    if not source.exists():
        raise ClientError(f"{source} does not exist")
    files = relative_paths(folder_files(source))
    tender = fetch_tender(session, args.tender)
    method = tender.get("method")
    out = Path(args.out) if args.out else source.resolve().with_name(source.resolve().name + ".response-index.json")
    if source.is_dir() and out.resolve().is_relative_to(source.resolve()):
        raise ClientError(f"the index {out} must not be written inside the bid folder ({source}): it would be sealed")
    if out.exists() and not args.force:
        raise ClientError(f"{out} exists: choose another --out, or --force")
    template = index_template(method, files)
    write_atomic(out, (json.dumps(template, ensure_ascii=False, indent=1) + "\n").encode(), 0o644)
    if not template["pointers"]:
        say(f"tender {tender['number']} publishes no evaluation method: nothing to point to ({out} written empty)")
        return 0
    say(f"wrote {out}: {len(template['pointers'])} item(s) of tender {tender['number']}'s method")
    for pointer in template["pointers"]:
        where = f"{pointer['path']} page {pointer['page']}" if pointer["path"] else "(fill in path and page)"
        say(f"  {pointer['item']:<16} {pointer['kind']:<13} {pointer['title']}: {where}")
    missing = missing_documents(method, files, None)
    if missing:
        say("missing from the folder (sealing refuses until each is there or pointed to):")
        for q, d in missing:
            say(f"  {q.get('id')} {q.get('title')}: {d.get('id')} {d.get('name')}")
    say(f"then: etender seal {source} --tender {tender['id']} --response-index {out} …")
    return 0


def seal_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="the bid: a folder (sealed with its subfolders) or a single file")
    parser.add_argument("--tender", required=True, help="the tender's id (UUID, from `etender tenders list`)")
    prices = parser.add_mutually_exclusive_group(required=True)
    prices.add_argument(
        "--price",
        action="append",
        metavar="LOT=AMOUNT[:DAYS]",
        help="price of a lot in yuan (two decimals at most) and schedule in days; repeat per lot. "
        "AMOUNT[:DAYS] alone when the tender has one lot",
    )
    prices.add_argument("--price-file", type=Path, metavar="FILE", help="the price summary as JSON (see docs/cli.md)")
    parser.add_argument("--out", help="the sealed bid file (default <source>.etb beside the source)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    parser.add_argument(
        "--signing-key", default=keystore.DEFAULT_NAME, metavar="NAME", help="local signing key (default: default)"
    )
    parser.add_argument(
        "--encryption-key",
        default=keystore.DEFAULT_NAME,
        metavar="NAME",
        help="local encryption key (default: default)",
    )
    parser.add_argument(
        "--passphrase-file", type=Path, help="read the signing key's passphrase from this file's first line"
    )
    parser.add_argument(
        "--response-index",
        type=Path,
        metavar="FILE.json",
        help="the response index (评审因素定位): where the bid answers each criterion and document, sealed inside "
        "the bid (`etender bids index` writes one to fill in)",
    )


def submit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit-rate", type=parse_rate, metavar="RATE", help="upload at most RATE bytes/s (e.g. 2M)")
    parser.add_argument("--retries", type=int, default=5, help="retries of a part after a network failure (default 5)")
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="wait for each part's answer before sending the next (default: as many parts in flight as the "
        "platform's window allows)",
    )


def register(registry: Registry) -> None:
    seal_options(registry.top("seal", cmd_seal, "seal a bid folder or file for a tender"))
    submit_parser = registry.top("submit", cmd_submit, "upload a sealed bid (resumable), finalize, verify the receipt")
    submit_parser.add_argument("file", help="the sealed bid (.etb) made by `etender seal`")
    submit_options(submit_parser)
    replace = registry.top("replace", cmd_replace, "seal and submit a new bid that supersedes your standing one")
    seal_options(replace)
    submit_options(replace)
    withdraw = registry.top("withdraw", cmd_withdraw, "withdraw a bid before the deadline")
    withdraw.add_argument("bid_id")
    withdraw.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    withdraw.add_argument(
        "--receipt", type=Path, help="where to save the withdrawal's receipt (default: BID_ID.withdrawal.json here)"
    )
    bids = registry.group("bids", "your organization's bids")
    bids_list = registry.command(bids, "list", cmd_bids_list, "your organization's bids and their status")
    bids_list.add_argument("--tender", help="only this tender's")
    index = registry.command(
        bids,
        "index",
        cmd_bids_index,
        "write a response index to fill in (评审因素定位): each criterion and required document of the tender",
    )
    index.add_argument("folder", help="the bid folder")
    index.add_argument("--tender", required=True, help="the tender's id (UUID)")
    index.add_argument("--out", help="where to write it (default <folder>.response-index.json beside the folder)")
    index.add_argument("--force", action="store_true", help="overwrite --out if it exists")
