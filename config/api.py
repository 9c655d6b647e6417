"""The JSON API: one NinjaAPI assembled from each app's router.

Schema: /api/openapi.json; browsable docs: /api/docs. Errors are JSON
``{"code": <stable>, "message": <in the user's language>, "fields": {...}}``.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from accounts.errors import DomainError, InvalidInput

api = NinjaAPI(
    title="eTender platform API",
    version="1",
    description="电子招标投标与远程评标平台 API. Errors: {code, message, fields}.",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _error(request: HttpRequest, status: int, code: str, message: Any, fields: dict[str, Any] | None = None) -> HttpResponse:
    body: dict[str, Any] = {"code": code, "message": str(message)}
    if fields:
        body["fields"] = {k: [str(m) for m in v] for k, v in fields.items()}
    return api.create_response(request, body, status=status)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    fields = exc.fields if isinstance(exc, InvalidInput) else None
    return _error(request, exc.status, exc.code, exc.message, fields)


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for item in exc.errors:
        loc = [str(part) for part in item.get("loc", []) if part not in ("body", "payload", "query", "path", "form", "file")]
        fields.setdefault(".".join(loc) or "request", []).append(str(item.get("msg", "")))
    return _error(request, 422, "invalid_input", _("请求内容不符合要求，请检查各字段。"), fields)


@api.exception_handler(AuthenticationError)
def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "not_authenticated", _("请先登录，或提供有效的 API 令牌（Authorization: Bearer …）。"))


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", _("找不到请求的对象。"))


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, "http_error", exc.message)


def register_routers() -> None:
    from accounts.api import router as accounts_router
    from archive.api import router as archive_router
    from tendering.api import notifications_router
    from tendering.api import router as tendering_router
    from tendering.api_bids import router as bids_router
    from tendering.api_bids import tender_bids_router
    from tendering.api_entrustments import router as entrustments_router
    from tendering.api_opening import router as opening_router

    api.add_router("/accounts", accounts_router)
    api.add_router("/tenders", tendering_router)
    api.add_router("/notifications", notifications_router)
    api.add_router("/tenders", tender_bids_router)
    api.add_router("/tenders", opening_router)
    api.add_router("/bids", bids_router)
    api.add_router("/entrustments", entrustments_router)
    api.add_router("/archive", archive_router)


register_routers()
