"""WebSocket routes. The opening hall's is here; the evaluation session adds its own."""

from typing import Any

from django.urls import path

from tendering.consumers import HallConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/tenders/<str:tender_id>/hall/", HallConsumer.as_asgi()),
]
