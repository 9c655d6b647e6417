"""Daphne with the platform's WebSocket limits: ``python -m config.serve [daphne's options] config.asgi:application``.

Daphne's own default (1 MiB per message) is not the hall's limit
(``HALL_FRAME_MAX_BYTES``, advertised in the hall's ``hello``): a bare
``daphne`` would cut a custodian's 1.5 MiB frame with a reset although the hall
promised 2 MiB. This entry point takes Daphne's limits from the settings
(``DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE`` / ``_FRAME_SIZE``, derived from the
hall's) and refuses a command line that sets others, so that there is one
setting. Everything else is Daphne's command line as it is.
"""

from __future__ import annotations

import os
import sys
from typing import Any

LIMIT_OPTIONS = ("websocket_max_message_size", "websocket_max_frame_size")


def websocket_limits() -> dict[str, int]:
    """Daphne ``Server`` keyword arguments for the WebSocket limits, from the settings."""
    from django.conf import settings

    return {
        "websocket_max_message_size": settings.DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE,
        "websocket_max_frame_size": settings.DAPHNE_WEBSOCKET_MAX_FRAME_SIZE,
    }


def main(argv: list[str] | None = None) -> Any:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from daphne.cli import CommandLineInterface

    from config.streaming import install_into_daphne

    install_into_daphne()  # a bid part's body in memory, not in a temporary file

    args = sys.argv[1:] if argv is None else argv
    cli = CommandLineInterface()
    limits = websocket_limits()
    for option in LIMIT_OPTIONS:
        flag = "--" + option.replace("_", "-")
        # Any mention of the option is refused, Daphne's own default value included (that is the 1 MiB this replaces).
        if any(arg == flag or arg.startswith(flag + "=") for arg in args):
            cli.parser.error(f"{flag} comes from the settings (HALL_FRAME_MAX_BYTES): {limits[option]}")
    cli.parser.set_defaults(**limits)
    return cli.run(args)


if __name__ == "__main__":
    main()
