"""``python -m config.serve``: Daphne with the WebSocket limits of the settings, and no other."""

from __future__ import annotations

from typing import Any

import pytest
from daphne.cli import CommandLineInterface
from django.conf import settings

from config import serve


@pytest.mark.parametrize(
    "extra",
    [
        ["--websocket-max-message-size", "1048576"],  # Daphne's own default: the 1 MiB this entry point replaces
        ["--websocket-max-message-size=4194304"],
        ["--websocket-max-frame-size", "65536"],
    ],
)
def test_a_command_line_that_sets_a_websocket_limit_is_refused(
    extra: list[str], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    started: list[Any] = []
    monkeypatch.setattr(CommandLineInterface, "run", lambda self, args: started.append(args))
    with pytest.raises(SystemExit) as exit_:
        serve.main(["-b", "127.0.0.1", "-p", "8000", *extra, "config.asgi:application"])
    assert exit_.value.code == 2
    assert "comes from the settings (HALL_FRAME_MAX_BYTES)" in capsys.readouterr().err
    assert started == []


def test_daphne_gets_the_settings_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def run(self: CommandLineInterface, args: list[str]) -> None:
        parsed = self.parser.parse_args(args)
        seen.update(message=parsed.websocket_max_message_size, frame=parsed.websocket_max_frame_size)

    monkeypatch.setattr(CommandLineInterface, "run", run)
    serve.main(["-b", "127.0.0.1", "-p", "8000", "config.asgi:application"])
    assert seen == {
        "message": settings.DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE,
        "frame": settings.DAPHNE_WEBSOCKET_MAX_FRAME_SIZE,
    }
    assert seen["message"] > settings.HALL_FRAME_MAX_BYTES
