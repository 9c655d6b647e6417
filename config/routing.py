"""WebSocket routes. The opening hall's is here; the evaluation session adds its own."""

from typing import Any

from django.urls import path

from evaluation.consumers import SessionConsumer
from tendering.consumers import HallConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/tenders/<str:tender_id>/hall/", HallConsumer.as_asgi()),
    path("ws/tenders/<uuid:tender_id>/session/", SessionConsumer.as_asgi()),
]
