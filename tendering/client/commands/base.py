"""What every command group shares: output, times, the session with the platform, secrets, the parser's pieces."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from tendering.client.config import Config, home_folder
from tendering.client.opening import display_zone
from tendering.client.progress import Progress
from tendering.client.transport import ClientError, HttpTransport, Transport, normalize_url

MiB = 1024 * 1024
OPEN_FOR_BIDS = "open_for_bids"
KEYS_PATH = "/api/accounts/keys"
KEY_CA_PATH = "/api/pki/key-ca"

#: A command's handler: the parsed arguments and the session in, the exit status out.
Handler = Callable[[argparse.Namespace, "Session"], int]


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


def current_zone() -> ZoneInfo:
    """The zone ``when`` prints times in now."""
    return _display_zone


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


def connect(url: str, token: str | None = None) -> HttpTransport:
    """The one place a connection to the platform is made (the tests put their fake platform here)."""
    return HttpTransport(url, token)


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
            self._transport = connect(self.url, self.token or None)
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


# --- the parser's pieces ------------------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def common_options() -> argparse.ArgumentParser:
    """--home, --url, --token: accepted before and after the command's name."""
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


class Registry:
    """Adds a group's commands to the parser: every command takes the common options and names its handler."""

    def __init__(self, commands: Any, common: argparse.ArgumentParser) -> None:
        self.commands = commands
        self.common = common

    def command(self, group: Any, name: str, handler: Handler, text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, parents=[self.common], help=text, description=text)
        sub.set_defaults(handler=handler)
        return sub

    def top(self, name: str, handler: Handler, text: str) -> argparse.ArgumentParser:
        """A command of its own (``etender seal``)."""
        return self.command(self.commands, name, handler, text)

    def group(self, name: str, text: str) -> Any:
        """A group of actions (``etender keys …``)."""
        return self.commands.add_parser(name, help=text).add_subparsers(
            dest=f"{name}_command", required=True, metavar="ACTION", parser_class=Parser
        )
