"""The session's page for members and the supervisor, nobody else; the bidder's clarification page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from evaluation.models import Clarification
from tests.frontend.csp import assert_strict_policy

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def session_url(case: Any) -> str:
    return f"/evaluation/{case.tender.public_id}/session/"


def clarifications_url(case: Any) -> str:
    return f"/tenders/{case.tender.public_id}/clarifications/"


def ask(case: Any, bid_index: int, *, minutes: int = 60) -> Clarification:
    now = case.clock()
    return Clarification.objects.create(
        evaluation=case.evaluation,
        bid=case.bids[bid_index],
        question="请说明施工工期安排。",
        asked_by=case.members[0],
        asked_at=now,
        reply_deadline=now + dt.timedelta(minutes=minutes),
    )


def test_the_session_page_is_refused_to_bidders_the_tenderer_and_experts_outside_the_committee(
    session_case: Any,
) -> None:
    case = session_case(n_bids=3, n_experts=3)
    for user in (case.bidder_users[0], case.personas.tenderer, case.personas.expert):
        assert client_for(user).get(session_url(case)).status_code == 403


def test_a_member_and_the_supervisor_get_the_page_the_supervisor_read_only(session_case: Any) -> None:
    case = session_case(n_bids=3, n_experts=3)
    member = client_for(case.experts[0]).get(session_url(case))
    assert member.status_code == 200
    assert_strict_policy(member)
    config = member.context["config"]
    assert config["role"] == "expert" and config["me"] == "专家1"
    assert config["urls"]["socket"] == f"/ws/tenders/{case.tender.public_id}/session/"
    assert config["urls"]["pdfWorker"].endswith("frontend/build/pdf-worker.js")
    assert 'id="read-only-note" class="notice" role="note" hidden' in member.content.decode()
    supervisor = client_for(case.supervisor).get(session_url(case))
    assert supervisor.status_code == 200
    assert supervisor.context["config"]["role"] == "supervisor"
    assert 'id="read-only-note" class="notice" role="note">' in supervisor.content.decode()


def test_the_dashboard_links_a_member_and_the_supervisor_to_the_session(session_case: Any) -> None:
    case = session_case(n_bids=3, n_experts=2)
    for user in (case.experts[1], case.supervisor):
        assert session_url(case) in client_for(user).get("/dashboard/").content.decode()
    assert session_url(case) in client_for(case.supervisor).get("/supervision/tenders/").content.decode()
    assert session_url(case) not in client_for(case.bidder_users[0]).get("/dashboard/").content.decode()


def test_a_bidder_sees_only_its_own_questions_and_answers_before_the_deadline(session_case: Any) -> None:
    case = session_case(n_bids=3, n_experts=2)
    mine, theirs = ask(case, 0), ask(case, 1)
    bidder = client_for(case.bidder_users[0])
    page = bidder.get(clarifications_url(case))
    assert page.status_code == 200
    text = page.content.decode()
    assert f'data-clarification="{mine.pk}"' in text and f'data-clarification="{theirs.pk}"' not in text
    assert clarifications_url(case) in bidder.get("/dashboard/").content.decode()
    # another bidder's question cannot be answered from here
    refused = bidder.post(clarifications_url(case), {"clarification": theirs.pk, "answer": "不是我的"})
    assert refused.status_code == 404
    empty = bidder.post(clarifications_url(case), {"clarification": mine.pk, "answer": "  "})
    assert empty.status_code == 422 and "请填写答复内容" in empty.content.decode()
    mine.refresh_from_db()
    assert mine.answered_at is None
    answered = bidder.post(clarifications_url(case), {"clarification": mine.pk, "answer": "工期 180 日历天，不变。"})
    assert answered.status_code == 302
    mine.refresh_from_db()
    assert mine.answer == "工期 180 日历天，不变。" and mine.answered_by == case.bidder_users[0]
    theirs.refresh_from_db()
    assert theirs.answered_at is None


def test_an_answer_after_the_deadline_is_refused_with_a_clear_message_and_changes_nothing(session_case: Any) -> None:
    case = session_case(n_bids=3, n_experts=2)
    row = ask(case, 0, minutes=30)
    case.clock.advance(minutes=31)
    bidder = client_for(case.bidder_users[0])
    assert "已超过答复截止时间" in bidder.get(clarifications_url(case)).content.decode()
    late = bidder.post(clarifications_url(case), {"clarification": row.pk, "answer": "迟到的答复"})
    assert late.status_code == 422
    assert "已超过答复截止时间，不能再答复。" in late.content.decode()
    row.refresh_from_db()
    assert row.answered_at is None and row.answer == ""
