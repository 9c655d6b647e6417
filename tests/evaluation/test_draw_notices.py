"""A drawn expert is told on its own dashboard (a notice of kind ``expert_invited``): which tender, its specialty,
when the evaluation starts and where to answer; a redraw tells the replacement alone. Nobody else gets a notice,
and no notice names another expert. The invitation page answers the invitation and refuses what it must."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from config import clock as platform_clock
from config.clock import local_text
from evaluation.models import CommitteeMember, Evaluation, Expert, MemberState
from evaluation.services import confirmation
from tendering.models import Notification, NotificationKind, Tender
from tests.evaluation.pool_helpers import drawn, eligible_pool
from tests.fixtures.personas import Personas


def client_for(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def invited_notices() -> list[Notification]:
    return list(Notification.objects.filter(kind=NotificationKind.EXPERT_INVITED).select_related("tender"))


@pytest.fixture
def evaluation(
    personas: Personas, published_tender: Tender, frozen_clock: platform_clock.FrozenClock, tmp_path: Path
) -> Evaluation:
    eligible_pool(5, "TJ01")
    made, _bids, _users = drawn(personas, published_tender, frozen_clock, tmp_path, {"TJ01": 3})
    return made


def members(evaluation: Evaluation) -> list[CommitteeMember]:
    return list(evaluation.members.select_related("expert__user", "specialty").order_by("draw_rank"))


def test_each_drawn_expert_alone_is_told_which_tender_when_and_where_to_answer(
    personas: Personas, evaluation: Evaluation, published_tender: Tender
) -> None:
    drawn_members = members(evaluation)
    notices = invited_notices()
    assert sorted(n.recipient_id for n in notices) == sorted(m.expert.user_id for m in drawn_members)
    tender = Tender.objects.get(pk=published_tender.pk)
    assert tender.opening_closed_at is not None
    others = Expert.objects.exclude(pk__in=[m.expert_id for m in drawn_members])
    assert others.count() == 2
    for notice in notices:
        text = notice.message
        assert notice.tender_id == tender.pk and notice.params["redraw"] is False
        assert f"《{tender.title}》（{tender.number}）" in text
        assert "TJ01" in text and "远程评标" in text and "请在评标邀请页确认参加或拒绝" in text
        assert local_text(tender.opening_closed_at) in text
        # It names no expert: neither the others drawn nor those of the pool who were not.
        for expert in Expert.objects.exclude(user_id=notice.recipient_id):
            assert expert.name not in text and expert.code not in text
    # The pool's other experts, the tenderer, the bidders and the supervisor hear nothing of the draw.
    assert not Notification.objects.filter(recipient__in=[personas.tenderer, personas.regulator]).exists()
    assert not Notification.objects.filter(recipient__in=[e.user for e in others]).exists()
    assert not Notification.objects.exclude(recipient__in=[m.expert.user for m in drawn_members]).exists()


def test_the_dashboard_links_the_notice_to_the_invitation_page_which_answers_it(
    evaluation: Evaluation, published_tender: Tender
) -> None:
    first = members(evaluation)[0]
    expert = client_for(first.expert.user)
    page_url = reverse("frontend:invitation", args=[published_tender.public_id])
    dashboard = expert.get(reverse("frontend:dashboard")).content.decode()
    assert "您被抽取为招标项目" in dashboard and f'href="{page_url}"' in dashboard
    page = expert.get(page_url)
    assert page.status_code == 200
    text = page.content.decode()
    assert published_tender.title in text and 'id="confirm-form"' in text and 'id="decline-form"' in text
    answered = expert.post(page_url, {"answer": "confirm"})
    assert (answered.status_code, answered["Location"]) == (302, page_url)
    first.refresh_from_db()
    assert first.state == MemberState.CONFIRMED
    again = expert.get(page_url).content.decode()
    assert 'id="confirm-form"' not in again and "进入评标室" in again


def test_a_redraw_tells_the_replacement_alone_and_a_decline_without_reason_changes_nothing(
    evaluation: Evaluation, published_tender: Tender
) -> None:
    second = members(evaluation)[1]
    page_url = reverse("frontend:invitation", args=[published_tender.public_id])
    expert = client_for(second.expert.user)
    before = sorted(Notification.objects.values_list("pk", flat=True))

    refused = expert.post(page_url, {"answer": "decline", "reason": "  "}, follow=True)
    assert "请填写拒绝理由" in refused.content.decode()
    second.refresh_from_db()
    assert second.state == MemberState.INVITED
    assert sorted(Notification.objects.values_list("pk", flat=True)) == before
    assert Evaluation.objects.get(pk=evaluation.pk).draw_record["redraws"] == []  # type: ignore[index]

    expert.post(page_url, {"answer": "decline", "reason": "当日另有评标任务"})
    replacement = CommitteeMember.objects.select_related("expert").get(replaces=second)
    new = Notification.objects.exclude(pk__in=before)
    assert [(n.recipient_id, n.kind, n.params["redraw"]) for n in new] == [
        (replacement.expert.user_id, NotificationKind.EXPERT_INVITED, True)
    ]
    text = new.get().message
    assert "您被补充抽取为招标项目" in text
    assert second.expert.name not in text and second.expert.code not in text and "当日另有评标任务" not in text
    # The decliner's page keeps its answer; the replacement's page offers the answer.
    assert "当日另有评标任务" in expert.get(page_url).content.decode()
    assert 'id="confirm-form"' in client_for(replacement.expert.user).get(page_url).content.decode()


def test_a_seat_nobody_is_left_for_tells_nobody(evaluation: Evaluation, published_tender: Tender) -> None:
    # Five in the pool, three drawn: two declines take the last two; the third decline finds nobody.
    for _ in range(2):
        member = evaluation.members.filter(state=MemberState.INVITED).select_related("expert__user").first()
        assert member is not None
        confirmation.decline(member.expert.user, published_tender, "时间冲突")
    count = Notification.objects.count()
    member = evaluation.members.filter(state=MemberState.INVITED).select_related("expert__user").first()
    assert member is not None
    assert confirmation.decline(member.expert.user, published_tender, "时间冲突") is None
    assert Notification.objects.count() == count


def test_the_invitation_page_is_not_found_for_anyone_without_an_invitation(
    personas: Personas, evaluation: Evaluation, published_tender: Tender
) -> None:
    page_url = reverse("frontend:invitation", args=[published_tender.public_id])
    not_drawn = Expert.objects.exclude(pk__in=evaluation.members.values("expert")).select_related("user").first()
    assert not_drawn is not None
    for user in (personas.tenderer, personas.regulator, personas.bidder_a, personas.expert, not_drawn.user):
        assert client_for(user).get(page_url).status_code == 404, user
        refused = client_for(user).post(page_url, {"answer": "confirm"})
        assert refused.status_code == 404, user
    assert evaluation.members.filter(state=MemberState.CONFIRMED).count() == 0
