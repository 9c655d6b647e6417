"""ASGI entry point, served by Daphne.

``streaming_asgi_application()`` (Django's ``get_asgi_application()`` with the
bid part's streamed body) runs before anything imports models, so the
WebSocket routing (added by the opening and evaluation issues) is imported after it.
"""

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.streaming import streaming_asgi_application

# Django's handler, except that a bid part's body streams to the view (config/streaming.py).
django_asgi_app = streaming_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402

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
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
