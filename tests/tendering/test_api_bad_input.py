"""Bad input and faults of the platform get a clear JSON error with the right status, never a 500, and change nothing:
a NUL character in any string (query, path, JSON body, form field, file name, Basic credentials), multipart/form-data
without a boundary, a JSON body over the limit, an object store that cannot be reached (503 with Retry-After), on the
API and on the pages. And the OpenAPI schema declares those errors and the enums.

Run on PostgreSQL (a NUL reaching a query fails there; SQLite would store it).
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import ApiToken, PublicKey
from archive.storage import reset_object_store_cache
from tendering.models import Amendment, Phase, Tender, TenderDocument
from tendering.services import documents
from tests.fixtures.personas import PASSWORD, PDF_BYTES, Personas
from tests.tendering.test_api import bearer, draft_body, post_json

NUL_REFUSED = "不得包含空字符（U+0000）。"
INVALID = "请求内容不符合要求，请检查各字段。"


def invalid_input(**fields: list[str]) -> dict[str, Any]:
    return {"code": "invalid_input", "message": INVALID, "fields": fields}


def stored(tender: Tender | None = None) -> tuple[int, int, int, int, list[Any]]:
    """What a refused request must leave as it was."""
    found = (
        Tender.objects.count(),
        TenderDocument.objects.count(),
        ApiToken.objects.count(),
        PublicKey.objects.count(),
        [],
    )
    if tender is not None:
        found[4].extend(Tender.objects.filter(pk=tender.pk).values_list("title", "description"))
        found[4].extend(Amendment.objects.filter(tender=tender).values_list("pk", flat=True))
    return found


# --- NUL -----------------------------------------------------------------------------------------------------


def test_a_nul_in_a_query_parameter_or_its_name_is_refused_with_422(personas: Personas) -> None:
    client = Client()
    bidder = bearer(personas.bidder_a)
    before = stored()
    for query, field in [("q=a%00b", "q"), ("phase=%00", "phase"), ("q=ok&x%00y=1", "x\x00y")]:
        response = client.get(f"/api/tenders?{query}")
        assert response.status_code == 422, (query, response.content)
        assert response.json() == invalid_input(**{field: [NUL_REFUSED]})
    mine = client.get("/api/notifications?unread=%00", **bidder)
    assert mine.status_code == 422 and mine.json() == invalid_input(unread=[NUL_REFUSED])
    assert stored() == before


def test_a_nul_in_a_path_is_refused_with_422_on_the_api_and_400_on_the_pages(personas: Personas) -> None:
    client = Client()
    response = client.get("/api/tenders/a%00b")
    assert response.status_code == 422 and response.json() == invalid_input(path=[NUL_REFUSED])
    client.force_login(personas.bidder_a)
    page = client.get("/tenders/a%00b/")
    assert page.status_code == 400 and "请求无效" in page.content.decode()
    search = client.get("/?q=%E9%81%93%00")
    assert search.status_code == 400 and "请求无效" in search.content.decode()


def test_a_nul_anywhere_in_a_json_body_is_refused_with_422_and_nothing_is_stored(
    personas: Personas, frozen_clock: Any
) -> None:
    client = Client()
    tenderer = bearer(personas.tenderer)
    before = stored()
    body = draft_body(frozen_clock(), personas)
    cases = [
        ({**body, "title": "县医院\x00设备采购"}, "title"),
        ({**body, "lots": [{"number": 1, "name": "设备\x00", "budget": "1.00"}]}, "lots.0.name"),
        ({**body, "unknown\x00": 1}, "unknown\x00"),
        ({**body, "description": ["a", {"deep": ["\x00"]}]}, "description.1.deep.0"),
    ]
    for sent, field in cases:
        response = post_json(client, "/api/tenders", sent, **tenderer)
        assert response.status_code == 422, response.content
        assert response.json() == invalid_input(**{field: [NUL_REFUSED]})
    assert stored() == before


def test_a_nul_in_a_token_name_or_in_basic_credentials_is_refused_with_422_and_no_token_is_issued(
    personas: Personas,
) -> None:
    client = Client()
    before = stored()
    right = base64.b64encode(f"bidder_a:{PASSWORD}".encode()).decode()
    response = post_json(client, "/api/accounts/tokens", {"name": "cli\x00"}, HTTP_AUTHORIZATION=f"Basic {right}")
    assert response.status_code == 422 and response.json() == invalid_input(name=[NUL_REFUSED])
    for credentials in ("bidder_a\x00:" + PASSWORD, "bidder_a:" + PASSWORD + "\x00"):
        encoded = base64.b64encode(credentials.encode()).decode()
        response = post_json(client, "/api/accounts/tokens", {"name": "cli"}, HTTP_AUTHORIZATION=f"Basic {encoded}")
        assert response.status_code == 422, response.content
        assert response.json()["code"] == "invalid_input"
    assert stored() == before


def test_a_nul_in_a_key_label_is_refused_with_422_and_no_key_is_registered(personas: Personas) -> None:
    bidder = bearer(personas.bidder_a)
    before = stored()
    body = {"purpose": "encryption", "public_key": "MFkw", "label": "笔记本\x00"}
    response = post_json(Client(), "/api/accounts/keys", body, **bidder)
    assert response.status_code == 422 and response.json() == invalid_input(label=[NUL_REFUSED])
    assert stored() == before


def test_a_nul_in_a_form_field_or_a_file_name_is_refused_with_422(personas: Personas, draft_tender: Tender) -> None:
    client = Client()
    tenderer = bearer(personas.tenderer)
    url = f"/api/tenders/{draft_tender.public_id}"
    before = stored(draft_tender)
    amendment = client.post(url + "/amendments", {"summary": "更正\x00"}, **tenderer)
    assert amendment.status_code == 422 and amendment.json() == invalid_input(summary=[NUL_REFUSED])
    # (A file name never brings a NUL: Django's multipart parser drops non-printable characters from it.)
    assert stored(draft_tender) == before


# --- unreadable and oversized bodies -------------------------------------------------------------------------


def test_multipart_without_a_boundary_gets_a_400_json_error_on_document_and_amendment_uploads(
    personas: Personas, draft_tender: Tender
) -> None:
    client = Client()
    tenderer = bearer(personas.tenderer)
    url = f"/api/tenders/{draft_tender.public_id}"
    before = stored(draft_tender)
    for path in ("/documents", "/amendments"):
        for content_type in (
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=\x7f",
        ):
            response = client.generic("POST", url + path, b"--x\r\nnot a part", content_type=content_type, **tenderer)
            assert response.status_code == 400, (path, content_type, response.content)
            assert response.json()["code"] == "malformed_multipart", response.content
            assert "boundary" in response.json()["message"]
    assert stored(draft_tender) == before


def test_a_body_that_is_not_json_gets_a_400_with_a_code(personas: Personas) -> None:
    tenderer = bearer(personas.tenderer)
    before = stored()
    for text in (b"{", b"[" * 100_000):
        response = Client().generic("POST", "/api/tenders", text, content_type="application/json", **tenderer)
        assert response.status_code == 400
        assert response.json() == {"code": "malformed_json", "message": "请求内容不是有效的 JSON。"}
    assert stored() == before


def test_a_json_body_over_the_limit_gets_a_json_413(personas: Personas, frozen_clock: Any, settings: Any) -> None:
    tenderer = bearer(personas.tenderer)
    before = stored()
    body = draft_body(frozen_clock(), personas, description="异" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 3 + 1))
    response = post_json(Client(), "/api/tenders", body, **tenderer)
    assert response.status_code == 413, response.content
    assert response.json() == {
        "code": "request_too_large",
        "message": f"请求内容过大：上限为 {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} 字节。",
    }
    english = post_json(Client(), "/api/tenders", body, HTTP_ACCEPT_LANGUAGE="en", **tenderer)
    assert (
        english.json()["message"]
        == f"The request is too large: the limit is {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
    )
    assert stored() == before


# --- the object store unavailable ----------------------------------------------------------------------------


@pytest.fixture
def store_down(settings: Any) -> Any:
    """The S3 server the platform is configured with does not answer (nothing listens on the port)."""
    settings.S3_ENDPOINT = "http://127.0.0.1:9"
    reset_object_store_cache()
    yield
    reset_object_store_cache()


def test_an_object_store_outage_gives_a_503_with_retry_after_on_the_api_and_the_pages_and_changes_nothing(
    personas: Personas, draft_tender: Tender, request: Any
) -> None:
    document = TenderDocument.objects.get(tender=draft_tender)
    request.getfixturevalue("store_down")
    client = Client()
    tenderer = bearer(personas.tenderer)
    url = f"/api/tenders/{draft_tender.public_id}"
    before = stored(draft_tender)
    upload = client.post(
        url + "/documents", {"file": SimpleUploadedFile("附件.pdf", PDF_BYTES, "application/pdf")}, **tenderer
    )
    download = client.get(f"{url}/documents/{document.public_id}/download", **tenderer)
    for response in (upload, download):
        assert response.status_code == 503, response.content
        assert response.json() == {"code": "store_unavailable", "message": "文件存储暂时不可用，请稍后重试。"}
        assert int(response["Retry-After"]) > 0
    pages = Client()
    pages.force_login(personas.tenderer)
    page = pages.get(f"/tenders/{draft_tender.public_id}/documents/{document.public_id}/download/")
    assert page.status_code == 503 and int(page["Retry-After"]) > 0
    assert "文件存储暂时不可用，请稍后重试。" in page.content.decode()
    assert stored(draft_tender) == before


def test_a_service_that_calls_the_store_directly_gets_the_store_outage_as_such(
    personas: Personas, draft_tender: Tender, request: Any
) -> None:
    from archive.storage import is_store_outage

    request.getfixturevalue("store_down")
    with pytest.raises(Exception) as raised:
        documents.add_document(personas.tenderer, draft_tender, "附件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
    assert is_store_outage(raised.value)
    assert not is_store_outage(ValueError("a refusal of the request"))


# --- the OpenAPI schema --------------------------------------------------------------------------------------


def test_every_operation_declares_its_error_responses_in_the_one_error_schema() -> None:
    schema = Client().get("/api/openapi.json").json()
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "message"] and set(error["properties"]) == {"code", "message", "fields"}
    operations = [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]
    assert len(operations) > 20
    for path, method, operation in operations:
        responses = {int(status): value for status, value in operation["responses"].items()}
        expected = {400, 404, 422, 503} | ({401, 403} if operation.get("security") else set())
        expected |= {409, 413} if method in {"post", "put", "patch", "delete"} else set()
        assert expected <= set(responses), (path, method, sorted(responses))
        for status in expected:
            assert responses[status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }, (path, status)
        assert not any(200 <= status < 300 and "Error" in json.dumps(responses[status]) for status in responses)


def test_the_schema_declares_the_phase_as_an_enum_in_the_filter_and_in_the_tenders(db: Any) -> None:
    schema = Client().get("/api/openapi.json").json()
    components = schema["components"]["schemas"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[1]]
        return node

    def enum_of(node: dict[str, Any]) -> set[str]:
        node = resolve(node)
        values = set(node.get("enum", [])) | ({node["const"]} if "const" in node else set())
        for option in node.get("anyOf", []):
            values |= enum_of(option)
        return values

    phases = set(Phase.values)
    assert enum_of(components["TenderSummary"]["properties"]["phase"]) == phases
    listing = schema["paths"]["/api/tenders"]["get"]
    phase_parameter = next(p for p in listing["parameters"] if p["name"] == "phase")
    assert enum_of(phase_parameter["schema"]) == phases
    assert Client().get("/api/tenders?phase=opening").status_code == 200
    assert Client().get("/api/tenders?phase=").status_code == 200  # a form's "any phase"
    refused = Client().get("/api/tenders?phase=dancing")
    assert refused.status_code == 422 and list(refused.json()["fields"]) == ["phase"]


# --- every operation ----------------------------------------------------------------------------------------


def test_every_operation_of_the_schema_refuses_a_nul_in_its_query_path_and_body_with_422(personas: Personas) -> None:
    """Whatever the operation: the refusal is the API's, before any view or service (never a 500, nothing stored)."""
    client = Client()
    credentials = bearer(personas.tenderer)
    basic = {
        "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{personas.tenderer.username}:{PASSWORD}".encode()).decode()
    }
    schema = client.get("/api/openapi.json").json()
    before = stored()
    checked = 0
    for template, operations in schema["paths"].items():
        for method, operation in operations.items():
            path = template
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    path = path.replace("{" + parameter["name"] + "}", "00000000-0000-4000-8000-000000000000")
            schemes = {name for requirement in operation.get("security", []) for name in requirement}
            auth = basic if "PasswordAuth" in schemes else credentials if schemes else {}
            query = client.generic(method.upper(), path + "?probe=%00", **auth)
            assert query.status_code == 422 and query.json() == invalid_input(probe=[NUL_REFUSED]), (
                method,
                template,
                query.content,
            )
            in_path = client.generic(method.upper(), path.rstrip("/") + "%00", **auth)
            assert in_path.status_code == 422 and in_path.json() == invalid_input(path=[NUL_REFUSED]), (
                method,
                template,
            )
            body = operation.get("requestBody", {}).get("content", {})
            if "application/json" in body:
                sent = client.generic(
                    method.upper(), path, json.dumps({"probe\x00": ["\x00"]}), content_type="application/json", **auth
                )
                assert sent.status_code == 422, (method, template, sent.content)
                assert sent.json() == invalid_input(**{"probe\x00": [NUL_REFUSED], "probe\x00.0": [NUL_REFUSED]}), (
                    method,
                    template,
                )
            if "multipart/form-data" in body:
                sent = client.generic(
                    method.upper(), path, b"--x\r\nnot a part", content_type="multipart/form-data", **auth
                )
                assert sent.status_code == 400 and sent.json()["code"] == "malformed_multipart", (
                    method,
                    template,
                    sent.content,
                )
            checked += 1
    assert checked == sum(len(ops) for ops in schema["paths"].values()) > 20
    assert stored() == before
