"""The procedure as open data (evaluation/ocds.py): OCDS 1.1 release and record packages, valid against the
official schema (tests/data/ocds-1.1.5), compiled alike by the OCDS community's ocdskit, and silent about
bids before the opening."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from config import clock
from evaluation import ocds
from tendering.services import tenders
from tests.bids.conftest import keys_for, seal, submit
from tests.evaluation.factories import SessionCase
from tests.evaluation.report_case import file_it, reach_report

pytestmark = pytest.mark.django_db

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "ocds-1.1.5"
RELEASE_URL = "https://standard.open-contracting.org/schema/1__1__5/release-schema.json"


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def validator(name: str) -> jsonschema.Draft4Validator:
    release = Resource.from_contents(schema("release-schema.json"), default_specification=DRAFT4)
    registry = Registry().with_resource(RELEASE_URL, release)
    return jsonschema.Draft4Validator(schema(name), registry=registry, format_checker=jsonschema.FormatChecker())


def errors(name: str, document: dict[str, Any]) -> list[str]:
    found = validator(name).iter_errors(document)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found]


@pytest.fixture
def filed(session_case: Callable[..., SessionCase]) -> SessionCase:
    """A procedure from publication to its closing: opened, evaluated, reported, candidates, award, filed."""
    reported = reach_report(session_case(n_bids=3, n_experts=5))
    file_it(reported)
    case = reported.case
    tenderer = case.personas.tenderer
    tenders.publish_candidates(tenderer, case.tender)
    tenders.award(tenderer, case.tender)
    tenders.file_case(tenderer, case.tender)
    case.tender.refresh_from_db()
    return case


def test_a_whole_procedure_exports_as_valid_release_and_record_packages_step_by_step(filed: SessionCase) -> None:
    package = ocds.release_package(filed.tender, clock.now())
    assert errors("release-package-schema.json", package) == []
    releases = package["releases"]
    assert [r["tag"] for r in releases] == [["tender"], ["tenderUpdate"], ["award"], ["award"]]
    assert len({r["id"] for r in releases}) == len(releases) and {r["ocid"] for r in releases} == {
        ocds.ocid(filed.tender)
    }
    for release in releases:  # each on its own, too
        assert errors("release-schema.json", release) == []

    opening, candidates, award = releases[1], releases[2], releases[3]
    assert [b["id"] for b in opening["bids"]["details"]] == [str(b.public_id) for b in filed.bids]
    assert opening["tender"]["numberOfTenderers"] == 3
    report = json.loads(bytes(filed.evaluation.report.content))
    assert [a["relatedBid"] for a in candidates["awards"]] == report["candidates"]
    assert {a["status"] for a in candidates["awards"]} == {"pending"}
    assert [a["status"] for a in award["awards"]][:1] == ["active"]
    assert award["tender"]["status"] == "complete"
    winner = next(b for b in filed.bids if str(b.public_id) == report["candidates"][0])
    supplier = next(p for p in award["parties"] if "supplier" in p["roles"])
    assert supplier["name"] == winner.bidder.name and supplier["identifier"]["scheme"] == "CN-USCC"
    # No expert is named anywhere.
    text = json.dumps(package, ensure_ascii=False)
    assert not any(m.expert.name in text for m in filed.members)

    records = ocds.record_package(filed.tender, clock.now())
    assert errors("record-package-schema.json", records) == []
    (record,) = records["records"]
    assert record["releases"] == releases and record["compiledRelease"]["tag"] == ["compiled"]


@pytest.mark.skipif(shutil.which("ocdskit", path=str(Path(sys.executable).parent)) is None, reason="no ocdskit")
def test_the_ocds_communitys_own_merge_compiles_the_releases_into_the_same_record(
    filed: SessionCase, tmp_path: Path
) -> None:
    package = ocds.release_package(filed.tender, clock.now())
    (tmp_path / "release-schema.json").write_text(json.dumps(schema("release-schema.json")), encoding="utf-8")
    ocdskit = str(Path(sys.executable).parent / "ocdskit")
    compiled = subprocess.run(
        [
            *(ocdskit, "compile", "--schema", str(tmp_path / "release-schema.json"), "--package"),
            *("--published-date", package["publishedDate"], "--publisher-name", package["publisher"]["name"]),
        ],
        input=json.dumps(package, ensure_ascii=False),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    theirs = json.loads(compiled.stdout)
    assert errors("record-package-schema.json", theirs) == []
    ours = ocds.record_package(filed.tender, clock.now())["records"][0]["compiledRelease"]
    (their_record,) = theirs["records"]

    def without_identity(release: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in release.items() if k not in ("id", "tag")}

    assert without_identity(their_record["compiledRelease"]) == without_identity(ours)
    (tmp_path / "releases.json").write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "record.json").write_text(json.dumps(ocds.record_package(filed.tender, clock.now())), encoding="utf-8")
    detected = subprocess.run(
        [ocdskit, "detect-format", str(tmp_path / "releases.json"), str(tmp_path / "record.json")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "releases.json: release package" in detected.stdout, detected.stdout
    assert "record.json: record package" in detected.stdout, detected.stdout


def test_before_the_opening_nothing_about_the_bids_is_published(
    personas: Any, published_tender: Any, tmp_path: Path
) -> None:
    bid = submit(personas.bidder_a, published_tender, seal(published_tender, keys_for(personas.bidder_a), tmp_path))
    assert bid.status == "accepted"
    package = ocds.release_package(published_tender, clock.now())
    assert errors("release-package-schema.json", package) == []
    ((release),) = package["releases"]
    assert "bids" not in release and "awards" not in release and "numberOfTenderers" not in release["tender"]
    text = json.dumps(package, ensure_ascii=False)
    assert personas.bidder_org_a.name not in text and str(bid.public_id) not in text
    assert [p["roles"] for p in release["parties"]] == [["buyer", "procuringEntity"]]


def test_a_draft_has_no_open_data(draft_tender: Any) -> None:
    with pytest.raises(ValueError, match="draft"):
        ocds.release_package(draft_tender, clock.now())


def test_anyone_downloads_a_published_procedures_open_data_and_a_draft_is_not_found(
    client: Any, personas: Any, frozen_clock: Any, published_tender: Any
) -> None:
    from tests.fixtures.personas import tender_input

    draft = tenders.create_draft(personas.tenderer, tender_input(frozen_clock(), personas.custodians, number="D-2"))
    for kind, schema_name in (("releases", "release-package-schema.json"), ("record", "record-package-schema.json")):
        response = client.get(f"/api/tenders/{published_tender.public_id}/ocds/{kind}")
        assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
        assert errors(schema_name, response.json()) == []
    assert client.get(f"/api/tenders/{draft.public_id}/ocds/releases").status_code == 404
    assert client.get("/api/tenders/not-an-id/ocds/releases").status_code in (404, 422)


def test_a_failed_tender_is_published_unsuccessful(personas: Any, frozen_clock: Any, published_tender: Any) -> None:
    from django.db import transaction

    from tendering.services import outcome
    from tendering.services.outcome import FailureReason

    frozen_clock.set(published_tender.bid_deadline)
    with transaction.atomic():
        outcome.fail(published_tender, next(iter(FailureReason)), None, {})
    published_tender.refresh_from_db()
    package = ocds.release_package(published_tender, clock.now())
    assert errors("release-package-schema.json", package) == []
    assert [r["tag"] for r in package["releases"]] == [["tender"], ["tenderUpdate"]]
    assert package["releases"][-1]["tender"]["status"] == "unsuccessful"
    assert package["releases"][0]["tender"]["status"] == "active"
    assert "bids" not in package["releases"][-1]  # no opening record was published: nothing of the bids
