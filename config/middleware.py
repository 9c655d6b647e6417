"""Refusals that hold for every page and every API endpoint, before any view runs.

- A NUL character in the path or the query string (``?q=a%00b``) is refused
  (PostgreSQL cannot store or compare it: the query would fail with a 500).
  Bodies are checked where they are parsed: the API's parser
  (``config.api``), the pages' Django forms (their CharFields refuse NUL).
- An object store outage becomes a 503 with ``Retry-After`` (a page, or the
  API's JSON error when ``config.api``'s own handler did not already answer),
  not a 500: the request was fine and may be sent again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _

from accounts.errors import error_body
from archive.storage import is_store_outage
from config.untrusted import NUL, nul_refused_message, querydict_nul_paths

# Seconds a client is told to wait after an outage of the object store.
STORE_RETRY_AFTER_SECONDS = 30


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def nul_refused(request: HttpRequest, fields: dict[str, list[Any]]) -> HttpResponse:
    if is_api(request):
        return JsonResponse(error_body("invalid_input", _("请求内容不符合要求，请检查各字段。"), fields), status=422)
    return HttpResponse(loader.render_to_string("400.html", request=request), status=400)


def store_unavailable(request: HttpRequest) -> HttpResponse:
    response: HttpResponse
    if is_api(request):
        response = JsonResponse(error_body("store_unavailable", _("文件存储暂时不可用，请稍后重试。")), status=503)
    else:
        response = HttpResponse(loader.render_to_string("503.html", request=request), status=503)
    response["Retry-After"] = str(STORE_RETRY_AFTER_SECONDS)
    return response


class UntrustedInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        fields: dict[str, list[Any]] = {}
        if NUL in request.path_info:
            fields["path"] = [nul_refused_message()]
        for name in querydict_nul_paths(request.GET):
            fields[name] = [nul_refused_message()]
        if fields:
            return nul_refused(request, fields)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_store_outage(exception):
            return store_unavailable(request)
        return None
