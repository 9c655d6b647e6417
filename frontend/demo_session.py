"""The other experts of the demo's evaluation session, played while a visitor takes part as ``expert1``.

Each played expert acts through the session's services, as its consumer would run them, and signs its sheets
and the report with its demo signing key (var/demo-keys), as its browser would. The players wait for the
visitor: the chair (``expert2``, elected by the players' votes) closes a stage only once every member's sheet
is in. ``expert5`` gives one score far from the others' mean, and explains it once the deviation is flagged.
Events reach the visitor's page over the channel layer, or from the session's table within
``ROOM_CATCH_UP_SECONDS`` when the layer is the in-memory one (``make run``).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.errors import DomainError
from accounts.models import KeyPurpose, PublicKey, User
from evaluation.models import (
    CommitteeMember,
    Deviation,
    Evaluation,
    MemberState,
    Report,
    ReportSignature,
    Sheet,
    SheetKind,
    Stage,
    Venue,
)
from evaluation.services import closing
from evaluation.services import report as reports
from evaluation.services.session import deviations, marks, signing_in
from evaluation.services.session.common import method_of, opened_bids
from frontend.demo import demo_key
from frontend.demo_evaluation import VISITOR_EXPERT
from tendering.models import Tender

PLAYED = ("expert2", "expert3", "expert4", "expert5")
CHAIR = "expert2"
LOCATIONS = {
    VISITOR_EXPERT: (Venue.SUB, "赣州市公共资源交易中心 副场 B 区"),
    "expert2": (Venue.MAIN, "瑞金市公共资源交易中心 主场 3 号评标室"),
    "expert3": (Venue.SUB, "南昌市公共资源交易中心 副场 A 区"),
    "expert4": (Venue.SUB, "九江市公共资源交易中心 副场"),
    "expert5": (Venue.SUB, "吉安市公共资源交易中心 副场"),
}
# Each bid's base score (of 10) per played expert; expert5's T1 score for the first bid is the deviation.
BASE_SCORES = ("8.00", "7.00", "8.50")
DEVIATING = ("expert5", "T1", "3.00")


def signature_of(username: str, statement: bytes) -> tuple[str, str]:
    """(fingerprint, base64 DER signature) of ``statement`` with the user's demo signing key."""
    private = demo_key(username, KeyPurpose.SIGNING)
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signature = private.sign(statement, ec.ECDSA(hashes.SHA256()))
    return PublicKey.fingerprint_of(spki), base64.b64encode(signature).decode("ascii")


class SessionPlayers:
    def __init__(self, tender: Tender, say: Callable[[str], None], *, everyone: bool = False) -> None:
        self.tender = tender
        self.say = say
        self.played = (VISITOR_EXPERT, *PLAYED) if everyone else PLAYED
        self.users = {u.username: u for u in User.objects.filter(username__in=[*PLAYED, VISITOR_EXPERT])}
        self.told: set[str] = set()

    def tell(self, line: str) -> None:
        """Say ``line`` once (the players look at the session every few seconds)."""
        if line not in self.told:
            self.told.add(line)
            self.say(line)

    def act(self, username: str, what: str, service: Callable[..., object], *args: object) -> None:
        """Run ``service(*args)`` for ``username``; a refusal is told once, and the players go on."""
        try:
            service(*args)
        except DomainError as exc:
            self.tell(f"  {username}: {what} refused: {exc.message}")
            return
        self.say(f"  {username} {what}")

    def members(self, evaluation: Evaluation) -> dict[str, CommitteeMember]:
        rows = CommitteeMember.objects.filter(evaluation=evaluation, state=MemberState.CONFIRMED).select_related(
            "expert__user"
        )
        return {m.expert.user.username: m for m in rows}

    def step(self) -> bool:
        """One look at the session and the players' next actions; True once the report is filed."""
        evaluation = Evaluation.objects.get(tender=self.tender)
        members = self.members(evaluation)
        played = [u for u in self.played if u in members]
        stage = evaluation.stage
        if stage == Stage.SIGN_IN:
            self.sign_in(evaluation, members, played)
        elif stage in (Stage.QUALIFICATION, Stage.SCORING):
            self.fill_sheets(evaluation, members, played, stage)
        elif stage in (Stage.PRICE, Stage.SUMMARY):
            self.close(evaluation, members, stage)
        elif stage == Stage.REPORT:
            self.sign_report(evaluation, members, played)
        return (
            stage == Stage.CONCLUDED or Report.objects.filter(evaluation=evaluation, signed_at__isnull=False).exists()
        )

    def sign_in(self, evaluation: Evaluation, members: dict[str, CommitteeMember], played: list[str]) -> None:
        bids = opened_bids(self.tender)
        for username in played:
            member, user = members[username], self.users[username]
            if member.signed_in_at is None:
                venue, location = LOCATIONS[username]
                self.act(username, f"signed in ({location})", signing_in.sign_in, user, self.tender, venue, location)
            if not member.declarations.exists():
                declarations = [(b.bid.public_id, False, "") for b in bids]
                self.act(
                    username,
                    "declared no conflict with any bidder",
                    signing_in.declare,
                    user,
                    self.tender,
                    declarations,
                )
            evaluation.refresh_from_db(fields=["chair"])
            if evaluation.chair_id is None and not hasattr(member, "chair_vote"):
                chair = members[CHAIR]
                self.act(username, f"voted {CHAIR} as chair", signing_in.vote_chair, user, self.tender, chair.pk)
        members = self.members(evaluation)
        waiting = [u for u, m in members.items() if m.signed_in_at is None or not m.declarations.exists()]
        if waiting:
            self.tell(
                f"  waiting for {', '.join(sorted(waiting))} to sign in and declare (回避声明) on the session page"
            )
            return
        self.close(evaluation, members, Stage.SIGN_IN)

    def fill_sheets(
        self, evaluation: Evaluation, members: dict[str, CommitteeMember], played: list[str], stage: str
    ) -> None:
        kind = SheetKind.QUALIFICATION if stage == Stage.QUALIFICATION else SheetKind.SCORING
        method = method_of(self.tender)
        bids = marks.sheet_bids(self.tender, evaluation, kind)
        for username in played:
            member, user = members[username], self.users[username]
            if Sheet.objects.filter(member=member, kind=kind, submitted_at__isnull=False).exists():
                continue
            for position, bid in enumerate(bids):
                for item in marks.sheet_items(method, kind):
                    if kind == SheetKind.QUALIFICATION:
                        marks.save_mark(
                            user, self.tender, kind, bid.bid.public_id, item, passed=True, reason="符合要求"
                        )
                    else:
                        score = BASE_SCORES[position % len(BASE_SCORES)]
                        if (username, item, position) == (DEVIATING[0], DEVIATING[1], 0):
                            score = DEVIATING[2]
                        marks.save_mark(user, self.tender, kind, bid.bid.public_id, item, score=score)
            statement, _digest = marks.sheet_statement(user, self.tender, kind)
            fingerprint, signature = signature_of(username, statement)
            self.act(
                username,
                f"submitted its signed {kind} sheet",
                marks.submit_sheet,
                user,
                self.tender,
                kind,
                fingerprint,
                signature,
            )
        for deviation in Deviation.objects.filter(
            mark__sheet__member__evaluation=evaluation, explained_at__isnull=True, revised_at__isnull=True
        ).select_related("mark__sheet__member__expert__user"):
            username = deviation.mark.sheet.member.expert.user.username
            if username in played:
                self.act(
                    username,
                    f"explained its deviating score ({deviation.percent} % from the mean)",
                    deviations.explain_deviation,
                    self.users[username],
                    self.tender,
                    deviation.pk,
                    "该投标人施工组织设计对雨季施工和交通导改考虑不足，故评分较低。",
                )
        missing = [
            u
            for u, m in members.items()
            if not Sheet.objects.filter(member=m, kind=kind, submitted_at__isnull=False).exists()
        ]
        if missing:
            self.tell(f"  waiting for {', '.join(sorted(missing))} to submit the {kind} sheet")
            return
        self.close(evaluation, members, stage)

    def close(self, evaluation: Evaluation, members: dict[str, CommitteeMember], stage: str) -> None:
        chair = evaluation.chair
        if chair is None or chair.expert.user.username not in PLAYED:
            self.tell(f"  the chair closes the stage {Stage(stage).label} (the visitor is the chair)")
            return
        user = self.users[chair.expert.user.username]
        self.act(
            chair.expert.user.username,
            f"(chair) closed the stage {Stage(stage).label}",
            closing.close_stage,
            user,
            self.tender,
            stage,
        )

    def sign_report(self, evaluation: Evaluation, members: dict[str, CommitteeMember], played: list[str]) -> None:
        report = Report.objects.filter(evaluation=evaluation).first()
        if report is None:
            return
        for username in played:
            if ReportSignature.objects.filter(report=report, member=members[username]).exists():
                continue
            statement = reports.report_statement(members[username])
            fingerprint, signature = signature_of(username, statement)
            self.act(
                username,
                "signed the report",
                reports.sign_report,
                self.users[username],
                evaluation,
                fingerprint,
                signature,
            )
        visitor = members.get(VISITOR_EXPERT)
        if visitor is not None and not ReportSignature.objects.filter(report=report, member=visitor).exists():
            self.tell(f"  waiting for {VISITOR_EXPERT} to sign (or refuse) the report on the session page")
        elif report.signed_at is None:
            self.tell(
                "  every member has decided: the worker files the signed report (is manage.py db_worker running?)"
            )


def play_session(
    tender: Tender,
    *,
    pause: float = 3.0,
    wait: float = 1800.0,
    everyone: bool = False,
    say: Callable[[str], None] = print,
) -> bool:
    """Play experts 2–5 (with ``everyone``, the visitor's expert1 too) until the report is filed (True) or
    ``wait`` seconds pass (False)."""
    players = SessionPlayers(tender, say, everyone=everyone)
    say(f"Playing experts {', '.join(players.played)} in the evaluation session of {tender.number}:")
    ends = time.monotonic() + wait
    while time.monotonic() < ends:
        if players.step():
            say("  the report is signed and filed.")
            return True
        time.sleep(pause)
    return False
