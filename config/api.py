"""The JSON API: one NinjaAPI assembled from each app's router.

Schema: /api/openapi.json; browsable docs: /api/docs. Errors are JSON
``{"code": <stable>, "message": <in the user's language>, "fields": {...}}``.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.parser import Parser
from pydantic import Field

from accounts.errors import DomainError, InvalidInput
from archive.storage import is_store_outage
from config.middleware import error_body, store_unavailable
from config.untrusted import nul_paths, querydict_nul_paths, refuse_nul


class ErrorOut(Schema):
    # The docstring is the Error schema's description in /api/openapi.json: the backslash keeps it one line there.
    """Every error the API answers (any status from 400 on): a stable code, a message in the user's language, \
the fields at fault."""

    code: str = Field(description="Stable: clients match on it (docs/api.md lists them)")
    message: str = Field(description="For people, in the request's language (zh-hans first, English second)")
    fields: dict[str, list[str]] | None = Field(default=None, description="Field path → messages, for invalid input")


# The errors an operation can answer besides its own responses, by when they apply (docs/api.md).
_ERRORS_ALWAYS = {
    400: "Malformed request (JSON or multipart/form-data that cannot be read)",
    404: "Not found, or not visible to the caller",
    422: "Invalid input (a rule broken, a NUL character in any value): see fields",
    503: "The object store is unavailable: retry after Retry-After seconds",
}
_ERRORS_AUTHENTICATED = {
    401: "Not signed in, or a token that is forged, expired or revoked",
    403: "Not allowed for the caller",
}
_ERRORS_WRITING = {409: "Wrong phase or a conflicting state", 413: "Request body over the limit"}


class UntrustedInputParser(Parser):
    """ninja's parser, refusing what PostgreSQL cannot hold:
    a NUL in any JSON string or key, form field or file name.
    """

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            data = json.loads(request.body)
        except (ValueError, RecursionError):
            raise DomainError(_("请求内容不是有效的 JSON。"), code="malformed_json", status=400) from None
        refuse_nul(nul_paths(data))
        return data

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        refuse_nul(querydict_nul_paths(data))
        return super().parse_querydict(data, list_fields, request)


class PlatformAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        """ninja's schema plus the errors every operation can answer, all in the one ``Error`` schema."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ErrorOut.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                errors = dict(_ERRORS_ALWAYS)
                if operation.get("security"):
                    errors.update(_ERRORS_AUTHENTICATED)
                if method in {"post", "put", "patch", "delete"}:
                    errors.update(_ERRORS_WRITING)
                responses = operation.setdefault("responses", {})
                for status, description in sorted(errors.items()):
                    responses.setdefault(status, {"description": description, "content": error})
        return schema


api = PlatformAPI(
    title="eTender platform API",
    version="1",
    description="电子招标投标与远程评标平台 API. Errors: {code, message, fields} (the Error schema; docs/api.md).",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    parser=UntrustedInputParser(),
)


def _error(
    request: HttpRequest, status: int, code: str, message: Any, fields: dict[str, Any] | None = None
) -> HttpResponse:
    return api.create_response(request, error_body(code, message, fields), status=status)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    fields = exc.fields if isinstance(exc, InvalidInput) else None
    return _error(request, exc.status, exc.code, exc.message, fields)


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for item in exc.errors:
        # Without ninja's sources and the names of schema-typed parameters (payload, filters): the client's field names.
        loc = [
            str(part)
            for part in item.get("loc", [])
            if part not in ("body", "payload", "filters", "query", "path", "form", "file")
        ]
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
    if isinstance(exc.__cause__, DomainError):
        # ninja wraps whatever the body parser raises in "Cannot parse request body": the parser's own refusal counts.
        return domain_error(request, exc.__cause__)
    return _error(request, exc.status_code, "http_error", exc.message)


@api.exception_handler(RequestDataTooBig)
def request_too_large(request: HttpRequest, exc: Exception) -> HttpResponse:
    message = _("请求内容过大：上限为 %(n)d 字节。") % {"n": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    return _error(request, 413, "request_too_large", message)


@api.exception_handler(TooManyFieldsSent)
@api.exception_handler(TooManyFilesSent)
def too_many_parts(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _error(request, 413, "request_too_large", _("请求包含的字段或文件过多。"))


@api.exception_handler(MultiPartParserError)
def malformed_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    return _error(
        request,
        400,
        "malformed_multipart",
        _("上传的表单数据无法读取：multipart/form-data 需要有效的 boundary 和完整的各部分。"),
    )


@api.exception_handler(Exception)
def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    """An object store outage is a 503 to retry; anything else stays a server error (logged, 500)."""
    if is_store_outage(exc):
        return store_unavailable(request)
    raise exc


def register_routers() -> None:
    from accounts.api import pki_router
    from accounts.api import router as accounts_router
    from archive.api import router as archive_router
    from evaluation.api import router as evaluation_router
    from evaluation.api_draw import router as draw_router
    from tendering.api import notifications_router
    from tendering.api import router as tendering_router
    from tendering.api_bids import router as bids_router
    from tendering.api_bids import tender_bids_router
    from tendering.api_custody import router as custody_router
    from tendering.api_entrustments import router as entrustments_router
    from tendering.api_opening import router as opening_router

    api.add_router("/accounts", accounts_router)
    api.add_router("/pki", pki_router)
    api.add_router("/tenders", tendering_router)
    api.add_router("/notifications", notifications_router)
    api.add_router("/tenders", tender_bids_router)
    api.add_router("/tenders", opening_router)
    api.add_router("/tenders", custody_router)
    api.add_router("/tenders", draw_router)
    api.add_router("/tenders", evaluation_router)
    api.add_router("/bids", bids_router)
    api.add_router("/entrustments", entrustments_router)
    api.add_router("/archive", archive_router)


register_routers()
