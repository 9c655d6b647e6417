"""``etender tenders …``: tenders open for bids, one tender's deadline, lots and custodians."""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from tendering.client import keys as keystore
from tendering.client.commands.base import OPEN_FOR_BIDS, Registry, Session, human_size, say, when
from tendering.client.transport import ClientError
from tendering.method import MethodInvalid, validate_method
from tendering.sealing import fingerprint


def cmd_tenders_list(args: argparse.Namespace, session: Session) -> int:
    query = {"limit": "100"}
    if args.q:
        query["q"] = args.q
    if not args.all:
        query["phase"] = OPEN_FOR_BIDS
    found = session.transport(authenticated=False).request("GET", "/api/tenders", query=query).data
    if not found:
        say("no tenders open for bids" + (f" matching {args.q!r}" if args.q else "") if not args.all else "no tenders")
        return 0
    for tender in found:
        say(f"{tender['id']}  {tender['number']}  [{tender['phase']}]  deadline {when(tender['bid_deadline'])}")
        say(f"    {tender['title']} — {tender['tenderer']}")
    return 0


def check_tender_id(tender_id: str) -> str:
    """The tender's UUID as the platform writes it; refuses anything else."""
    try:
        return str(uuid.UUID(tender_id))
    except ValueError:
        raise ClientError(f"a tender id is its UUID (see `etender tenders list`), not {tender_id!r}") from None


def fetch_tender(session: Session, tender_id: str) -> dict[str, Any]:
    wanted = check_tender_id(tender_id)
    tender: dict[str, Any] = session.transport(authenticated=False).request("GET", f"/api/tenders/{wanted}").data
    if str(tender.get("id")) != wanted:
        # Everything sealed or signed names the tender: it must be the one asked for, not what was served.
        raise ClientError(f"the platform answered for tender {wanted} with tender {tender.get('id')}")
    return tender


def checked_custodians(tender: dict[str, Any]) -> list[tuple[int, str, Any, str]]:
    """(position, name, public key, fingerprint) in published order;
    refuses keys that do not match their fingerprints.
    """
    found = []
    for slot in sorted(tender.get("custodians") or [], key=lambda s: s["position"]):
        if not slot.get("public_key") or not slot.get("key_fingerprint"):
            raise ClientError(f"custodian {slot['name']} (position {slot['position']}) has no published key")
        key = keystore.public_key_from_pem(slot["public_key"], f"custodian {slot['name']}'s published key")
        actual = fingerprint(key)
        if actual != slot["key_fingerprint"]:
            raise ClientError(
                f"custodian {slot['name']}'s published key has fingerprint {actual}, but the tender names "
                f"{slot['key_fingerprint']}: refusing to seal to it"
            )
        found.append((slot["position"], slot["name"], key, actual))
    return found


def say_method(tender: dict[str, Any]) -> None:
    """The evaluation method as published: its price rule, criteria and the documents a bid must hold."""
    if not tender.get("method"):
        say("  method        none published yet")
        return
    try:
        method = validate_method(tender["method"], tender["evaluation_method"])
    except MethodInvalid as exc:
        say(f"  method        not readable: {exc}")
        return
    price = method.price
    weight = f" (weight {price.weight})" if method.scored else ""
    say(
        f"  method        price rule {price.rule}{weight}" + (", anonymous technical part" * method.anonymous_technical)
    )
    if price.rule == "benchmark":
        factors = ", ".join(str(f) for f in price.factors)
        say(f"    benchmark factor K one of {factors}; -{price.deduct_above} per % above, -{price.deduct_below} below")
    for criterion in method.criteria:
        say(
            f"    {criterion.id} {criterion.title}  {criterion.kind}  weight {criterion.weight}  "
            f"scores {criterion.min_score}-{criterion.max_score}"
        )
    say("  required documents (一次性告知: the bid folder must hold each)")
    for item, document in method.required_documents():
        say(f"    {document.id} {document.name}  (for {item.id} {item.title})")
    if not method.required_documents():
        say("    none")


def cmd_tenders_show(args: argparse.Namespace, session: Session) -> int:
    tender = fetch_tender(session, args.tender_id)
    say(f"{tender['number']}  {tender['title']}")
    say(f"  id            {tender['id']}")
    say(f"  tenderer      {tender['tenderer']}" + (f" (agency: {tender['agency']})" if tender.get("agency") else ""))
    say(f"  procedure     {tender['procedure_type']}, evaluation {tender['evaluation_method']}")
    say(f"  phase         {tender['phase']}")
    say(f"  budget        {tender['budget']} yuan")
    say(f"  enquiries by  {when(tender['enquiry_deadline'])}")
    say(f"  bid deadline  {when(tender['bid_deadline'])}")
    say(f"  opening       {when(tender['opening_time'])}")
    lots = tender.get("lots") or []
    say("  lots" + ("          none published: the whole tender is lot 1" if not lots else ""))
    for lot in lots:
        say(f"    lot {lot['number']}: {lot['name']} (budget {lot['budget']} yuan)")
    custodians = tender.get("custodians") or []
    say(
        f"  custodians    {tender['custodian_threshold']} of {len(custodians)} open a bid together "
        f"(k = {tender['custodian_threshold']})"
    )
    for slot in custodians:
        say(f"    {slot['position']}: {slot['name']}  {slot.get('key_fingerprint') or '(no key yet)'}")
    say_method(tender)
    if tender.get("documents"):
        say("  documents")
        for doc in tender["documents"]:
            say(f"    {doc['name']}  {human_size(doc['size'])}  sha256 {doc['sha256']}")
    if tender.get("amendments"):
        say("  amendments")
        for amendment in tender["amendments"]:
            say(f"    #{amendment['number']} {when(amendment['issued_at'])}: {amendment['summary']}")
    return 0


def register(registry: Registry) -> None:
    tenders = registry.group("tenders", "tenders open for bids")
    listing = registry.command(tenders, "list", cmd_tenders_list, "tenders open for bids")
    listing.add_argument("--q", help="search in number, title and tenderer")
    listing.add_argument("--all", action="store_true", help="every published tender, not only those open for bids")
    show = registry.command(tenders, "show", cmd_tenders_show, "a tender's deadline, lots and custodians")
    show.add_argument("tender_id")
