import base64
import datetime as dt
import json

from django.test import Client

from accounts.models import ApiToken
from accounts.services import issue_api_token
from archive.models import LedgerEntry
from tendering.method import default_method
from tendering.models import Tender
from tests.fixtures.personas import PASSWORD, PDF_BYTES


def bearer(user):
    return {"HTTP_AUTHORIZATION": "Bearer " + issue_api_token(user, "test")[0]}


def draft_body(now, personas, **changes):
    deadline = now + dt.timedelta(days=30)
    body = {
        "number": "API-2026-7",
        "title": "县医院设备采购",
        "procedure_type": "open",
        "budget": "1200000.00",
        "bid_deadline": deadline.isoformat(),
        "opening_time": deadline.isoformat(),
        "enquiry_deadline": (deadline - dt.timedelta(days=10)).isoformat(),
        "evaluation_method": "lowest_price",
        "custodian_ids": [c.pk for c in personas.custodians],
        "custodian_threshold": 2,
    }
    body.update(changes)
    body.setdefault("method", default_method(body["evaluation_method"]))
    return body


def post_json(client, url, body, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def test_a_missing_or_forged_token_is_refused_with_a_json_error(personas, frozen_clock):
    client = Client()
    response = post_json(client, "/api/tenders", draft_body(frozen_clock(), personas))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    response = post_json(
        client, "/api/tenders", draft_body(frozen_clock(), personas), HTTP_AUTHORIZATION="Bearer etk_forged"
    )
    assert response.status_code == 401
    assert not Tender.objects.exists()


def test_a_token_is_obtained_with_username_and_password_only(personas):
    client = Client()
    wrong = base64.b64encode(b"bidder_a:wrong").decode()
    assert (
        post_json(client, "/api/accounts/tokens", {"name": "cli"}, HTTP_AUTHORIZATION=f"Basic {wrong}").status_code
        == 401
    )
    assert not ApiToken.objects.exists()
    right = base64.b64encode(f"bidder_a:{PASSWORD}".encode()).decode()
    response = post_json(client, "/api/accounts/tokens", {"name": "cli"}, HTTP_AUTHORIZATION=f"Basic {right}")
    assert response.status_code == 201
    me = client.get("/api/accounts/me", HTTP_AUTHORIZATION="Bearer " + response.json()["token"])
    assert me.json()["roles"] == ["bidder"]


def test_validation_errors_are_json_with_fields_in_the_users_language(personas, frozen_clock):
    client = Client()
    body = draft_body(frozen_clock(), personas, opening_time=(frozen_clock() + dt.timedelta(days=1)).isoformat())
    response = post_json(client, "/api/tenders", body, HTTP_ACCEPT_LANGUAGE="zh-hans", **bearer(personas.tenderer))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert "开标时间" in response.json()["fields"]["opening_time"][0]
    response = post_json(client, "/api/tenders", {"number": 5}, **bearer(personas.tenderer))
    assert response.status_code == 422 and response.json()["code"] == "invalid_input"
    assert not Tender.objects.exists()
    assert not LedgerEntry.objects.filter(case__startswith="tender:").exists()


def test_a_bidder_cannot_edit_or_publish_a_tender_through_the_api(personas, frozen_clock, draft_tender):
    client = Client()
    url = f"/api/tenders/{draft_tender.public_id}"
    assert client.get(url, **bearer(personas.bidder_a)).status_code == 404  # drafts are not public
    response = client.put(
        url,
        json.dumps(draft_body(frozen_clock(), personas)),
        content_type="application/json",
        **bearer(personas.bidder_a),
    )
    assert response.status_code == 404
    assert client.post(url + "/publish", **bearer(personas.bidder_a)).status_code == 404
    assert Tender.objects.get(pk=draft_tender.pk).published_at is None


def test_a_regulator_reads_drafts_but_changes_nothing(personas, frozen_clock, draft_tender):
    client = Client()
    url = f"/api/tenders/{draft_tender.public_id}"
    assert client.get(url, **bearer(personas.regulator)).json()["can_manage"] is False
    response = client.post(url + "/publish", **bearer(personas.regulator))
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert Tender.objects.get(pk=draft_tender.pk).published_at is None


def test_the_whole_publication_and_enquiry_flow_through_the_api(personas, frozen_clock, object_store_dir):
    client = Client()
    tenderer, bidder = bearer(personas.tenderer), bearer(personas.bidder_a)
    created = post_json(client, "/api/tenders", draft_body(frozen_clock(), personas), **tenderer)
    assert created.status_code == 201, created.content
    url = f"/api/tenders/{created.json()['id']}"
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = client.post(
        url + "/documents", {"file": SimpleUploadedFile("招标文件.pdf", PDF_BYTES, "application/pdf")}, **tenderer
    )
    assert upload.status_code == 201, upload.content
    assert client.post(url + "/publish", **tenderer).json()["phase"] == "open_for_bids"
    published = Tender.objects.values().get(public_id=created.json()["id"])
    publications = LedgerEntry.objects.filter(action="tendering.tender.published").count()
    again = client.post(url + "/publish", **tenderer)
    assert again.status_code == 409 and again.json()["code"] == "already_published"
    assert Tender.objects.values().get(public_id=created.json()["id"]) == published
    assert LedgerEntry.objects.filter(action="tendering.tender.published").count() == publications == 1

    listing = client.get("/api/tenders", {"q": "医院"}).json()
    assert [t["number"] for t in listing] == ["API-2026-7"]
    asked = post_json(client, url + "/questions", {"text": "交货期多久？"}, **bidder)
    assert asked.status_code == 201
    document = client.get(url).json()["documents"][0]
    download = client.get(f"{url}/documents/{document['id']}/download", **bidder)
    assert b"".join(download.streaming_content) == PDF_BYTES
    assert download["X-Content-SHA256"] == document["sha256"]
    answered = post_json(client, f"{url}/questions/{asked.json()['id']}/answer", {"answer": "30 日"}, **tenderer)
    assert answered.status_code == 200
    public = Client().get(url).json()
    assert all(c["public_key"].startswith("-----BEGIN PUBLIC KEY-----") for c in public["custodians"])
    assert [(q["text"], q["answer"]) for q in public["questions"]] == [("交货期多久？", "30 日")]
    assert "bidder_a" not in json.dumps(public)


def test_the_openapi_schema_and_docs_are_served():
    client = Client()
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    assert "/api/tenders" in schema.json()["paths"]
    assert client.get("/api/docs").status_code == 200


def test_a_program_revokes_its_own_token_and_it_stops_working(personas):
    client = Client()
    auth = bearer(personas.bidder_a)
    me = client.get("/api/accounts/me", **auth).json()
    assert me["organization_credit_code"] == personas.bidder_org_a.credit_code
    assert client.post("/api/accounts/tokens/current/revoke", **auth).status_code == 204
    revoked_at = ApiToken.objects.get(user=personas.bidder_a).revoked_at
    assert revoked_at is not None
    assert client.get("/api/accounts/me", **auth).status_code == 401
    assert client.post("/api/accounts/tokens/current/revoke", **auth).status_code == 401
    assert ApiToken.objects.get(user=personas.bidder_a).revoked_at == revoked_at
