import io
import json

from django.test import Client
from django.urls import reverse

from accounts.services import issue_api_token
from tendering.models import Notification
from tendering.services import amendments, documents, notifications
from tests.fixtures.personas import PASSWORD, PDF_BYTES


def _amend_after_downloads(personas, frozen_clock, tender, *users):
    for user in users:
        documents.record_download(user, tender.documents.get())
    frozen_clock.advance(hours=1)
    amendments.issue_amendment(
        personas.tenderer, tender, "补充图纸", files=[("图纸.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))]
    )


def test_nobody_can_mark_another_users_notices_read(personas, frozen_clock, published_tender):
    _amend_after_downloads(personas, frozen_clock, published_tender, personas.bidder_a, personas.bidder_b)
    notice_a = Notification.objects.get(recipient=personas.bidder_a)
    assert notifications.mark_read(personas.bidder_b, [notice_a.pk]) == 0
    notice_a.refresh_from_db()
    assert notice_a.read_at is None
    assert notifications.mark_read(personas.bidder_a, [notice_a.pk]) == 1
    assert notifications.mark_read(personas.bidder_a, [notice_a.pk]) == 0


def test_the_api_lists_only_my_notices_and_marks_them_read(personas, frozen_clock, published_tender):
    _amend_after_downloads(personas, frozen_clock, published_tender, personas.bidder_a, personas.bidder_b)
    client = Client()
    auth = {"HTTP_AUTHORIZATION": "Bearer " + issue_api_token(personas.bidder_a, "cli")[0]}
    listed = client.get("/api/notifications", {"unread": "true"}, HTTP_ACCEPT_LANGUAGE="en", **auth).json()
    assert [n["tender_number"] for n in listed] == [published_tender.number]
    assert "amendment" in listed[0]["message"].lower()
    other = Notification.objects.get(recipient=personas.bidder_b)
    marked = client.post(
        "/api/notifications/read",
        json.dumps({"ids": [listed[0]["id"], other.pk]}),
        content_type="application/json",
        **auth,
    )
    assert marked.json() == {"marked": 1}
    assert client.get("/api/notifications", {"unread": "true"}, **auth).json() == []
    assert Notification.objects.get(pk=other.pk).read_at is None
    assert client.get("/api/notifications").status_code == 401


def test_the_dashboard_marks_all_my_notices_read(personas, frozen_clock, published_tender):
    _amend_after_downloads(personas, frozen_clock, published_tender, personas.bidder_a)
    client = Client()
    client.login(username="bidder_a", password=PASSWORD)
    assert client.get(reverse("frontend:notifications-read")).status_code == 405
    response = client.post(reverse("frontend:notifications-read"), follow=True)
    assert response.status_code == 200
    assert Notification.objects.get().read_at is not None
