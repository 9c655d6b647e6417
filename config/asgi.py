"""ASGI entry point, served by Daphne.

``streaming_asgi_application()`` (Django's ``get_asgi_application()`` with the
bid part's streamed body) runs before anything imports models, so the
WebSocket routing (added by the opening and evaluation issues) is imported after it.
"""

import os
from typing import Any, cast

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.streaming import streaming_asgi_application

# Django's handler, except that a bid part's body streams to the view (config/streaming.py).
django_asgi_app = streaming_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib import auth  # noqa: E402
from django.http import HttpRequest  # noqa: E402
from django.utils.functional import SimpleLazyObject  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402


class _SessionOnly:
    """What ``django.contrib.auth.get_user`` reads of a request: its session."""

    def __init__(self, session: Any) -> None:
        self.session = session


class LazySessionUser:
    """``scope["user"]``: the session's user, read by Django's own ``auth.get_user`` (an inactive user, or a
    session whose password hash no longer matches, is anonymous, the session flushed) the first time synchronous
    code touches it.

    Channels' ``AuthMiddleware`` reads it before the consumer starts, on Channels' one database thread shared by
    every connection of the process: one more hop per connection, queued behind all the others. The rooms touch
    it in their own database threads, in the same hop as their entry check (``tendering/room/consumer.py``).
    Touched from async code it raises Django's ``SynchronousOnlyOperation``: nothing reads it there by mistake.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        request = _SessionOnly(scope["session"])
        return await self.inner(
            {**scope, "user": SimpleLazyObject(lambda: auth.get_user(cast(HttpRequest, request)))},
            receive,
            send,
        )


http_app: Any
if settings.DEBUG:
    # The embedded default (make run) serves static files itself; production's nginx does it there.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    http_app = ASGIStaticFilesHandler(django_asgi_app)
else:
    http_app = django_asgi_app

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(
            SessionMiddlewareStack(LazySessionUser(URLRouter(websocket_urlpatterns)))
        ),
    }
)
