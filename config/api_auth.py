"""Authentication for the JSON API: bearer tokens for programs, the session for pages."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from accounts.services import user_for_token


class BearerToken(HttpBearer):
    """API tokens for programs: ``Authorization: Bearer etk_...``."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return user_for_token(token)


class Anonymous:
    """Last in an ``auth`` list: lets a public endpoint run for visitors too."""

    def __call__(self, request: HttpRequest) -> Any:
        if request.headers.get("Authorization"):
            return None  # a token was sent and refused: do not fall back to anonymous
        return AnonymousUser()


class Session(SessionAuth):
    """The browser's session, unless the request sent credentials of its own.

    A request that sends an ``Authorization`` header that was refused is refused:
    it is not served as whoever's session cookie came along with it.
    """

    def __call__(self, request: HttpRequest) -> Any:
        if request.headers.get("Authorization"):
            return None
        return super().__call__(request)


bearer = BearerToken()
session = Session()
AUTHENTICATED = [bearer, session]
OPTIONAL = [bearer, session, Anonymous()]


def actor(request: HttpRequest) -> Any:
    """The user behind a request, whichever way it authenticated."""
    auth = getattr(request, "auth", None)
    if auth is not None and getattr(auth, "is_authenticated", False):
        return auth
    return request.user
