"""Every refusal of the session's "bad input" list, through its services: a clear code and message, and nothing
changed (marks, sheets, deviations, events, ledger entries, the evaluation's stage)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from accounts.errors import DomainError
from archive.models import LedgerEntry
from evaluation.models import Clarification, Deviation, Mark, MarkRevision, SessionEvent, Sheet, Stage
from evaluation.services.session import clarifications, deviations, marks, signing_in, stages
from tests.evaluation.session.helpers import even, qualify_all, score_all, submit, to_qualification

pytestmark = pytest.mark.django_db


def state(case: Any) -> tuple[Any, ...]:
    case.evaluation.refresh_from_db()
    return (
        list(Mark.objects.order_by("pk").values_list("pk", "score", "passed", "reason")),
        list(Sheet.objects.order_by("pk").values_list("pk", "submitted_at", "signature")),
        list(Deviation.objects.order_by("pk").values_list("pk", "explained_at", "revised_at")),
        MarkRevision.objects.count(),
        list(Clarification.objects.order_by("pk").values_list("pk", "answer", "answered_at")),
        SessionEvent.objects.count(),
        LedgerEntry.objects.count(),
        case.evaluation.stage,
        case.evaluation.chair_id,
    )


def refused(case: Any, call: Any, code: str, *args: Any, **kwargs: Any) -> DomainError:
    before = state(case)
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, (caught.value.code, caught.value.message)
    assert str(caught.value.message)
    assert state(case) == before
    return caught.value


@pytest.fixture
def scoring(session_case: Any) -> Any:
    """A session in its scoring stage: 3 bids qualified by 3 experts."""
    case = session_case(n_bids=3, n_experts=3)
    to_qualification(case)
    qualify_all(case)
    stages.close_stage(case.experts[0], case.tender, "qualification")
    return case


def test_scores_out_of_range_not_numbers_or_with_three_places_are_refused(scoring: Any) -> None:
    user, bid = scoring.experts[1], scoring.bids[0].public_id
    for bad in ["10.01", "-1", "abc", "NaN", "Infinity", "7.555", "1e1000", ""]:
        refused(scoring, marks.save_mark, "invalid_input", user, scoring.tender, "scoring", bid, "T1", score=bad)
    marks.save_mark(user, scoring.tender, "scoring", bid, "T1", score="10")
    assert Mark.objects.get(sheet__member=scoring.members[1], item="T1").score == 10


def test_an_unknown_criterion_or_bid_or_a_mark_of_the_wrong_sheet_is_refused(scoring: Any) -> None:
    user, bid = scoring.experts[1], scoring.bids[0].public_id
    refused(scoring, marks.save_mark, "invalid_input", user, scoring.tender, "scoring", bid, "X9", score="5")
    other = scoring.bids[0].public_id.__class__("00000000-0000-4000-8000-000000000000")
    refused(scoring, marks.save_mark, "invalid_input", user, scoring.tender, "scoring", other, "T1", score="5")
    # The qualification sheet is closed with its stage.
    refused(scoring, marks.save_mark, "wrong_stage", user, scoring.tender, "qualification", bid, "Q1", passed=True)
    # Someone who is not a member, and the supervisor, who only watches.
    refused(
        scoring,
        marks.save_mark,
        "not_a_member",
        scoring.bidder_users[0],
        scoring.tender,
        "scoring",
        bid,
        "T1",
        score="5",
    )
    refused(scoring, marks.save_mark, "read_only", scoring.supervisor, scoring.tender, "scoring", bid, "T1", score="5")


def test_a_mark_after_the_sheet_is_submitted_and_a_second_submission_are_refused(scoring: Any) -> None:
    user = scoring.experts[0]
    for bid in scoring.bids:
        for item in ("T1", "C1"):
            marks.save_mark(user, scoring.tender, "scoring", bid.public_id, item, score="8")
    submit(scoring, 0, "scoring")
    refused(
        scoring,
        marks.save_mark,
        "sheet_locked",
        user,
        scoring.tender,
        "scoring",
        scoring.bids[0].public_id,
        "T1",
        score="9",
    )
    statement, _sha = marks.sheet_statement(user, scoring.tender, "scoring")
    refused(
        scoring,
        marks.submit_sheet,
        "already_submitted",
        user,
        scoring.tender,
        "scoring",
        scoring.fingerprint(0),
        scoring.sign(0, statement),
    )


def test_an_incomplete_sheet_a_forged_signature_another_key_and_a_replayed_signature_are_refused(
    scoring: Any,
) -> None:
    user, tender = scoring.experts[1], scoring.tender
    marks.save_mark(user, tender, "scoring", scoring.bids[0].public_id, "T1", score="8")
    statement, _sha = marks.sheet_statement(user, tender, "scoring")
    refused(
        scoring,
        marks.submit_sheet,
        "invalid_input",
        user,
        tender,
        "scoring",
        scoring.fingerprint(1),
        scoring.sign(1, statement),
    )
    for bid in scoring.bids:
        for item in ("T1", "C1"):
            marks.save_mark(user, tender, "scoring", bid.public_id, item, score="8")
    statement, _sha = marks.sheet_statement(user, tender, "scoring")
    # Forged: a signature over other bytes; another member's key (registered, but not this member's).
    refused(
        scoring,
        marks.submit_sheet,
        "invalid_input",
        user,
        tender,
        "scoring",
        scoring.fingerprint(1),
        scoring.sign(1, statement + b" "),
    )
    refused(
        scoring,
        marks.submit_sheet,
        "invalid_input",
        user,
        tender,
        "scoring",
        scoring.fingerprint(2),
        scoring.sign(2, statement),
    )
    refused(
        scoring,
        marks.submit_sheet,
        "invalid_input",
        user,
        tender,
        "scoring",
        scoring.fingerprint(1),
        "bm90IGJhc2U2NA==",
    )
    # Replayed: this member's own signature of its qualification sheet (another stage's statement).
    qualification = Sheet.objects.get(member=scoring.members[1], kind="qualification")
    import base64

    replay = base64.b64encode(bytes(qualification.signature)).decode()
    refused(scoring, marks.submit_sheet, "invalid_input", user, tender, "scoring", scoring.fingerprint(1), replay)
    submit(scoring, 1, "scoring")


def test_closing_a_stage_with_sheets_missing_or_deviations_unexplained_or_by_a_non_chair_is_refused(
    scoring: Any,
) -> None:
    chair = scoring.experts[0]
    refused(scoring, stages.close_stage, "sheets_missing", chair, scoring.tender, "scoring")
    refused(scoring, stages.close_stage, "not_chair", scoring.experts[1], scoring.tender, "scoring")
    refused(scoring, stages.close_stage, "wrong_stage", chair, scoring.tender, "price")
    score_all(scoring, lambda e, b, item: "4.00" if (e, b, item) == (2, 0, "T1") else even(e, b, item))
    assert Deviation.objects.count() == 1
    refused(scoring, stages.close_stage, "deviations_unresolved", chair, scoring.tender, "scoring")
    deviation = Deviation.objects.get()
    # Only its own expert answers a deviation, with a reason.
    refused(
        scoring,
        deviations.explain_deviation,
        "not_your_deviation",
        scoring.experts[0],
        scoring.tender,
        deviation.pk,
        "理由",
    )
    refused(
        scoring,
        deviations.revise_score,
        "invalid_input",
        scoring.experts[2],
        scoring.tender,
        deviation.pk,
        "11",
        "超出范围",
    )
    deviations.explain_deviation(scoring.experts[2], scoring.tender, deviation.pk, "技术方案存在重大缺陷。")
    refused(
        scoring,
        deviations.revise_score,
        "deviation_resolved",
        scoring.experts[2],
        scoring.tender,
        deviation.pk,
        "7",
        "再改",
    )
    assert stages.close_stage(chair, scoring.tender, "scoring") == Stage.PRICE


def test_an_expert_who_declared_a_conflict_cannot_score(session_case: Any) -> None:
    case = session_case(n_bids=3, n_experts=3)
    user = case.experts[2]
    signing_in.sign_in(user, case.tender, "main", "南昌")
    signing_in.declare(user, case.tender, [(b.public_id, i == 1, "") for i, b in enumerate(case.bids)])
    case.evaluation.stage = Stage.QUALIFICATION
    case.evaluation.save(update_fields=["stage"])
    refused(
        case,
        marks.save_mark,
        "not_a_member",
        user,
        case.tender,
        "qualification",
        case.bids[1].public_id,
        "Q1",
        passed=True,
    )
    refused(
        case,
        marks.save_mark,
        "not_a_member",
        user,
        case.tender,
        "qualification",
        case.bids[0].public_id,
        "Q1",
        passed=True,
    )


def test_declarations_must_name_every_bid_once_and_a_second_sign_in_is_refused(session_case: Any) -> None:
    case = session_case(n_bids=3, n_experts=3)
    user = case.experts[0]
    refused(case, signing_in.declare, "not_signed_in", user, case.tender, [(b.public_id, False, "") for b in case.bids])
    signing_in.sign_in(user, case.tender, "main", "南昌")
    refused(case, signing_in.sign_in, "already_signed_in", user, case.tender, "sub", "赣州")
    refused(case, signing_in.declare, "invalid_input", user, case.tender, [(case.bids[0].public_id, False, "")])
    refused(case, signing_in.vote_chair, "invalid_input", user, case.tender, 10**9)


def test_a_clarification_answer_after_its_deadline_or_by_another_bidder_is_refused(scoring: Any) -> None:
    chair, tender = scoring.experts[0], scoring.tender
    deadline = scoring.clock() + dt.timedelta(hours=1)
    refused(
        scoring,
        clarifications.ask_clarification,
        "not_chair",
        scoring.experts[1],
        tender,
        scoring.bids[0].public_id,
        "请说明工期。",
        deadline,
    )
    refused(
        scoring,
        clarifications.ask_clarification,
        "invalid_input",
        chair,
        tender,
        scoring.bids[0].public_id,
        "请说明工期。",
        scoring.clock() - dt.timedelta(minutes=1),
    )
    asked = clarifications.ask_clarification(chair, tender, scoring.bids[0].public_id, "请说明工期。", deadline)
    refused(
        scoring,
        clarifications.answer_clarification,
        "not_the_bidder",
        scoring.bidder_users[1],
        asked,
        "工期 180 日历天。",
    )
    refused(scoring, clarifications.answer_clarification, "not_the_bidder", scoring.experts[1], asked, "代答")
    scoring.clock.advance(hours=1, seconds=1)
    refused(
        scoring,
        clarifications.answer_clarification,
        "clarification_deadline_passed",
        scoring.bidder_users[0],
        asked,
        "工期 180 日历天。",
    )
    second = clarifications.ask_clarification(
        chair, tender, scoring.bids[0].public_id, "请说明项目经理。", scoring.clock() + dt.timedelta(hours=1)
    )
    answered = clarifications.answer_clarification(scoring.bidder_users[0], second, "项目经理为张三。")
    assert answered.answer == "项目经理为张三。"
    refused(scoring, clarifications.answer_clarification, "already_answered", scoring.bidder_users[0], second, "再答")


def test_the_sign_in_stage_closes_only_with_everyone_signed_in_and_declared_and_a_chair(session_case: Any) -> None:
    from tests.evaluation.session.helpers import declare_all

    case = session_case(n_bids=3, n_experts=3)
    signing_in.sign_in(case.experts[0], case.tender, "main", "南昌")
    signing_in.vote_chair(case.experts[0], case.tender, case.members[0].pk)
    refused(case, stages.close_stage, "not_chair", case.experts[0], case.tender, "sign_in")
    # One vote of three is not a majority; a second is.
    assert signing_in.vote_chair(case.experts[1], case.tender, case.members[0].pk) is not None
    refused(case, signing_in.vote_chair, "chair_elected", case.experts[2], case.tender, case.members[2].pk)
    refused(case, stages.close_stage, "members_not_ready", case.experts[0], case.tender, "sign_in")
    for user in case.experts[1:]:
        signing_in.sign_in(user, case.tender, "sub", "赣州")
    refused(case, stages.close_stage, "members_not_ready", case.experts[0], case.tender, "sign_in")
    declare_all(case)
    assert stages.close_stage(case.experts[0], case.tender, "sign_in") == Stage.QUALIFICATION
    # No event of the session was ever for a bidder: every audience is the committee's, the staff's or one expert's.
    audiences = set(SessionEvent.objects.values_list("audience", flat=True))
    assert audiences and all(a in ("all", "staff") or a.startswith("expert:") for a in audiences)


def test_an_expert_deactivated_after_connecting_is_refused_every_command_with_the_user_it_connected_as(
    scoring: Any,
) -> None:
    """The session's commands get the connection's user, read at connect (``SessionConsumer.command_user``): the
    membership's own statement (``member_of``) is what refuses a user deactivated since."""
    from accounts.models import User
    from evaluation.services.session import discussion

    user = scoring.experts[1]
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert user.is_active  # the object the connection holds still says so
    bid = scoring.bids[0].public_id
    refused(scoring, marks.save_mark, "not_a_member", user, scoring.tender, "scoring", bid, "T1", score="5")
    refused(scoring, discussion.post_message, "not_a_member", user, scoring.tender, "请看第三页")
    refused(scoring, marks.sheet_statement, "not_a_member", user, scoring.tender, "scoring")
    User.objects.filter(pk=user.pk).update(is_active=True)
    marks.save_mark(user, scoring.tender, "scoring", bid, "T1", score="5")
    assert Mark.objects.get(sheet__member=scoring.members[1], item="T1", bid__public_id=bid).score == 5


def test_who_may_stay_in_the_session_is_read_in_one_statement_with_the_user_as_it_connected(
    session_case: Any, django_assert_num_queries: Any
) -> None:
    """``may_stay`` (each listener's check in the background) gets the connection's user, read at connect: the
    user's active flag, the membership and the supervisor are read in its one statement."""
    from accounts.models import User
    from evaluation.models import CommitteeMember, MemberState
    from evaluation.services.session.admission import may_stay

    case = session_case(n_bids=3, n_experts=3)
    member, recused, deactivated = case.experts
    CommitteeMember.objects.filter(pk=case.members[1].pk).update(state=MemberState.RECUSED)
    User.objects.filter(pk=deactivated.pk).update(is_active=False)
    with django_assert_num_queries(1):
        assert may_stay(member, case.tender)
    assert may_stay(case.supervisor, case.tender)
    assert not may_stay(recused, case.tender)
    assert not may_stay(deactivated, case.tender)  # the object still says active: the database does not
    assert not may_stay(case.bidder_users[0], case.tender)
    assert not may_stay(case.personas.tenderer, case.tender)
    User.objects.filter(pk=case.supervisor.pk).update(is_active=False)
    assert not may_stay(case.supervisor, case.tender)
