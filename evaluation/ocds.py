"""A procedure as open data: OCDS 1.1 release packages and a record package (docs/open-data.md).

Each release is a full snapshot of what is public at one step of the procedure, never a delta:

1. ``tender``: the published tender (its documents, periods, budget, method of award);
2. ``tenderAmendment``: one per amendment issued (澄清或修改), the periods as it set them;
3. ``tenderUpdate`` once the opening's record is published (开标记录): the bids (the bids extension: each
   bid's bidder and price as the record reads them) and the number of tenderers. Nothing about bids is
   published before: not their number, not who bid;
4. ``award`` once the committee's report is filed: the candidates (中标候选人), ranked, as pending awards;
   once the award is made, the first candidate's award active and the others unsuccessful.

Since each release holds everything before it, the compiled release of the record is the last one (with the
compiled id and tag); the tests check that the OCDS community's own merge (``ocdskit compile``) gives the
same. Parties are named by their unified social credit code (scheme ``CN-USCC`` of org-id.guide). Experts
are never named.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.conf import settings

from archive.canonical import format_timestamp
from evaluation.models import Evaluation, Report
from tendering.models import (
    Amendment,
    BidOpening,
    BidOpeningState,
    EvaluationMethod,
    Opening,
    ProcedureType,
    Tender,
)

OCDS_VERSION = "1.1"
BIDS_EXTENSION = (
    "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.5/extension.json"
)
PROCUREMENT_METHOD = {
    ProcedureType.OPEN: "open",
    ProcedureType.INVITED: "selective",
    ProcedureType.NEGOTIATION: "limited",
    ProcedureType.CONSULTATION: "limited",
    ProcedureType.INQUIRY: "limited",
}
# How far a snapshot goes: the tender alone, the bids of the published opening record, the candidates, the award.
TENDER, OPENING, CANDIDATES, AWARD = range(4)
AWARD_CRITERIA = {EvaluationMethod.COMPREHENSIVE: "ratedCriteria", EvaluationMethod.LOWEST_PRICE: "priceOnly"}


def ocid(tender: Tender) -> str:
    return f"{settings.OCDS_OCID_PREFIX}-{tender.number}"


def _when(moment: dt.datetime) -> str:
    return format_timestamp(moment).replace(".000000Z", "Z")


def _amount(value: Decimal | str) -> dict[str, Any]:
    return {"amount": float(Decimal(str(value))), "currency": "CNY"}


def _party(organization: Any, roles: list[str]) -> dict[str, Any]:
    party: dict[str, Any] = {"id": _party_id(organization), "name": organization.name, "roles": roles}
    if organization.credit_code:
        party["identifier"] = {"scheme": "CN-USCC", "id": organization.credit_code, "legalName": organization.name}
    return party


def _party_id(organization: Any) -> str:
    return f"CN-USCC-{organization.credit_code}" if organization.credit_code else f"org-{organization.pk}"


def _reference(organization: Any) -> dict[str, str]:
    return {"id": _party_id(organization), "name": organization.name}


def _bid_price(bid_opening: BidOpening) -> dict[str, Any] | None:
    lots = (bid_opening.price_summary or {}).get("lots") or []
    if not lots:
        return None
    return _amount(sum((Decimal(str(lot["price_yuan"])) for lot in lots), Decimal(0)))


class _Procedure:
    """What is public of one tender, read once."""

    def __init__(self, tender: Tender) -> None:
        if tender.published_at is None:
            raise ValueError("a draft is not public: it has no open data")
        self.tender = tender
        self.published = tender.published_at
        self.amendments = list(Amendment.objects.filter(tender=tender).order_by("number"))
        self.documents = list(tender.documents.filter(withdrawn_at__isnull=True).order_by("uploaded_at", "pk"))
        opening = Opening.objects.filter(tender=tender).first()
        self.opening = opening if opening is not None and opening.record_published_at is not None else None
        self.bids = (
            list(BidOpening.objects.filter(opening=self.opening).select_related("bid__bidder").order_by("position"))
            if self.opening is not None
            else []
        )
        evaluation = Evaluation.objects.filter(tender=tender).first()
        report = Report.objects.filter(evaluation=evaluation).exclude(pdf_sha256="").first() if evaluation else None
        self.report = report
        self.candidates = json.loads(bytes(report.content))["candidates"] if report is not None else []

    def snapshot(self, name: str, tag: str, at: dt.datetime, amendments: int, stage: int) -> dict[str, Any]:
        """The release ``<ocid>-<name>``: what is public at ``at``, the first ``amendments`` amendments shown,
        and the bids and awards as far as ``stage`` (``TENDER``, ``OPENING``, ``CANDIDATES``, ``AWARD``)."""
        tender = self.tender
        shown = self.amendments[:amendments]
        deadline = tender.bid_deadline
        # The periods as the amendments so far set them (each records the deadline it replaced).
        if amendments < len(self.amendments):
            deadline = self.amendments[amendments].previous_deadline
        parties = {_party_id(tender.tenderer): _party(tender.tenderer, ["buyer", "procuringEntity"])}
        body: dict[str, Any] = {
            "id": tender.number,
            "title": tender.title,
            "status": "active",
            "procuringEntity": _reference(tender.tenderer),
            "value": _amount(tender.budget),
            "procurementMethod": PROCUREMENT_METHOD[ProcedureType(tender.procedure_type)],
            "procurementMethodDetails": str(ProcedureType(tender.procedure_type).label),
            "awardCriteria": AWARD_CRITERIA[EvaluationMethod(tender.evaluation_method)],
            "awardCriteriaDetails": str(EvaluationMethod(tender.evaluation_method).label),
            "submissionMethod": ["electronicSubmission"],
            "tenderPeriod": {"startDate": _when(self.published), "endDate": _when(deadline)},
            "enquiryPeriod": {"startDate": _when(self.published), "endDate": _when(tender.enquiry_deadline)},
            "documents": [
                {
                    "id": str(d.public_id),
                    "documentType": "biddingDocuments" if d.amendment_id is None else "clarifications",
                    "title": d.name,
                    "format": d.content_type,
                    "datePublished": _when(max(d.uploaded_at, self.published)),
                }
                for d in self.documents
                if d.amendment_id is None or any(a.pk == d.amendment_id for a in shown)
            ],
        }
        if tender.description:
            body["description"] = tender.description
        if shown:
            body["amendments"] = [
                {"id": str(a.number), "date": _when(a.issued_at), "description": a.summary} for a in shown
            ]
        release: dict[str, Any] = {
            "ocid": ocid(tender),
            "id": f"{ocid(tender)}-{name}",
            "date": _when(at),
            "tag": [tag],
            "initiationType": "tender",
            "language": "zh",
            "buyer": _reference(tender.tenderer),
            "tender": body,
        }
        if stage >= OPENING:
            details = []
            for bid_opening in self.bids:
                bidder = bid_opening.bid.bidder
                parties.setdefault(_party_id(bidder), _party(bidder, []))["roles"].append("tenderer")
                detail: dict[str, Any] = {
                    "id": str(bid_opening.bid.public_id),
                    "date": _when(bid_opening.bid.accepted_at),
                    "status": "valid" if bid_opening.state == BidOpeningState.OPENED else "disqualified",
                    "tenderers": [_reference(bidder)],
                }
                price = _bid_price(bid_opening)
                if price is not None:
                    detail["value"] = price
                details.append(detail)
            release["bids"] = {
                "statistics": [{"id": "1", "measure": "bids", "value": len(details)}],
                "details": details,
            }
            body["numberOfTenderers"] = len(details)
            body["tenderers"] = [_reference(b.bid.bidder) for b in self.bids]
        if stage >= CANDIDATES:
            awarded = stage >= AWARD
            by_bid = {str(b.bid.public_id): b for b in self.bids}
            awards = []
            for rank, bid_id in enumerate(self.candidates, start=1):
                bid_opening = by_bid[bid_id]
                supplier = bid_opening.bid.bidder
                if rank == 1 and awarded:
                    parties[_party_id(supplier)]["roles"].append("supplier")
                award: dict[str, Any] = {
                    "id": f"{tender.number}-{rank}",
                    "title": f"中标候选人第{rank}名",
                    "status": ("active" if rank == 1 else "unsuccessful") if awarded else "pending",
                    "relatedBid": bid_id,
                    "suppliers": [_reference(supplier)],
                }
                price = _bid_price(bid_opening)
                if price is not None:
                    award["value"] = price
                if awarded and tender.awarded_at is not None:
                    award["date"] = _when(tender.awarded_at)
                awards.append(award)
            release["awards"] = awards
            if awarded and tender.filed_at is not None:
                body["status"] = "complete"
        if tender.failed_at is not None and at >= tender.failed_at:
            body["status"] = "unsuccessful"
        release["parties"] = list(parties.values())
        return release

    def releases(self) -> list[dict[str, Any]]:
        tender = self.tender
        out = [self.snapshot("tender", "tender", self.published, 0, TENDER)]
        for count, amendment in enumerate(self.amendments, start=1):
            name = f"amendment-{amendment.number}"
            out.append(self.snapshot(name, "tenderAmendment", amendment.issued_at, count, TENDER))
        every = len(self.amendments)
        if self.opening is not None and self.opening.record_published_at is not None:
            out.append(self.snapshot("opening", "tenderUpdate", self.opening.record_published_at, every, OPENING))
        if self.report is not None and tender.evaluation_reported_at is not None:
            out.append(self.snapshot("candidates", "award", tender.evaluation_reported_at, every, CANDIDATES))
            if tender.awarded_at is not None:
                out.append(self.snapshot("award", "award", tender.filed_at or tender.awarded_at, every, AWARD))
        elif tender.failed_at is not None:
            stage = OPENING if self.opening is not None else TENDER
            out.append(self.snapshot("failed", "tenderUpdate", tender.failed_at, every, stage))
        return out


def _package_meta(tender: Tender, published: dt.datetime, kind: str) -> dict[str, Any]:
    return {
        "uri": f"{settings.OCDS_PUBLISHER_URI.rstrip('/')}/api/tenders/{tender.public_id}/ocds/{kind}",
        "version": OCDS_VERSION,
        "publishedDate": _when(published),
        "publisher": {"name": settings.OCDS_PUBLISHER_NAME, "uri": settings.OCDS_PUBLISHER_URI},
    }


def release_package(tender: Tender, published: dt.datetime) -> dict[str, Any]:
    """Every release of the procedure so far, in one release package."""
    releases = _Procedure(tender).releases()
    return {**_package_meta(tender, published, "releases"), "extensions": [BIDS_EXTENSION], "releases": releases}


def record_package(tender: Tender, published: dt.datetime) -> dict[str, Any]:
    """The procedure's record: every release, and the compiled release (the last snapshot, compiled)."""
    releases = _Procedure(tender).releases()
    compiled = {**releases[-1], "id": f"{ocid(tender)}-{releases[-1]['date']}", "tag": ["compiled"]}
    record = {"ocid": ocid(tender), "releases": releases, "compiledRelease": compiled}
    return {**_package_meta(tender, published, "record"), "extensions": [BIDS_EXTENSION], "records": [record]}
