"""``etender login``, ``logout``, ``whoami``: the API token and the platform's trust anchors pinned with it."""

from __future__ import annotations

import argparse
import os
import platform

from tendering.client.commands.base import Registry, Session, connect, note, read_secret, say, when
from tendering.client.commands.trust import TRUST_HOWTO
from tendering.client.transport import ClientError, normalize_url
from tendering.client.trust import TrustList


def cmd_login(args: argparse.Namespace, session: Session) -> int:
    given = getattr(args, "url", None) or session.url
    if not given:
        raise ClientError("give the platform's address: --url https://…")
    url = normalize_url(given)
    transport = connect(url)
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
            connect(config.url, config.token).request("POST", "/api/accounts/tokens/current/revoke")
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


def register(registry: Registry) -> None:
    login = registry.top("login", cmd_login, "get an API token, store it, and pin the platform's trust anchors")
    login.add_argument("--username", help="your user name (password from the terminal or $ETENDER_PASSWORD)")
    login.add_argument("--repin", action="store_true", help="accept trust anchors that differ from those pinned before")
    registry.top("logout", cmd_logout, "forget the stored token")
    registry.top("whoami", cmd_whoami, "show the account the token belongs to")
