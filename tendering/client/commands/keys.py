"""``etender keys …``: the user's own P-256 keys, made (or imported) here, registered, certified."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from accounts.key_certificates import key_subject, spki_of, subject_serial_number
from tendering.client import keys as keystore
from tendering.client.commands.base import KEYS_PATH, Registry, Session, note, read_secret, say, when
from tendering.client.config import write_atomic
from tendering.client.custody import answer_key_proof
from tendering.client.transport import ClientError
from tendering.client.trust import certificate_fingerprint, describe_certificate, describe_name, load_certificates


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


def cmd_keys_import(args: argparse.Namespace, session: Session) -> int:
    """A P-256 private key made elsewhere (the demo's, var/demo-keys/USER-PURPOSE.pem) stored as a generated one."""
    source = Path(args.file)
    purpose = args.purpose or keystore.purpose_from_file_name(source)
    keystore.check_purpose(purpose)
    keystore.check_name(args.name)
    keystore.ensure_new(session.home, purpose, args.name)  # before asking for a passphrase
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ClientError(f"cannot read {source}: {exc.strerror}") from None
    source_passphrase = b""
    if keystore.is_encrypted_pem(data):
        source_passphrase = read_secret(
            "source passphrase",
            "ETENDER_SOURCE_PASSPHRASE",
            file=args.source_passphrase_file,
            prompt=f"Passphrase of {source}: ",
        )
    private = keystore.private_key_from_pem(data, source_passphrase, str(source))
    passphrase = read_secret(
        "passphrase",
        "ETENDER_PASSPHRASE",
        file=args.passphrase_file,
        confirm=True,
        prompt=f"Passphrase to protect the imported {purpose} key here: ",
    )
    key = keystore.store_key(session.home, purpose, args.name, private, passphrase)
    say(f"{purpose} key {args.name!r} imported from {source} (P-256)")
    say(f"  fingerprint {key.fingerprint()}")
    say(f"  private key {key.private_path} (encrypted with your passphrase)")
    say(f"  public key  {key.public_path}")
    if not keystore.is_encrypted_pem(data):
        note(f"note: {source} holds the private key in the clear: delete it once you no longer need it")
    say(f"registered? see `etender keys list`; if not: etender keys register --purpose {purpose} --name {args.name}")
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


def registered_fingerprints(session: Session) -> dict[str, set[str]]:
    active: dict[str, set[str]] = {"signing": set(), "encryption": set()}
    for item in session.get(KEYS_PATH):
        if not item.get("revoked_at"):
            active.setdefault(item["purpose"], set()).add(item["fingerprint"])
    return active


def register(registry: Registry) -> None:
    keys = registry.group("keys", "your signing and encryption keys")
    generate = registry.command(
        keys, "generate", cmd_keys_generate, "make a P-256 key here, private key encrypted with a passphrase"
    )
    register = registry.command(
        keys, "register", cmd_keys_register, "register a local key's public key with the platform"
    )
    for sub in (generate, register):
        sub.add_argument("--purpose", required=True, choices=keystore.PURPOSES)
        sub.add_argument("--name", default=keystore.DEFAULT_NAME, help="the key's local name (default: default)")
    generate.add_argument("--passphrase-file", type=Path, help="read the passphrase from this file's first line")
    register.add_argument("--label", help="a note shown on the platform (default: etender NAME)")
    register.add_argument(
        "--passphrase-file", type=Path, help="read the key's passphrase (for its proof of possession) from this file"
    )
    imported = registry.command(
        keys, "import", cmd_keys_import, "store a P-256 private key made elsewhere (PEM), encrypted with a passphrase"
    )
    imported.add_argument("file", help="the private key, PEM (PKCS#8 or SEC1), e.g. var/demo-keys/bidder1-signing.pem")
    imported.add_argument(
        "--purpose", choices=keystore.PURPOSES, help="signing or encryption (default: from a name ending -PURPOSE.pem)"
    )
    imported.add_argument("--name", default=keystore.DEFAULT_NAME, help="the key's local name (default: default)")
    imported.add_argument("--passphrase-file", type=Path, help="read the new passphrase from this file's first line")
    imported.add_argument(
        "--source-passphrase-file",
        type=Path,
        help="the passphrase of an encrypted FILE (or ETENDER_SOURCE_PASSPHRASE)",
    )
    registry.command(keys, "list", cmd_keys_list, "local keys and the keys registered on the platform")
    csr = registry.command(
        keys, "csr", cmd_keys_csr, "write a certificate request (PKCS#10) of your signing key for the CA"
    )
    csr.add_argument("--name", default=keystore.DEFAULT_NAME, help="the signing key's local name (default: default)")
    csr.add_argument("--out", help="the request's file (default: keys/signing-NAME.csr.pem)")
    csr.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    csr.add_argument("--passphrase-file", type=Path, help="read the key's passphrase from this file's first line")
    certify = registry.command(keys, "certify", cmd_keys_certify, "attach the certificate the CA issued for your key")
    certify.add_argument("certificate", help="the certificate file (PEM or DER) the CA gave you")
    certify.add_argument(
        "--purpose", default="signing", choices=keystore.PURPOSES, help="the key's purpose (default: signing)"
    )
    certify.add_argument("--name", default=keystore.DEFAULT_NAME, help="the key's local name (default: default)")
