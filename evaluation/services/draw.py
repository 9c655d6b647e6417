"""The expert request and the verifiable draw: commitments before the deadline, candidates frozen after the
opening, then the reveals, the seed and the committee invited (docs/evaluation.md §3, evaluation/draw.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import Conflict, InvalidInput, NotFound, PermissionDenied, WrongPhase
from accounts.models import Organization, Role, User
from archive import vault
from archive.ledger import record
from config import clock
from evaluation import draw as algorithm
from evaluation.formulas import benchmark_factor
from evaluation.models import (
    CommitteeMember,
    DrawCommitment,
    DrawParty,
    Evaluation,
    Expert,
    ExpertRequestLine,
    MemberState,
    Specialty,
)
from evaluation.services import confirmation
from tendering.models import Bid, BidStatus, Phase, Tender
from tendering.permissions import can_manage, require_manage
from tendering.services.locks import lock_one, lock_tender
from tendering.services.tenders import published_method

MAX_LINES = 20
MAX_COUNT_PER_SPECIALTY = 50
MAX_EXCLUDED_REGIONS = 50
_REGION_PREFIX = re.compile(r"^[0-9]{2,6}$")


class Exclusion:
    """Why an expert of the pool is not a candidate (the codes of the draw record's ``exclusions``)."""

    INACTIVE = "inactive"
    REGION_EXCLUDED = "region_excluded"
    EMPLOYER_IS_BIDDER = "employer_is_bidder"
    EMPLOYER_IS_TENDERER = "employer_is_tenderer"
    RELATIONSHIP = "relationship"
    CO_EVALUATION_LIMIT = "co_evaluation_limit"


def _secret_purpose(evaluation: Evaluation) -> str:
    return f"evaluation-draw-secret:{evaluation.pk}"


def _evaluation_of(tender: Tender) -> Evaluation:
    evaluation = Evaluation.objects.filter(tender=tender).first()
    if evaluation is None:
        raise NotFound(_("该招标项目尚未提出专家抽取申请。"), code="no_expert_request")
    return evaluation


def _lock_evaluation(evaluation: Evaluation) -> Evaluation:
    return lock_one(Evaluation.objects.filter(pk=evaluation.pk))


def _require_before_deadline(tender: Tender, message: str) -> None:
    if tender.phase(clock.now()) != Phase.OPEN_FOR_BIDS:
        raise WrongPhase(message, code="after_bid_deadline")


# --- the request ---------------------------------------------------------------------------------------------


def _checked_request(
    lines: Mapping[str, Any], excluded_regions: Sequence[Any]
) -> tuple[dict[Specialty, int], list[str]]:
    problems: dict[str, list[Any]] = {}
    if not isinstance(lines, Mapping) or not lines:
        problems["lines"] = [_("请至少申请一个评标专业的专家。")]
    elif len(lines) > MAX_LINES:
        problems["lines"] = [_("一次最多申请 %(n)d 个评标专业。") % {"n": MAX_LINES}]
    chosen: dict[Specialty, int] = {}
    if not problems:
        specialties = {s.code: s for s in Specialty.objects.filter(code__in=[str(code) for code in lines])}
        for code, count in lines.items():
            if code not in specialties:
                problems.setdefault("lines", []).append(_("专家库中没有评标专业“%(code)s”。") % {"code": code})
            elif not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT_PER_SPECIALTY:
                problems.setdefault("lines", []).append(
                    _("评标专业“%(code)s”的人数须为 1 至 %(max)d 的整数。")
                    % {"code": code, "max": MAX_COUNT_PER_SPECIALTY}
                )
            else:
                chosen[specialties[code]] = count
    regions: list[str] = []
    if not isinstance(excluded_regions, Sequence) or isinstance(excluded_regions, str):
        problems["excluded_regions"] = [_("回避地区须为行政区划代码的列表。")]
    elif len(excluded_regions) > MAX_EXCLUDED_REGIONS:
        problems["excluded_regions"] = [_("回避地区最多 %(n)d 个。") % {"n": MAX_EXCLUDED_REGIONS}]
    else:
        for prefix in excluded_regions:
            if not isinstance(prefix, str) or not _REGION_PREFIX.fullmatch(prefix):
                problems.setdefault("excluded_regions", []).append(
                    _("“%(value)s”不是行政区划代码（2 至 6 位数字，如 3607 或 360781）。") % {"value": prefix}
                )
            else:
                regions.append(prefix)
    if problems:
        raise InvalidInput(problems)
    return chosen, sorted(set(regions))


def request_experts(
    actor: User, tender: Tender, lines: Mapping[str, int], excluded_regions: Sequence[str]
) -> Evaluation:
    """The tender's manager asks for ``lines`` ({specialty code: count}) experts, from outside
    ``excluded_regions`` (region code prefixes), before the bid deadline. The platform commits to its secret on
    the first request; a changed request keeps that commitment."""
    require_manage(actor, tender, _("只有招标人或代理机构可以申请抽取评标专家。"))
    chosen, regions = _checked_request(lines, excluded_regions)
    with transaction.atomic():
        tender = lock_tender(tender.pk)
        _require_before_deadline(tender, _("投标截止后不能再申请或修改专家抽取。"))
        now = clock.now()
        evaluation = Evaluation.objects.filter(tender=tender).first()
        first = evaluation is None
        if evaluation is None:
            evaluation = Evaluation.objects.create(
                tender=tender, requested_by=actor, requested_at=now, excluded_regions=regions
            )
            secret = secrets.token_bytes(algorithm.SECRET_SIZE)
            DrawCommitment.objects.create(
                evaluation=evaluation,
                party=DrawParty.PLATFORM,
                commitment=algorithm.commitment_of(secret),
                committed_at=now,
                sealed_secret=vault.seal(_secret_purpose(evaluation), secret),
            )
        else:
            evaluation = _lock_evaluation(evaluation)
            evaluation.requested_by = actor
            evaluation.requested_at = now
            evaluation.excluded_regions = regions
            evaluation.save(update_fields=["requested_by", "requested_at", "excluded_regions"])
            evaluation.request_lines.all().delete()
        ExpertRequestLine.objects.bulk_create(
            ExpertRequestLine(evaluation=evaluation, specialty=specialty, count=count)
            for specialty, count in chosen.items()
        )
        platform = evaluation.commitments.get(party=DrawParty.PLATFORM)
        record(
            tender.case,
            "evaluation.draw.requested" if first else "evaluation.draw.request_changed",
            {
                "tender_id": tender.pk,
                "request": {s.code: n for s, n in sorted(chosen.items(), key=lambda item: item[0].code)},
                "excluded_regions": regions,
                "platform_commitment": platform.commitment,
            },
            actor,
        )
    return evaluation


def commit_supervisor(regulator: User, tender: Tender, commitment_hex: str) -> DrawCommitment:
    """A regulator commits SHA-256(its secret) before the bid deadline; the first one to commit supervises.
    Until the deadline the same supervisor may commit again (a lost secret), never another regulator."""
    if not regulator.has_role(Role.REGULATOR):
        raise PermissionDenied(_("只有监督人员可以提交抽取承诺值。"))
    commitment = commitment_hex.strip().lower() if isinstance(commitment_hex, str) else ""
    if not algorithm.is_sha256_hex(commitment):
        raise InvalidInput({"commitment": [_("承诺值须为 64 位十六进制的 SHA-256 摘要。")]})
    with transaction.atomic():
        tender = lock_tender(tender.pk)
        _require_before_deadline(tender, _("投标截止后不能再提交抽取承诺值。"))
        evaluation = _lock_evaluation(_evaluation_of(tender))
        if evaluation.supervisor_id is not None and evaluation.supervisor_id != regulator.pk:
            raise Conflict(_("本项目已由其他监督人员提交承诺值。"), code="supervisor_taken")
        now = clock.now()
        made, created = DrawCommitment.objects.update_or_create(
            evaluation=evaluation,
            party=DrawParty.SUPERVISOR,
            defaults={"user": regulator, "commitment": commitment, "committed_at": now},
        )
        if evaluation.supervisor_id is None:
            evaluation.supervisor = regulator
            evaluation.save(update_fields=["supervisor"])
        record(
            tender.case,
            "evaluation.draw.supervisor_committed",
            {"tender_id": tender.pk, "commitment": commitment, "replaces_earlier": not created},
            regulator,
        )
    return made


# --- the candidates ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Organizations:
    """The organizations no candidate may work for or be related to: the bidders, the tenderer, its agency."""

    bidders: list[Organization]
    tendering: list[Organization]

    def matches(self, credit_code: str, name: str, among: list[Organization]) -> bool:
        code = credit_code.strip().upper()
        for org in among:
            if code and org.credit_code:
                if code == org.credit_code.upper():
                    return True
            elif name.strip() and name.strip() == org.name.strip():
                return True
        return False


def _exclusions(
    expert: Expert, orgs: _Organizations, regions: list[str], co_evaluations: Mapping[int, int]
) -> list[str]:
    reasons = []
    if not expert.active:
        reasons.append(Exclusion.INACTIVE)
    if any(expert.region_code.startswith(prefix) for prefix in regions):
        reasons.append(Exclusion.REGION_EXCLUDED)
    if orgs.matches(expert.employer_credit_code, expert.employer_name, orgs.bidders):
        reasons.append(Exclusion.EMPLOYER_IS_BIDDER)
    if orgs.matches(expert.employer_credit_code, expert.employer_name, orgs.tendering):
        reasons.append(Exclusion.EMPLOYER_IS_TENDERER)
    if any(
        orgs.matches(r.organization_credit_code, r.organization_name, orgs.bidders + orgs.tendering)
        for r in expert.relationships.all()
    ):
        reasons.append(Exclusion.RELATIONSHIP)
    if co_evaluations.get(expert.pk, 0) >= settings.EVALUATION_SAME_TENDERER_LIMIT:
        reasons.append(Exclusion.CO_EVALUATION_LIMIT)
    return reasons


def _co_evaluations(tender: Tender, now: dt.datetime) -> dict[int, int]:
    """Confirmed memberships per expert for this tender's tenderer within the co-evaluation window."""
    since = now - dt.timedelta(days=settings.EVALUATION_CO_EVALUATION_WINDOW_DAYS)
    counts: dict[int, int] = {}
    confirmed = CommitteeMember.objects.filter(
        state=MemberState.CONFIRMED, evaluation__tender__tenderer_id=tender.tenderer_id, answered_at__gte=since
    ).exclude(evaluation__tender=tender)
    for expert_id in confirmed.values_list("expert_id", flat=True):
        counts[expert_id] = counts.get(expert_id, 0) + 1
    return counts


def accepted_bids(tender: Tender) -> list[Bid]:
    return list(Bid.objects.filter(tender=tender, status=BidStatus.ACCEPTED).select_related("bidder"))


def _require_draw_actor(actor: User, tender: Tender, evaluation: Evaluation) -> None:
    if not (can_manage(actor, tender) or (actor.pk is not None and actor.pk == evaluation.supervisor_id)):
        raise PermissionDenied(_("只有招标人、代理机构或本项目的监督人员可以锁定候选专家。"))


def freeze_candidates(actor: User, tender: Tender) -> Evaluation:
    """Once the opening is closed, fix the eligible experts of each requested specialty (each exclusion with its
    reason) and record their hash, before any secret is revealed."""
    with transaction.atomic():
        tender = lock_tender(tender.pk)
        evaluation = _lock_evaluation(_evaluation_of(tender))
        _require_draw_actor(actor, tender, evaluation)
        if tender.phase(clock.now()) != Phase.EVALUATION:
            raise WrongPhase(_("开标结束后才能锁定候选专家。"), code="opening_not_closed")
        if evaluation.candidates_frozen_at is not None:
            raise Conflict(_("候选专家已经锁定。"), code="candidates_frozen")
        if not evaluation.commitments.filter(party=DrawParty.SUPERVISOR).exists():
            raise WrongPhase(
                _("监督人员未在投标截止前提交抽取承诺值，本次抽取无法进行，请报行政监督部门处理。"),
                code="no_supervisor_commitment",
            )
        now = clock.now()
        request = {line.specialty.code: line.count for line in evaluation.request_lines.select_related("specialty")}
        bids = accepted_bids(tender)
        orgs = _Organizations(
            bidders=[bid.bidder for bid in bids],
            tendering=[o for o in (tender.tenderer, tender.agency) if o is not None],
        )
        co_evaluations = _co_evaluations(tender, now)
        candidates: dict[str, list[str]] = {code: [] for code in request}
        exclusions = []
        experts = Expert.objects.filter(specialties__code__in=list(request)).distinct().order_by("code")
        for expert in experts.prefetch_related("specialties", "relationships"):
            reasons = _exclusions(expert, orgs, list(evaluation.excluded_regions), co_evaluations)
            for code in sorted(s.code for s in expert.specialties.all() if s.code in request):
                if reasons:
                    exclusions.append({"expert": expert.code, "specialty": code, "reasons": reasons})
                else:
                    candidates[code].append(expert.code)
        short = [code for code in sorted(request) if len(candidates[code]) < request[code]]
        if short:
            raise Conflict(
                _("候选专家不足：%(lines)s。")
                % {
                    "lines": "；".join(
                        _("%(code)s 申请 %(asked)d 人，符合条件的仅 %(found)d 人")
                        % {"code": code, "asked": request[code], "found": len(candidates[code])}
                        for code in short
                    )
                },
                code="too_few_candidates",
            )
        frozen = algorithm.frozen_list(str(tender.public_id), request, evaluation.excluded_regions, candidates)
        digest = algorithm.candidates_sha256(frozen)
        evaluation.candidates_frozen_at = now
        evaluation.candidates_sha256 = digest
        evaluation.draw_record = {**frozen, "candidates_sha256": digest, "exclusions": exclusions}
        evaluation.save(update_fields=["candidates_frozen_at", "candidates_sha256", "draw_record"])
        record(
            tender.case,
            "evaluation.draw.candidates_frozen",
            {
                "tender_id": tender.pk,
                "candidates_sha256": digest,
                "candidates": frozen["candidates"],
                "exclusions": exclusions,
            },
            actor,
        )
    return evaluation


# --- the reveals and the draw ---------------------------------------------------------------------------------


def reveal_supervisor(regulator: User, tender: Tender, secret_hex: str) -> Evaluation:
    """The supervisor reveals its secret; in the same transaction the platform reveals its own, the seed is
    computed and the first ``count`` experts of each specialty's order are invited."""
    secret_text = secret_hex.strip().lower() if isinstance(secret_hex, str) else ""
    if not algorithm.is_sha256_hex(secret_text):
        raise InvalidInput({"secret": [_("揭示值须为 64 位十六进制（32 字节）。")]})
    secret = bytes.fromhex(secret_text)
    with transaction.atomic():
        tender = lock_tender(tender.pk)
        evaluation = _lock_evaluation(_evaluation_of(tender))
        if evaluation.supervisor_id != regulator.pk:
            raise PermissionDenied(_("只有提交承诺值的监督人员可以揭示。"))
        if evaluation.drawn_at is not None:
            raise Conflict(_("专家已经抽取。"), code="already_drawn")
        if evaluation.candidates_frozen_at is None or evaluation.draw_record is None:
            raise WrongPhase(_("候选专家尚未锁定，不能揭示。"), code="candidates_not_frozen")
        commitments = {c.party: c for c in evaluation.commitments.all()}
        supervisor, platform = commitments[DrawParty.SUPERVISOR], commitments[DrawParty.PLATFORM]
        if algorithm.commitment_of(secret) != supervisor.commitment:
            raise Conflict(
                _("揭示值与投标截止前提交的承诺值不符：抽取未进行。请使用当时保存的揭示值文件。"),
                code="reveal_mismatch",
            )
        now = clock.now()
        platform_secret = vault.open_sealed(_secret_purpose(evaluation), bytes(platform.sealed_secret))
        if algorithm.commitment_of(platform_secret) != platform.commitment:  # pragma: no cover - a tampered row
            raise Conflict(_("平台的秘密值与其承诺值不符。"), code="platform_reveal_mismatch")
        supervisor.reveal, supervisor.revealed_at = secret_text, now
        supervisor.save(update_fields=["reveal", "revealed_at"])
        platform.reveal, platform.revealed_at, platform.sealed_secret = platform_secret.hex(), now, b""
        platform.save(update_fields=["reveal", "revealed_at", "sealed_secret"])
        draw_record = dict(evaluation.draw_record)
        manifests = sorted(hashlib.sha256(bytes(bid.manifest)).hexdigest() for bid in accepted_bids(tender))
        seed = algorithm.seed_of(evaluation.candidates_sha256, platform_secret, secret, manifests)
        order = algorithm.orders(seed, draw_record["candidates"])
        request = {line["specialty"]: line["count"] for line in draw_record["request"]}
        seats = algorithm.first_invited(order, request)
        draw_record.update(
            {
                "commitments": {"platform": platform.commitment, "supervisor": supervisor.commitment},
                "reveals": {"platform": platform.reveal, "supervisor": supervisor.reveal},
                "bid_manifests_sha256": manifests,
                "seed": seed,
                "order": order,
                "invited": [dataclasses.asdict(seat) for seat in seats],
                "redraws": [],
            }
        )
        method = published_method(tender)  # K from the published factors; a method changed since: refused
        if method.price.rule == "benchmark":
            evaluation.benchmark_factor = benchmark_factor(method, bytes.fromhex(seed))
            draw_record["benchmark"] = {
                "factors": [str(f) for f in method.price.factors],
                "factor": str(evaluation.benchmark_factor),
            }
        experts = {e.code: e for e in Expert.objects.filter(code__in=[s.expert for s in seats])}
        specialties = {s.code: s for s in Specialty.objects.filter(code__in=list(request))}
        invited = CommitteeMember.objects.bulk_create(
            CommitteeMember(
                evaluation=evaluation,
                expert=experts[seat.expert],
                specialty=specialties[seat.specialty],
                draw_rank=seat.rank,
                invited_at=now,
            )
            for seat in seats
        )
        confirmation.tell_invited(tender, invited)
        evaluation.seed, evaluation.drawn_at, evaluation.draw_record = seed, now, draw_record
        evaluation.save(update_fields=["seed", "drawn_at", "draw_record", "benchmark_factor"])
        record(tender.case, "evaluation.draw.made", {"tender_id": tender.pk, "draw_record": draw_record}, regulator)
    return evaluation


def public_record(tender: Tender) -> dict[str, Any] | None:
    """The draw record anyone may read once the draw is made (expert codes only), else None."""
    evaluation = Evaluation.objects.filter(tender=tender).first()
    if evaluation is None or evaluation.drawn_at is None or evaluation.draw_record is None:
        return None
    return dict(evaluation.draw_record)
