"""``etender``: the bidder's command-line client, also the custodian's at the opening (docs/cli.md).

Exit status: 0 done, 1 refused or failed (the reason is printed), 2 bad usage.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import getpass
import hashlib
import json
import os
import platform
import re
import sys
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from accounts.key_certificates import key_subject, spki_of, subject_serial_number
from tendering.client import keys as keystore
from tendering.client.config import PLATFORM_CERT_FILE, Config, home_folder, write_atomic
from tendering.client.custody import (
    CustodyCheck,
    answer_key_proof,
    b64encode,
    check_custody,
    custody_slots,
    custody_statement,
    sign_statement,
)
from tendering.client.opening import (
    KEY_IN_HAND,
    HallBid,
    addressed_elsewhere,
    bidder_file_key,
    check_local_clock,
    custodian_parts,
    custodian_position,
    display_zone,
    hall_bids,
    remember_opening_time,
    remembered_opening_time,
)
from tendering.client.prices import PriceEntry, build_lots, load_price_file, parse_price_option, tender_lot_ids
from tendering.client.progress import Progress
from tendering.client.transport import ApiError, ClientError, HttpTransport, Transport, normalize_url
from tendering.client.trust import (
    TrustList,
    certificate_fingerprint,
    describe_certificate,
    describe_name,
    load_certificates,
)
from tendering.client.upload import RateLimiter, SealedFiles, Submitted, Uploader, receipt_subject_problem
from tendering.sealing import PriceSummary, SealingError, fingerprint, parse_manifest, seal_bid

MiB = 1024 * 1024
OPEN_FOR_BIDS = "open_for_bids"
KEYS_PATH = "/api/accounts/keys"
KEY_CA_PATH = "/api/pki/key-ca"


# --- helpers ----------------------------------------------------------------------------


def say(text: str = "") -> None:
    print(text, flush=True)


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# The zone times are printed in: Beijing time, or the tender's when the platform names one
# (never this machine's own zone: a bidder abroad reads the tender's times as published).
_display_zone = display_zone(None)


def use_zone(name: str | None) -> None:
    global _display_zone
    _display_zone = display_zone(name)


def when(value: str | None) -> str:
    """An API time (ISO 8601) in Beijing time (or the tender's zone), with its offset."""
    if not value:
        return "-"
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return value
    return moment.astimezone(_display_zone).strftime("%Y-%m-%d %H:%M:%S %z")


def human_size(size: int) -> str:
    if size >= MiB:
        return f"{size / MiB:,.1f} MiB"
    return f"{size:,} bytes"


class Session:
    """Where the client's files are and how to reach the platform, from options, environment and config."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.home = home_folder(getattr(args, "home", None))
        self.config = Config.load(self.home)
        url = getattr(args, "url", None) or os.environ.get("ETENDER_URL") or self.config.url
        self.url = normalize_url(url) if url else ""
        self.token = getattr(args, "token", None) or os.environ.get("ETENDER_TOKEN") or ""
        if not self.token and self.url == self.config.url:
            self.token = self.config.token  # the stored token goes only to the platform it came from
        self._transport: Transport | None = None

    def pinned_trust(self) -> tuple[bytes, bytes | None] | None:
        """The anchors pinned at login, if they belong to the platform in use."""
        if self.url and self.url != self.config.url:
            return None
        return self.config.pinned_trust()

    def transport(self, *, authenticated: bool = True) -> Transport:
        if not self.url:
            raise ClientError("no platform URL: run `etender login --url URL --username NAME` (or set ETENDER_URL)")
        if authenticated and not self.token:
            raise ClientError("not logged in: run `etender login` (or give --token / set ETENDER_TOKEN)")
        if self._transport is None:
            self._transport = HttpTransport(self.url, self.token or None)
        return self._transport

    def get(self, path: str, **query: str) -> Any:
        return self.transport().request("GET", path, query=query or None).data

    def post(self, path: str, body: Any = None, *, timeout: float | None = None) -> Any:
        return self.transport().request("POST", path, json_body=body, timeout=timeout).data


def read_secret(
    what: str, env: str, *, file: Path | None = None, confirm: bool = False, prompt: str | None = None
) -> bytes:
    """A secret from ``--…-file``, the environment variable ``env``, or the terminal (twice if ``confirm``)."""
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ClientError(f"cannot read the {what} file {file}: {exc.strerror}") from None
        return text.splitlines()[0].encode() if text else b""
    if os.environ.get(env):
        return os.environ[env].encode()
    if not sys.stdin.isatty():
        raise ClientError(
            f"no {what}: not on a terminal, so set {env} (or use the --{what}-file option where there is one)"
        )
    first = getpass.getpass(prompt or f"{what.capitalize()}: ")
    if confirm and getpass.getpass(f"{what.capitalize()} again: ") != first:
        raise ClientError(f"the two {what}s differ")
    return first.encode()


def parse_rate(text: str) -> float:
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMG]?)i?B?(?:/s)?\s*", text, re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a rate: {text!r} (e.g. 500K, 20M, 1G bytes per second)")
    return float(match.group(1)) * {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB}[match.group(2).upper()]


def bar(label: str, total: int, start: int = 0) -> Progress:
    return Progress(label, total, start=start)


# --- login, logout, whoami ------------------------------------------------------------------


def cmd_login(args: argparse.Namespace, session: Session) -> int:
    given = getattr(args, "url", None) or session.url
    if not given:
        raise ClientError("give the platform's address: --url https://…")
    url = normalize_url(given)
    transport = HttpTransport(url)
    trust = transport.request("GET", "/api/archive/trust", timeout=30).data
    anchors = "".join(trust.get("trust_anchors") or [])
    tsa = "".join(trust.get("tsa_trust_anchors") or [])
    if not anchors.strip():
        raise ClientError(f"{url} published no trust anchors for its receipts")
    pinned = session.config.pinned_trust()
    same_platform = session.config.url == url
    if pinned and same_platform and not args.repin:
        old_anchors, old_tsa = pinned
        if old_anchors != anchors.encode() or (old_tsa or b"") != tsa.encode():
            raise ClientError(
                f"{url} now presents other trust anchors than those pinned at the last login "
                f"({session.config.trust_path}). "
                "Receipts would be checked against different certificates. If the platform announced a change of "
                "certificates through another channel, log in again with --repin; otherwise do not trust this server."
            )
    token = getattr(args, "token", None) or os.environ.get("ETENDER_TOKEN")
    username = args.username or os.environ.get("ETENDER_USERNAME") or (session.config.username if same_platform else "")
    if token:
        transport.token = token
    else:
        if not username:
            raise ClientError("give --username (or --token)")
        password = read_secret("password", "ETENDER_PASSWORD", prompt=f"Password for {username} at {url}: ").decode()
        name = f"etender CLI on {platform.node() or 'this computer'}"[:100]
        issued = transport.request(
            "POST", "/api/accounts/tokens", json_body={"name": name}, basic_auth=(username, password)
        ).data
        transport.token = issued["token"]
        note(f"token {issued['name']!r} issued, valid until {when(issued['expires_at'])}")
    me = transport.request("GET", "/api/accounts/me").data
    config = session.config
    config.url, config.username, config.token = url, me["username"], transport.token or ""
    config.pin_trust(anchors, tsa, trust.get("platform_certificate") or "")
    config.save()
    organization = f" of {me['organization']}" if me.get("organization") else ""
    say(f"logged in to {url} as {me['username']} ({me['display_name']}{organization})")
    roles = me.get("roles") or []
    if "custodian" in roles:
        note(
            "note: as a custodian you need an encryption key and a signing key made here and registered before a "
            "tender names you (etender keys generate / keys register --purpose encryption, then signing), your "
            "signing key certified by the trading centre's CA (etender keys csr; etender keys certify FILE), "
            "and to confirm each tender that names you: etender custodian confirm TENDER"
        )
    elif "bidder" not in roles:
        note("note: this account has no bidder role; it cannot seal or submit bids")
    if "bidder" in roles and TrustList.load(session.home).empty:
        note(f"note: before sealing, custodians' confirmations are checked against your own trust list; {TRUST_HOWTO}")
    say(f"trust anchors pinned in {config.folder} (receipts are verified against them, offline)")
    if trust.get("development"):
        note("warning: this platform uses a DEVELOPMENT certificate authority: its receipts prove nothing to others")
    return 0


def cmd_logout(args: argparse.Namespace, session: Session) -> int:
    config = session.config
    if not config.token:
        say("not logged in")
        return 0
    revoked = False
    if session.url == config.url:
        try:
            HttpTransport(config.url, config.token).request("POST", "/api/accounts/tokens/current/revoke")
            revoked = True
        except ClientError as exc:
            say(f"could not revoke the token on the platform ({exc})")
    config.token = ""
    config.save()
    if revoked:
        say(f"token revoked on the platform and removed from {config.path}")
    else:
        say(
            f"token removed from {config.path}. It stays valid on the platform until it expires; "
            "revoke it on the platform's API tokens page if this computer is not trusted."
        )
    return 0


def cmd_whoami(args: argparse.Namespace, session: Session) -> int:
    me = session.get("/api/accounts/me")
    say(f"{me['username']} ({me['display_name']}) at {session.url}")
    say(f"organization: {me.get('organization') or '-'} ({me.get('organization_kind') or '-'})")
    say(f"roles: {', '.join(me.get('roles') or []) or '-'}")
    return 0


# --- keys --------------------------------------------------------------------------------------


def cmd_keys_generate(args: argparse.Namespace, session: Session) -> int:
    keystore.check_purpose(args.purpose)
    keystore.check_name(args.name)
    keystore.ensure_new(session.home, args.purpose, args.name)  # before asking for a passphrase
    passphrase = read_secret(
        "passphrase",
        "ETENDER_PASSPHRASE",
        file=args.passphrase_file,
        confirm=True,
        prompt=f"Passphrase to protect the new {args.purpose} key: ",
    )
    key = keystore.generate_key(session.home, args.purpose, args.name, passphrase)
    say(f"{args.purpose} key {args.name!r} generated (P-256)")
    say(f"  fingerprint {key.fingerprint()}")
    say(f"  private key {key.private_path} (encrypted with your passphrase)")
    say(f"  public key  {key.public_path}")
    say(f"register it: etender keys register --purpose {args.purpose} --name {args.name}")
    return 0


def cmd_keys_register(args: argparse.Namespace, session: Session) -> int:
    key = keystore.existing_key(session.home, args.purpose, args.name)
    local = key.fingerprint()
    label = args.label if args.label is not None else f"etender {args.name}"
    me = session.get("/api/accounts/me")
    # The proof is made here: a signing key signs the platform's challenge, an encryption key opens the
    # secret the platform sealed to it. Either needs the private key, so the passphrase.
    passphrase = read_secret(
        "passphrase",
        "ETENDER_PASSPHRASE",
        file=args.passphrase_file,
        prompt=f"Passphrase of {args.purpose} key {args.name!r}: ",
    )
    private = key.private_key(passphrase)
    challenge = session.post(f"{KEYS_PATH}/challenges", {"purpose": args.purpose, "public_key": key.public_pem()})
    proof = answer_key_proof(challenge, args.purpose, private, me["username"], me.get("organization_credit_code") or "")
    registered = session.post(
        KEYS_PATH, {"purpose": args.purpose, "public_key": key.public_pem(), "label": label, "proof": proof}
    )
    if registered["fingerprint"] != local:
        raise ClientError(f"the platform registered fingerprint {registered['fingerprint']}, not this key's {local}")
    say(f"{args.purpose} key {args.name!r} registered (id {registered['id']}): fingerprint {local}")
    say(f"  proof of possession made here ({'signature' if args.purpose == 'signing' else 'sealed secret opened'})")
    show_certificate(registered, local)
    if args.purpose == "signing" and not registered.get("certificate"):
        say(f"  get it certified: etender keys csr --name {args.name}, then etender keys certify CERTIFICATE")
    return 0


def show_certificate(registered: dict[str, Any], local_fingerprint: str) -> None:
    """The certificate the platform holds for a key, described; a warning if it certifies another key."""
    pem = registered.get("certificate")
    if not pem:
        say("  certificate: none held by the platform")
        return
    certificate = load_certificates(str(pem).encode("ascii"), "the platform's certificate for the key")[0]
    say(f"  certificate: {describe_certificate(certificate)}")
    say(f"    SHA-256 {certificate_fingerprint(certificate)}")
    if hashlib.sha256(spki_of(certificate)).hexdigest() != local_fingerprint:
        note("  warning: that certificate is for ANOTHER key than this one")


def me_subject(me: dict[str, Any]) -> x509.Name:
    """The subject a key certificate must carry (docs/custody.md §B): CN name, serialNumber user name, O."""
    return key_subject(me["username"], me.get("display_name") or me["username"], me.get("organization") or "")


def cmd_keys_csr(args: argparse.Namespace, session: Session) -> int:
    key = keystore.existing_key(session.home, "signing", args.name)
    out = Path(args.out) if args.out else key.public_path.with_name(f"signing-{args.name}.csr.pem")
    if out.exists() and not args.force:
        raise ClientError(f"{out} exists: choose another --out, or --force")
    me = session.get("/api/accounts/me")
    subject = me_subject(me)
    passphrase = read_secret(
        "passphrase",
        "ETENDER_PASSPHRASE",
        file=args.passphrase_file,
        prompt=f"Passphrase of signing key {args.name!r}: ",
    )
    private = key.private_key(passphrase)
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(private, hashes.SHA256())
    write_atomic(out, request.public_bytes(serialization.Encoding.PEM), 0o644)
    say(f"certificate request for signing key {args.name!r} written to {out}")
    say(f"  subject     {describe_name(subject)}")
    say(f"  fingerprint {key.fingerprint()}")
    say("hand it to the trading centre's CA (CA数字证书); then: etender keys certify CERTIFICATE")
    return 0


def cmd_keys_certify(args: argparse.Namespace, session: Session) -> int:
    try:
        data = Path(args.certificate).read_bytes()
    except OSError as exc:
        raise ClientError(f"cannot read {args.certificate}: {exc.strerror}") from None
    certificate = load_certificates(data, str(args.certificate))[0]
    key = keystore.existing_key(session.home, args.purpose, args.name)
    local = key.fingerprint()
    if hashlib.sha256(spki_of(certificate)).hexdigest() != local:
        raise ClientError(
            f"{args.certificate} certifies another key than your {args.purpose} key {args.name!r} ({local}): not sent"
        )
    me = session.get("/api/accounts/me")
    if subject_serial_number(certificate) != me["username"]:
        raise ClientError(
            f"{args.certificate} names serialNumber {subject_serial_number(certificate)!r}, not your user name "
            f"{me['username']!r}: bidders would not trust it for you. Not sent"
        )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    registered = session.post(f"{KEYS_PATH}/{local}/certificate", {"certificate": pem})
    say(f"certificate attached to your {args.purpose} key {args.name!r} ({local})")
    show_certificate(registered, local)
    return 0


def cmd_keys_list(args: argparse.Namespace, session: Session) -> int:
    local = keystore.local_keys(session.home)
    server: list[dict[str, Any]] | None = None
    if session.url and session.token:
        server = session.get(KEYS_PATH)
    by_fingerprint = {k["fingerprint"]: k for k in server or []}
    say(f"local keys ({keystore.keys_folder(session.home)}):")
    if not local:
        say("  none: etender keys generate --purpose signing|encryption")
    for key in local:
        fp = key.fingerprint()
        if server is None:
            state = "(not checked: not logged in)"
        elif fp not in by_fingerprint:
            state = "NOT REGISTERED"
        elif by_fingerprint[fp]["revoked_at"]:
            state = f"revoked {when(by_fingerprint[fp]['revoked_at'])}"
        else:
            state = f"registered, id {by_fingerprint[fp]['id']}"
            if by_fingerprint[fp].get("certificate"):
                state += ", certified"
        warning = " (WARNING: readable by others)" if keystore.loose_permissions(key.private_path) else ""
        say(f"  {key.purpose:<10} {key.name:<16} {fp}  {state}{warning}")
    if server is not None:
        say(f"registered on {session.url}:")
        if not server:
            say("  none")
        for item in server:
            revoked = f", revoked {when(item['revoked_at'])}" if item.get("revoked_at") else ""
            say(
                f"  {item['purpose']:<10} id {item['id']:<5} {item['fingerprint']}  "
                f"{item.get('label') or ''} (registered {when(item['registered_at'])}{revoked})"
            )
    return 0


# --- the trust list (custodians' signing keys) ----------------------------------------------------


def platform_certificates(session: Session) -> list[x509.Certificate]:
    """The platform's own certificates pinned at login (receipt and TSA anchors, its signer): never custody anchors."""
    found: list[x509.Certificate] = []
    for path in (session.config.trust_path, session.config.tsa_trust_path, session.home / PLATFORM_CERT_FILE):
        data = path.read_bytes() if path.exists() else b""
        if data.strip():
            found.extend(load_certificates(data, str(path)))
    return found


def cmd_trust_add_ca(args: argparse.Namespace, session: Session) -> int:
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise ClientError(f"cannot read {args.file}: {exc.strerror}") from None
    trust = TrustList.load(session.home)
    added = [
        c for c in load_certificates(data, str(args.file)) if trust.add_ca(c, refused=platform_certificates(session))
    ]
    trust.save()
    for certificate in added:
        say(f"CA added: {describe_certificate(certificate)}")
        say(f"  SHA-256 {certificate_fingerprint(certificate)} (compare it with the one the CA publishes)")
    if not added:
        say(f"already in the trust list ({trust.path})")
    return 0


def cmd_trust_pin(args: argparse.Namespace, session: Session) -> int:
    trust = TrustList.load(session.home)
    added = trust.pin(args.username, args.fingerprint)
    trust.save()
    fp = args.fingerprint.strip().lower().replace(":", "")
    say(f"{'pinned' if added else 'already pinned'}: signing key {fp} for custodian {args.username}")
    return 0


def cmd_trust_remove(args: argparse.Namespace, session: Session) -> int:
    trust = TrustList.load(session.home)
    if args.what == "ca":
        removed = trust.remove_ca(args.name)
        trust.save()
        say(f"CA removed: {describe_certificate(removed)}")
    else:
        fingerprints = trust.unpin(args.name, args.fingerprint)
        trust.save()
        for fp in fingerprints:
            say(f"unpinned: signing key {fp} for custodian {args.name}")
    return 0


def cmd_trust_list(args: argparse.Namespace, session: Session) -> int:
    trust = TrustList.load(session.home)
    say(f"trust list for custodians' signing keys ({trust.path}):")
    say(f"CAs ({len(trust.cas)})" + ("" if trust.cas else ": none"))
    for certificate in trust.cas:
        say(f"  {certificate_fingerprint(certificate)}  {describe_certificate(certificate)}")
    pins = [(user, fp) for user, fps in sorted(trust.pins.items()) for fp in fps]
    say(f"pinned signing keys ({len(pins)})" + ("" if pins else ": none"))
    for user, fp in pins:
        say(f"  {user:<20} {fp}")
    if trust.empty:
        say(TRUST_HOWTO)
    if args.platform:
        # For information only: what the platform says it is configured with is never imported.
        served = session.transport(authenticated=False).request("GET", KEY_CA_PATH).data
        certificates = [
            c for pem in served.get("certificates") or [] for c in load_certificates(pem.encode(), KEY_CA_PATH)
        ]
        say(f"the platform's key CAs ({session.url}{KEY_CA_PATH}, informative, NOT trusted from here):")
        for certificate in certificates:
            mark = "in your list" if certificate in trust.cas else "not in your list"
            say(f"  {certificate_fingerprint(certificate)}  {describe_certificate(certificate)}  [{mark}]")
        if not certificates:
            say("  none")
    return 0


TRUST_HOWTO = (
    "no trust configured for custodians' signing keys: add the trading centre's CA with "
    "`etender trust add-ca FILE` (a file you got from the CA, not from the platform), or pin each custodian's "
    "signing key with `etender trust pin USERNAME FINGERPRINT` (the fingerprint as the custodian told you)"
)


# --- tenders -------------------------------------------------------------------------------------


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
    if tender.get("documents"):
        say("  documents")
        for doc in tender["documents"]:
            say(f"    {doc['name']}  {human_size(doc['size'])}  sha256 {doc['sha256']}")
    if tender.get("amendments"):
        say("  amendments")
        for amendment in tender["amendments"]:
            say(f"    #{amendment['number']} {when(amendment['issued_at'])}: {amendment['summary']}")
    return 0


# --- seal, submit, replace -------------------------------------------------------------------------


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


def registered_fingerprints(session: Session) -> dict[str, set[str]]:
    active: dict[str, set[str]] = {"signing": set(), "encryption": set()}
    for item in session.get(KEYS_PATH):
        if not item.get("revoked_at"):
            active.setdefault(item["purpose"], set()).add(item["fingerprint"])
    return active


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


def seal(args: argparse.Namespace, session: Session) -> Path:
    """Seal ``args.source`` for ``args.tender``; returns the sealed bid's path."""
    source = Path(args.source)
    if not source.exists():
        raise ClientError(f"{source} does not exist")
    entries = price_entries(args)  # refuse bad prices before anything is fetched or asked
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
                str(source),
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


def verify_with_pins(session: Session, receipt: bytes) -> Any:
    from archive.verify import verify_receipt

    pinned = session.pinned_trust()
    if pinned is None:
        return None
    anchors, tsa = pinned
    return verify_receipt(receipt, anchors, tsa_trusted_pem=tsa)


def report_receipt(session: Session, files: SealedFiles, receipt: bytes) -> int:
    """Verify a freshly saved receipt with the pinned anchors and that it names this bid; print the outcome."""
    manifest_bytes = files.manifest.read_bytes()
    manifest = parse_manifest(manifest_bytes)
    problem = receipt_subject_problem(receipt, manifest, manifest_bytes)
    if problem:
        say(f"FAILED: the receipt in {files.receipt} is not this bid's: {problem}")
        return 1
    result = verify_with_pins(session, receipt)
    subject = json.loads(receipt)["subject"]
    seq = json.loads(receipt)["ledger"]["seq"]
    if result is None:
        note(
            f"warning: receipt NOT verified: no trust anchors of {session.url} pinned in {session.home} "
            "(`etender login` pins them; then `etender receipt verify` checks it)"
        )
    elif not result.ok:
        say(f"FAILED: the receipt saved in {files.receipt} does not verify: {result.reason}")
        return 1
    else:
        stamped = result.time.strftime("%Y-%m-%d %H:%M:%S UTC") if result.time else "?"
        say(f"receipt verified (time-stamped {stamped}): {files.receipt}")
    say(f"ledger position {seq}")
    say(f"ciphertext SHA-256 {subject['ciphertext_sha256']}")
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
        connect=lambda: HttpTransport(url, token),
        pipeline=1 if args.sequential else 2,
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


# --- bids ---------------------------------------------------------------------------------------------


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


# --- receipt verify (offline) ----------------------------------------------------------------------------


def cmd_receipt_verify(args: argparse.Namespace, session: Session) -> int:
    from archive.verify import verify_receipt

    try:
        receipt = Path(args.receipt).read_bytes()
        if args.ca:
            anchors: bytes = args.ca.read_bytes()
            tsa = args.tsa_ca.read_bytes() if args.tsa_ca else None
        else:
            pinned = session.config.pinned_trust()
            if pinned is None:
                raise ClientError(
                    f"no trust anchors pinned in {session.home}: log in once, or give --ca (and --tsa-ca)"
                )
            anchors, tsa = pinned
            if args.tsa_ca:
                tsa = args.tsa_ca.read_bytes()
    except OSError as exc:
        say(f"FAILED: cannot read {exc.filename}: {exc.strerror}")
        return 1
    result = verify_receipt(receipt, anchors, tsa_trusted_pem=tsa)
    if not result.ok:
        say(f"FAILED: {result.reason}")
        return 1
    assert result.entry is not None and result.time is not None and result.subject is not None
    say(f"OK: ledger entry {result.seq} ({result.entry['action']}) in the tree of {result.tree_size} entries")
    say(f"time-stamped {result.time.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}")
    say(f"subject {json.dumps(result.subject, ensure_ascii=False, sort_keys=True)}")
    name = Path(args.receipt).name
    if name.endswith(".receipt.json"):
        files = SealedFiles(Path(args.receipt).with_name(name[: -len(".receipt.json")]))
        if files.manifest.exists():
            manifest_bytes = files.manifest.read_bytes()
            problem = receipt_subject_problem(receipt, parse_manifest(manifest_bytes), manifest_bytes)
            if problem:
                say(f"FAILED: the receipt does not name the sealed bid {files.bid}: {problem}")
                return 1
            say(f"names the sealed bid {files.bid} (manifest SHA-256 {hashlib.sha256(manifest_bytes).hexdigest()})")
    return 0


# --- the opening (开标) ----------------------------------------------------------------------------------------


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
    say(f"{tender_line(hall)}: opening time {when(hall['tender']['opening_time'])} ({_display_zone.key})")
    # The platform's clock opened the hall; this machine's own must agree before any key leaves it.
    check_local_clock(
        hall["tender"]["opening_time"],
        _display_zone,
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
                if exc.code == "key_already_ready":
                    say(f"{bid.label}: already released ({exc.message})")
                else:
                    say(f"{bid.label}: refused: {exc.describe()}")
                    failures += 1
                continue
            say(f"{bid.label}: released ({released['state']}): the platform decrypts it now")
    if failures:
        note(f"{failures} of {len(bids)} bid(s) not released")
    return 1 if failures else 0


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
    say(f"{tender_line(hall)}: opening time {when(tender['opening_time'])} ({_display_zone.key})")
    # The platform's clock opened the hall; this machine's own must agree before any part leaves it.
    check_local_clock(
        tender["opening_time"],
        _display_zone,
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


# --- the parser --------------------------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home", default=argparse.SUPPRESS, help="the client's folder (default $ETENDER_HOME or ~/.config/etender)"
    )
    common.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help="the platform's address (default: the one logged in to, or $ETENDER_URL)",
    )
    common.add_argument(
        "--token", default=argparse.SUPPRESS, help="an API token instead of the stored one (or $ETENDER_TOKEN)"
    )
    return common


def _seal_options(parser: argparse.ArgumentParser) -> None:
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


def _submit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit-rate", type=parse_rate, metavar="RATE", help="upload at most RATE bytes/s (e.g. 2M)")
    parser.add_argument("--retries", type=int, default=5, help="retries of a part after a network failure (default 5)")
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="wait for each part's answer before sending the next (default: the next part is sent meanwhile)",
    )


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = Parser(
        prog="etender",
        description="The bidder's client of the eTender platform: keys, tenders, sealed bids, receipts, the opening "
        "(bidders and custodians).",
        parents=[common],
        epilog="Exit status: 0 done, 1 refused or failed, 2 bad usage. See docs/cli.md.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    def command(
        group: Any, name: str, handler: Callable[[argparse.Namespace, Session], int], text: str
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, parents=[common], help=text, description=text)
        sub.set_defaults(handler=handler)
        return sub

    login = command(commands, "login", cmd_login, "get an API token, store it, and pin the platform's trust anchors")
    login.add_argument("--username", help="your user name (password from the terminal or $ETENDER_PASSWORD)")
    login.add_argument("--repin", action="store_true", help="accept trust anchors that differ from those pinned before")
    command(commands, "logout", cmd_logout, "forget the stored token")
    command(commands, "whoami", cmd_whoami, "show the account the token belongs to")

    keys = commands.add_parser("keys", help="your signing and encryption keys").add_subparsers(
        dest="keys_command", required=True, metavar="ACTION", parser_class=Parser
    )
    generate = command(
        keys, "generate", cmd_keys_generate, "make a P-256 key here, private key encrypted with a passphrase"
    )
    register = command(keys, "register", cmd_keys_register, "register a local key's public key with the platform")
    for sub in (generate, register):
        sub.add_argument("--purpose", required=True, choices=keystore.PURPOSES)
        sub.add_argument("--name", default=keystore.DEFAULT_NAME, help="the key's local name (default: default)")
    generate.add_argument("--passphrase-file", type=Path, help="read the passphrase from this file's first line")
    register.add_argument("--label", help="a note shown on the platform (default: etender NAME)")
    register.add_argument(
        "--passphrase-file", type=Path, help="read the key's passphrase (for its proof of possession) from this file"
    )
    command(keys, "list", cmd_keys_list, "local keys and the keys registered on the platform")
    csr = command(keys, "csr", cmd_keys_csr, "write a certificate request (PKCS#10) of your signing key for the CA")
    csr.add_argument("--name", default=keystore.DEFAULT_NAME, help="the signing key's local name (default: default)")
    csr.add_argument("--out", help="the request's file (default: keys/signing-NAME.csr.pem)")
    csr.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    csr.add_argument("--passphrase-file", type=Path, help="read the key's passphrase from this file's first line")
    certify = command(keys, "certify", cmd_keys_certify, "attach the certificate the CA issued for your key")
    certify.add_argument("certificate", help="the certificate file (PEM or DER) the CA gave you")
    certify.add_argument(
        "--purpose", default="signing", choices=keystore.PURPOSES, help="the key's purpose (default: signing)"
    )
    certify.add_argument("--name", default=keystore.DEFAULT_NAME, help="the key's local name (default: default)")

    trust = commands.add_parser(
        "trust", help="your own trust in custodians' signing keys (CAs, pinned keys)"
    ).add_subparsers(dest="trust_command", required=True, metavar="ACTION", parser_class=Parser)
    add_ca = command(trust, "add-ca", cmd_trust_add_ca, "trust custodians' certificates issued by this CA (a file)")
    add_ca.add_argument("file", help="the CA's certificate(s), PEM or DER, as the trading centre's CA publishes it")
    pin = command(trust, "pin", cmd_trust_pin, "trust this signing key for this custodian (as the custodian told you)")
    pin.add_argument("username", help="the custodian's user name on the platform")
    pin.add_argument("fingerprint", help="SHA-256 fingerprint of the custodian's signing key (64 hex digits)")
    trust_list = command(trust, "list", cmd_trust_list, "the CAs and pinned keys you trust")
    trust_list.add_argument(
        "--platform", action="store_true", help="also show the key CAs the platform names (informative, not trusted)"
    )
    remove = command(trust, "remove", cmd_trust_remove, "remove a CA (by its SHA-256) or a custodian's pinned keys")
    remove.add_argument("what", choices=("ca", "pin"))
    remove.add_argument("name", help="ca: the CA certificate's SHA-256 (see `etender trust list`); pin: the user name")
    remove.add_argument("fingerprint", nargs="?", help="pin: only this fingerprint (default: every one of that user)")

    tenders = commands.add_parser("tenders", help="tenders open for bids").add_subparsers(
        dest="tenders_command", required=True, metavar="ACTION", parser_class=Parser
    )
    listing = command(tenders, "list", cmd_tenders_list, "tenders open for bids")
    listing.add_argument("--q", help="search in number, title and tenderer")
    listing.add_argument("--all", action="store_true", help="every published tender, not only those open for bids")
    show = command(tenders, "show", cmd_tenders_show, "a tender's deadline, lots and custodians")
    show.add_argument("tender_id")

    _seal_options(command(commands, "seal", cmd_seal, "seal a bid folder or file for a tender"))
    submit_parser = command(
        commands, "submit", cmd_submit, "upload a sealed bid (resumable), finalize, verify the receipt"
    )
    submit_parser.add_argument("file", help="the sealed bid (.etb) made by `etender seal`")
    _submit_options(submit_parser)
    replace = command(commands, "replace", cmd_replace, "seal and submit a new bid that supersedes your standing one")
    _seal_options(replace)
    _submit_options(replace)
    withdraw = command(commands, "withdraw", cmd_withdraw, "withdraw a bid before the deadline")
    withdraw.add_argument("bid_id")
    withdraw.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    bids = commands.add_parser("bids", help="your organization's bids").add_subparsers(
        dest="bids_command", required=True, metavar="ACTION", parser_class=Parser
    )
    bids_list = command(bids, "list", cmd_bids_list, "your organization's bids and their status")
    bids_list.add_argument("--tender", help="only this tender's")

    receipt = commands.add_parser("receipt", help="receipts").add_subparsers(
        dest="receipt_command", required=True, metavar="ACTION", parser_class=Parser
    )
    verify = command(receipt, "verify", cmd_receipt_verify, "check a receipt offline against the pinned trust anchors")
    verify.add_argument("receipt", help="the receipt (FILE.receipt.json)")
    verify.add_argument("--ca", type=Path, help="PEM trust anchors of the platform instead of the pinned ones")
    verify.add_argument("--tsa-ca", type=Path, help="PEM trust anchors of the time-stamp authority")

    hall = commands.add_parser("open", help="the opening (开标): release your bid's key, see the hall").add_subparsers(
        dest="open_command", required=True, metavar="ACTION", parser_class=Parser
    )
    release = command(
        hall, "release", cmd_open_release, "open your bid's key here with your encryption key and release it (bidder)"
    )
    status = command(hall, "status", cmd_open_status, "the opening hall now: bids, states, prices, custodians, moments")
    custodian = commands.add_parser(
        "custodian", help="a custodian's confirmation of a tender, and its parts at the opening"
    ).add_subparsers(dest="custodian_command", required=True, metavar="ACTION", parser_class=Parser)
    custodian_open = command(
        custodian, "open", cmd_custodian_open, "open your parts of every bid's key here and submit them all at once"
    )
    confirm = command(
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
    for sub in (release, status, custodian_open):
        sub.add_argument("tender_id", help="the tender's id (UUID)")
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
    for sub in (release, custodian_open):
        sub.add_argument(
            "--key", default=keystore.DEFAULT_NAME, metavar="NAME", help="local encryption key (default: default)"
        )
        sub.add_argument(
            "--passphrase-file", type=Path, help="read the encryption key's passphrase from this file's first line"
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        session = Session(args)
        status: int = args.handler(args, session)
        return status
    except ApiError as exc:
        note(f"error: {exc.describe()}")
    except ClientError as exc:
        note(f"error: {exc}")
    except SealingError as exc:
        note(f"error: cannot seal: {exc}")
    except KeyboardInterrupt:
        note(
            "interrupted"
            + ("; run the same `etender submit` again to resume" if args.command in ("submit", "replace") else "")
        )
    except OSError as exc:
        note(f"error: {exc.filename or ''}: {exc.strerror or exc}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
