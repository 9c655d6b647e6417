"""``etender trust …``: this machine's own trust in custodians' signing keys (CAs, pinned keys)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cryptography import x509

from tendering.client.commands.base import KEY_CA_PATH, Registry, Session, say
from tendering.client.config import PLATFORM_CERT_FILE
from tendering.client.transport import ClientError
from tendering.client.trust import TrustList, certificate_fingerprint, describe_certificate, load_certificates

TRUST_HOWTO = (
    "no trust configured for custodians' signing keys: add the trading centre's CA with "
    "`etender trust add-ca FILE` (a file you got from the CA, not from the platform), or pin each custodian's "
    "signing key with `etender trust pin USERNAME FINGERPRINT` (the fingerprint as the custodian told you)"
)


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


def register(registry: Registry) -> None:
    trust = registry.group("trust", "your own trust in custodians' signing keys (CAs, pinned keys)")
    add_ca = registry.command(
        trust, "add-ca", cmd_trust_add_ca, "trust custodians' certificates issued by this CA (a file)"
    )
    add_ca.add_argument("file", help="the CA's certificate(s), PEM or DER, as the trading centre's CA publishes it")
    pin = registry.command(
        trust, "pin", cmd_trust_pin, "trust this signing key for this custodian (as the custodian told you)"
    )
    pin.add_argument("username", help="the custodian's user name on the platform")
    pin.add_argument("fingerprint", help="SHA-256 fingerprint of the custodian's signing key (64 hex digits)")
    trust_list = registry.command(trust, "list", cmd_trust_list, "the CAs and pinned keys you trust")
    trust_list.add_argument(
        "--platform", action="store_true", help="also show the key CAs the platform names (informative, not trusted)"
    )
    remove = registry.command(
        trust, "remove", cmd_trust_remove, "remove a CA (by its SHA-256) or a custodian's pinned keys"
    )
    remove.add_argument("what", choices=("ca", "pin"))
    remove.add_argument("name", help="ca: the CA certificate's SHA-256 (see `etender trust list`); pin: the user name")
    remove.add_argument("fingerprint", nargs="?", help="pin: only this fingerprint (default: every one of that user)")
