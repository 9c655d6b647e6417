"""The draw on the pages and the API: names hidden from the tenderer and the bidders (counts only), the public
record with codes only, the request and commitment forms, the expert's answer from its dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from config import clock as platform_clock
from evaluation import draw as algorithm
from evaluation.models import Evaluation, MemberState
from tendering.models import Tender
from tests.evaluation.pool_helpers import drawn, eligible_pool
from tests.fixtures.personas import Personas


def client_for(user: object | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)  # type: ignore[arg-type]
    return client


@pytest.fixture
def drawn_tender(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> tuple[Evaluation, list[object]]:
    eligible_pool(5, "TJ01")
    evaluation, _bids, bidder_users = drawn(personas, published_tender, frozen_clock, tmp_path, {"TJ01": 3})
    return evaluation, list(bidder_users)


def test_names_are_hidden_from_the_tenderer_and_the_bidders(
    personas: Personas, published_tender: Tender, drawn_tender: tuple[Evaluation, list[object]]
) -> None:
    evaluation, bidder_users = drawn_tender
    names = [m.expert.name for m in evaluation.members.select_related("expert")]
    codes = [m.expert.code for m in evaluation.members.select_related("expert")]
    page = f"/tenders/{published_tender.public_id}/"
    for user in (personas.tenderer, *bidder_users, None):
        client = client_for(user)
        for url in (
            page,
            f"/api/tenders/{published_tender.public_id}/draw",
            f"/api/tenders/{published_tender.public_id}/draw/committee",
        ):
            response = client.get(url)
            assert response.status_code == 200, url
            text = response.content.decode()
            assert not any(name in text for name in names), (user, url)
    tenderer_page = client_for(personas.tenderer).get(page).content.decode()
    assert "申请 3 人；已确认 0 人，待确认 3 人。" in tenderer_page
    record = client_for(None).get(f"/api/tenders/{published_tender.public_id}/draw").json()
    assert record == evaluation.draw_record
    assert {s["expert"] for s in record["invited"]} == set(codes)
    assert algorithm.verify_record(record).ok
    draw_page = client_for(personas.tenderer).get(f"/tenders/{published_tender.public_id}/experts/")
    assert draw_page.status_code == 200
    assert not any(name in draw_page.content.decode() for name in names)
    # A bidder may not open the draw's page at all.
    assert client_for(bidder_users[0]).get(f"/tenders/{published_tender.public_id}/experts/").status_code == 403


def test_the_record_is_not_public_before_the_draw(personas: Personas, published_tender: Tender) -> None:
    eligible_pool(3, "TJ01")
    client = client_for(personas.tenderer)
    response = client.post(
        f"/tenders/{published_tender.public_id}/experts/",
        {"action": "request", "count_TJ01": "3", "excluded_regions": "3607，360781"},
    )
    assert response.status_code == 302
    evaluation = Evaluation.objects.get(tender=published_tender)
    assert evaluation.excluded_regions == ["3607", "360781"]
    missing = client_for(None).get(f"/api/tenders/{published_tender.public_id}/draw")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_drawn")


def test_the_supervisor_commits_from_the_page_and_a_bad_commitment_changes_nothing(
    personas: Personas, published_tender: Tender
) -> None:
    eligible_pool(3, "TJ01")
    client_for(personas.tenderer).post(
        f"/tenders/{published_tender.public_id}/experts/", {"action": "request", "count_TJ01": "3"}
    )
    url = f"/tenders/{published_tender.public_id}/experts/"
    regulator = client_for(personas.regulator)
    page = regulator.get(url).content.decode()
    assert 'id="commit-form"' in page and "draw-page.js" in page
    bad = regulator.post(url, {"action": "commit", "commitment": "not-hex"}, follow=True)
    assert "64 位十六进制" in bad.content.decode()
    assert Evaluation.objects.get(tender=published_tender).supervisor_id is None
    supervision = regulator.get("/supervision/tenders/").content.decode()
    assert 'id="draws"' in supervision and published_tender.number in supervision and "待提交抽取承诺值" in supervision
    good = algorithm.commitment_of(b"\x07" * 32)
    regulator.post(url, {"action": "commit", "commitment": good})
    evaluation = Evaluation.objects.get(tender=published_tender)
    assert (evaluation.supervisor_id, evaluation.commitments.get(party="supervisor").commitment) == (
        personas.regulator.pk,
        good,
    )


def test_the_expert_answers_from_its_dashboard(
    published_tender: Tender, drawn_tender: tuple[Evaluation, list[object]]
) -> None:
    evaluation, _bidders = drawn_tender
    first, second = list(evaluation.members.select_related("expert__user").order_by("draw_rank"))[:2]
    dashboard = client_for(first.expert.user).get("/dashboard/").content.decode()
    assert published_tender.title in dashboard and "远程" in dashboard
    client_for(first.expert.user).post(f"/tenders/{published_tender.public_id}/invitation/", {"answer": "confirm"})
    client_for(second.expert.user).post(
        f"/tenders/{published_tender.public_id}/invitation/", {"answer": "decline", "reason": "时间冲突"}
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == (MemberState.CONFIRMED, MemberState.DECLINED)
    record = Evaluation.objects.get(pk=evaluation.pk).draw_record
    assert record is not None
    assert record["redraws"][0]["replaced"] == second.expert.code


def test_the_api_runs_the_same_steps_and_refuses_as_the_services_do(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> None:
    from tests.evaluation.factories import open_bids

    eligible_pool(4, "TJ01")
    base = f"/api/tenders/{published_tender.public_id}"
    tenderer, regulator = client_for(personas.tenderer), client_for(personas.regulator)
    bad = tenderer.post(f"{base}/draw/request", {"lines": {"TJ01": 0}}, content_type="application/json")
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
    made = tenderer.post(
        f"{base}/draw/request", {"lines": {"TJ01": 3}, "excluded_regions": ["3607"]}, content_type="application/json"
    )
    assert made.status_code == 200 and made.json()["requested"] == 3
    secret = b"\x05" * 32
    committed = regulator.post(
        f"{base}/draw/commitment", {"commitment": algorithm.commitment_of(secret)}, content_type="application/json"
    )
    assert committed.status_code == 200
    open_bids(personas, published_tender, frozen_clock, tmp_path, 3)
    assert tenderer.post(f"{base}/draw/freeze").status_code == 200
    wrong = regulator.post(f"{base}/draw/reveal", {"secret": (b"\x06" * 32).hex()}, content_type="application/json")
    assert (wrong.status_code, wrong.json()["code"]) == (409, "reveal_mismatch")
    revealed = regulator.post(f"{base}/draw/reveal", {"secret": secret.hex()}, content_type="application/json")
    assert revealed.status_code == 200 and algorithm.verify_record(revealed.json()).ok
    member = Evaluation.objects.get(tender=published_tender).members.select_related("expert__user").first()
    assert member is not None
    expert = client_for(member.expert.user)
    assert expert.post(f"{base}/invitation/confirm").json() == {"state": "confirmed"}
    again = expert.post(f"{base}/invitation/confirm")
    assert (again.status_code, again.json()["code"]) == (409, "already_answered")
    counts = client_for(None).get(f"{base}/draw/committee").json()
    assert (counts["requested"], counts["confirmed"], counts["invited"], counts["drawn"]) == (3, 1, 2, True)
