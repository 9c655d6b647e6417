"""``etender``: the bidder's command-line client, also the custodian's at the opening (docs/cli.md).

The commands live in ``tendering.client.commands``, one module per group; this
module assembles the parser and runs the command, turning the client's errors
into a message and an exit status.

Exit status: 0 done, 1 refused or failed (the reason is printed), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tendering.client.commands import GROUPS
from tendering.client.commands.base import Parser, Registry, Session, common_options, note, parse_rate
from tendering.client.transport import ApiError, ClientError
from tendering.sealing import SealingError

__all__ = ["build_parser", "main", "parse_rate"]


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = Parser(
        prog="etender",
        description="The bidder's client of the eTender platform: keys, tenders, sealed bids, receipts, the opening "
        "(bidders and custodians).",
        parents=[common],
        epilog="Exit status: 0 done, 1 refused or failed, 2 bad usage. See docs/cli.md.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    registry = Registry(commands, common)
    for group in GROUPS:
        group.register(registry)
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
