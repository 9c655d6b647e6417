"""The demo's evaluation: load_demo leaves a tender whose committee was drawn and waits in its session, and the
demo's players (frontend/demo_session.py) take it, with the visitor's part played too, to a filed report."""

from __future__ import annotations

import json

import pytest

from archive.ledger import verify_ledger
from archive.models import LedgerEntry
from config import clock
from evaluation import draw as algorithm
from evaluation.models import CommitteeMember, Deviation, Evaluation, MemberState, Report, Stage
from evaluation.services.report import file_report
from frontend.demo import load_demo
from frontend.demo_evaluation import DEMO_EVALUATION_NUMBER, demo_evaluation
from frontend.demo_session import DEVIATING, play_session
from tendering.models import BidOpening, BidOpeningState, Phase

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(tmp_path, settings):
    from archive.storage import reset_object_store_cache

    settings.VAR_DIR = tmp_path
    settings.DEVELOPMENT_PKI_DIR = tmp_path / "pki"
    settings.OBJECT_STORE_ROOT = tmp_path / "objects"
    settings.S3_ENDPOINT = ""
    reset_object_store_cache()
    load_demo()
    tender = demo_evaluation(tmp_path / "demo-keys")
    yield tender
    reset_object_store_cache()


def test_the_demo_evaluation_is_drawn_without_the_conflicted_experts_and_its_players_file_a_signed_report(demo):
    tender = demo
    assert tender.number == DEMO_EVALUATION_NUMBER
    assert tender.phase(clock.now()) == Phase.EVALUATION
    # Three bids opened, each with its response index read from inside the ciphertext.
    openings = list(BidOpening.objects.filter(opening__tender=tender))
    assert [o.state for o in openings] == [BidOpeningState.OPENED] * 3
    assert all(o.response_index and len(o.files) == 6 for o in openings)
    evaluation = Evaluation.objects.get(tender=tender)
    assert evaluation.stage == Stage.SIGN_IN
    confirmed = CommitteeMember.objects.filter(evaluation=evaluation, state=MemberState.CONFIRMED)
    assert sorted(m.expert.user.username for m in confirmed) == [f"expert{i}" for i in range(1, 6)]
    # The bidder's employee and the expert from the tender's own county were excluded, each with its reason.
    record = evaluation.draw_record
    assert record is not None
    excluded = {e["expert"]: e["reasons"] for e in record["exclusions"]}
    assert set(excluded) >= {"E1006", "E1007"}, excluded
    assert algorithm.verify_record(record).ok
    assert "专家6" not in json.dumps(record, ensure_ascii=False)  # codes only, no names

    # The players (the visitor's part too) take the session to a signed report, filed by the worker.
    said: list[str] = []
    assert not play_session(tender, pause=0, wait=60, everyone=True, say=said.append)  # the worker files it
    evaluation = Evaluation.objects.get(tender=tender)
    assert evaluation.stage == Stage.REPORT, said
    # expert5's deviating score was flagged and explained before the scoring stage closed.
    deviation = Deviation.objects.get(mark__sheet__member__expert__user__username=DEVIATING[0])
    assert deviation.mark.item == DEVIATING[1] and deviation.explained_at is not None
    assert file_report(evaluation.pk) == "filed"
    assert play_session(tender, pause=0, wait=5, everyone=True, say=said.append)
    tender.refresh_from_db()
    assert tender.phase(clock.now()) == Phase.CANDIDATES
    report = Report.objects.get(evaluation=evaluation)
    assert report.signatures.count() == 5 and report.pdf_sha256
    assert not [line for line in said if "refused" in line], said
    actions = set(LedgerEntry.objects.filter(case=tender.case).values_list("action", flat=True))
    assert {"evaluation.draw.made", "tendering.evaluation.reported"} <= actions, actions
    assert verify_ledger().ok
