"""WebSocket routes. The opening hall and the evaluation session add theirs here."""

from typing import Any

websocket_urlpatterns: list[Any] = []
