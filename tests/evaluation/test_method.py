"""The evaluation method (tendering/method.py): every refusal reported at once, kept on the draft, checked whole at
publication, in the ledger's publication record and in the API."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.errors import InvalidInput
from accounts.services import issue_api_token
from archive.models import LedgerEntry
from tendering.method import MESSAGES, MethodInvalid, default_method, method_problems, validate_method
from tendering.models import Tender
from tendering.services import tenders
from tests.fixtures.personas import tender_input


def comprehensive(**changes: Any) -> dict[str, Any]:
    method = default_method("comprehensive")
    method.update(changes)
    return method


def problems_of(data: Any, kind: str = "comprehensive") -> list[tuple[str, str]]:
    with pytest.raises(MethodInvalid) as exc:
        validate_method(data, kind)
    return [(p.path, p.code) for p in exc.value.problems]


def with_criterion(index: int, **changes: Any) -> dict[str, Any]:
    method = default_method("comprehensive")
    method["criteria"][index].update(changes)
    return method


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([], [("", "not_object")]),
        (comprehensive(format="etender-method-v2"), [("format", "format")]),
        (comprehensive(extra=1), [("extra", "unknown_field")]),
        (with_criterion(0, weight="25.00"), [("price.weight", "weights_sum")]),
        (with_criterion(0, weight=20), [("criteria[0].weight", "not_decimal")]),
        (with_criterion(0, weight="20.001"), [("criteria[0].weight", "not_decimal")]),
        (with_criterion(0, weight="0.00"), [("criteria[0].weight", "not_positive")]),
        (with_criterion(1, min_score="10.00"), [("criteria[1].min_score", "min_not_below_max")]),
        (with_criterion(1, min_score="-1.00"), [("criteria[1].min_score", "out_of_range")]),
        (with_criterion(2, kind="price"), [("criteria[2].kind", "bad_kind")]),
        (with_criterion(2, id="T1"), [("criteria[2].id", "duplicate_id")]),
        (with_criterion(2, id="D1"), [("criteria[2].id", "duplicate_id")]),
        (with_criterion(2, id="T 3"), [("criteria[2].id", "bad_id")]),
        (with_criterion(2, title=""), [("criteria[2].title", "not_text")]),
        (comprehensive(price={"rule": "cheapest", "weight": "50.00"}), [("price.rule", "bad_rule")]),
        (
            comprehensive(price={"rule": "lowest_evaluated"}),
            [("price.rule", "rule_not_allowed"), ("criteria", "criteria_not_allowed")],
        ),
        (comprehensive(anonymous_technical="yes"), [("anonymous_technical", "not_bool")]),
        (comprehensive(deviation_threshold_percent="0.00"), [("deviation_threshold_percent", "not_positive")]),
        (comprehensive(qualification=[]), [("qualification", "empty_list")]),
        (comprehensive(criteria=[], price={"rule": "lowest_ratio", "weight": "100.00"}), [("criteria", "empty_list")]),
    ],
)
def test_a_method_that_breaks_a_rule_is_refused_naming_where(data, expected):
    assert problems_of(data) == expected


def test_the_benchmark_rule_needs_distinct_small_factors_and_its_deductions():
    price = {"rule": "benchmark", "weight": "50.00", "factors": ["-0.03", "-0.03", "0.5", "x"], "deduct_above": "1"}
    assert problems_of(comprehensive(price=price)) == [
        ("price.factors[1]", "duplicate_factor"),
        ("price.factors[2]", "out_of_range"),
        ("price.factors[3]", "not_factor"),
        ("price.deduct_below", "required"),
    ]


def test_the_lowest_evaluated_price_takes_no_criteria_and_no_price_weight():
    method = default_method("lowest_price")
    assert validate_method(method, "lowest_price").scored is False
    method["criteria"] = default_method("comprehensive")["criteria"]
    method["price"] = {"rule": "lowest_evaluated", "weight": "50.00"}
    assert problems_of(method, "lowest_price") == [
        ("price.weight", "unknown_field"),
        ("criteria", "criteria_not_allowed"),
    ]
    assert problems_of(default_method("comprehensive"), "lowest_price") == [("price.rule", "rule_not_allowed")]


def test_anonymous_technical_needs_a_technical_criterion():
    method = comprehensive(anonymous_technical=True)
    method["criteria"] = [c for c in method["criteria"] if c["kind"] == "commercial"]
    method["criteria"][0]["weight"] = "45.00"
    assert problems_of(method) == [("anonymous_technical", "anonymous_without_technical")]


def test_every_problem_is_reported_at_once_in_the_order_of_the_object():
    method = default_method("comprehensive")
    method["qualification"][0]["documents"][1]["id"] = "Q1"
    method["criteria"][0]["weight"] = "x"
    method["criteria"][3]["max_score"] = "0.00"
    method["price"]["weight"] = "49.00"
    assert problems_of(method) == [
        ("qualification[0].documents[1].id", "duplicate_id"),
        ("criteria[0].weight", "not_decimal"),
        ("criteria[3].max_score", "not_positive"),
    ]


def test_a_valid_method_reads_back_to_its_canonical_object_with_two_decimal_places():
    method = default_method("comprehensive")
    method["criteria"][0]["weight"] = "20"
    del method["deviation_threshold_percent"]
    read = validate_method(method, "comprehensive")
    canonical = read.to_json()
    assert canonical["criteria"][0]["weight"] == "20.00"
    assert canonical["deviation_threshold_percent"] == "30.00"
    assert validate_method(canonical, "comprehensive") == read
    assert [doc.name for _, doc in read.required_documents()] == [
        "营业执照", "资质证书", "项目经理注册证书", "安全生产考核合格证", "投标保证金凭证",
    ]  # fmt: skip
    assert {"Q1", "D1", "T1", "C2"} <= read.item_ids()
    assert read.criterion("T2").weight == Decimal("10.00")


def test_every_code_has_a_chinese_message_and_an_english_translation(settings):
    from django.utils import translation

    with translation.override("en"):
        for code, message in MESSAGES.items():
            assert translation.gettext(message) != message, code


def test_a_draft_keeps_a_method_whose_weights_do_not_sum_yet_and_publication_lists_every_problem(
    personas, frozen_clock, object_store_dir
):
    import io

    from tendering.services import documents
    from tests.fixtures.personas import PDF_BYTES

    method = default_method("comprehensive")
    method["price"]["weight"] = "40.00"
    tender = tenders.create_draft(personas.tenderer, tender_input(frozen_clock(), personas.custodians, method=method))
    assert tender.evaluation_criteria["price"]["weight"] == "40.00"
    documents.add_document(personas.tenderer, tender, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
    before = LedgerEntry.objects.count()
    with pytest.raises(InvalidInput) as exc:
        tenders.publish(personas.tenderer, tender)
    assert list(exc.value.fields) == ["method.price.weight"]
    assert "90.00" in exc.value.fields["method.price.weight"][0]
    tender.refresh_from_db()
    assert tender.published_at is None
    assert LedgerEntry.objects.count() == before

    tenders.update_draft(personas.tenderer, tender, tender_input(frozen_clock(), personas.custodians))
    published = tenders.publish(personas.tenderer, tender)
    entry = LedgerEntry.objects.get(action="tendering.tender.published")
    assert json.loads(entry.data)["method"] == published.evaluation_criteria == default_method("comprehensive")


def test_a_draft_with_a_broken_method_is_refused_with_every_problem_and_nothing_is_stored(personas, frozen_clock):
    method = default_method("comprehensive")
    method["criteria"][0]["min_score"] = "11.00"
    method["price"] = {"rule": "benchmark", "weight": "50.00"}
    with pytest.raises(InvalidInput) as exc:
        tenders.create_draft(
            personas.tenderer, tender_input(frozen_clock(), personas.custodians, method=method, title="")
        )
    assert set(exc.value.fields) == {
        "title", "method.criteria[0].min_score", "method.price.factors", "method.price.deduct_above",
        "method.price.deduct_below",
    }  # fmt: skip
    assert not Tender.objects.exists()
    assert not LedgerEntry.objects.filter(action__startswith="tendering.").exists()


def test_publication_refuses_a_draft_without_a_method(personas, frozen_clock, object_store_dir):
    import io

    from tendering.services import documents
    from tests.fixtures.personas import PDF_BYTES

    tender = tenders.create_draft(personas.tenderer, tender_input(frozen_clock(), personas.custodians, method=None))
    assert tender.evaluation_criteria == {}
    documents.add_document(personas.tenderer, tender, "招标文件.pdf", io.BytesIO(PDF_BYTES), len(PDF_BYTES))
    with pytest.raises(InvalidInput) as exc:
        tenders.publish(personas.tenderer, tender)
    assert list(exc.value.fields) == ["method"]
    tender.refresh_from_db()
    assert tender.published_at is None


def test_the_api_takes_and_gives_the_method_and_names_each_problem(personas, frozen_clock):
    client = Client()
    auth = {"HTTP_AUTHORIZATION": "Bearer " + issue_api_token(personas.tenderer, "test")[0]}
    from tests.tendering.test_api import draft_body

    broken = copy.deepcopy(default_method("lowest_price"))
    broken["qualification"][1]["title"] = 7
    broken["deviation_threshold_percent"] = 30
    body = draft_body(frozen_clock(), personas, method=broken)
    refused = client.post("/api/tenders", json.dumps(body), content_type="application/json", **auth)
    assert refused.status_code == 422
    assert set(refused.json()["fields"]) == {"method.qualification[1].title", "method.deviation_threshold_percent"}
    assert not Tender.objects.exists()

    body = draft_body(frozen_clock(), personas)
    created = client.post("/api/tenders", json.dumps(body), content_type="application/json", **auth)
    assert created.status_code == 201, created.json()
    assert created.json()["method"] == default_method("lowest_price")
    schema = client.get("/api/openapi.json").json()
    assert "etender-method-v1" in json.dumps(schema["components"]["schemas"]["TenderIn"], ensure_ascii=False)


def test_method_problems_gives_the_method_of_a_draft_with_only_publication_problems():
    method = default_method("comprehensive")
    method["price"]["weight"] = "10.00"
    read, problems = method_problems(method, "comprehensive")
    assert read is not None and read.price.weight == Decimal("10.00")
    assert [p.code for p in problems] == ["weights_sum"]


def test_the_cli_shows_the_method_and_its_required_documents(capsys):
    from tendering.client.commands.tenders import say_method

    method = default_method("comprehensive")
    method["price"] = {
        "rule": "benchmark", "weight": "50.00", "factors": ["-0.02", "0.00"], "deduct_above": "1.00",
        "deduct_below": "0.50",
    }  # fmt: skip
    say_method({"method": method, "evaluation_method": "comprehensive"})
    shown = capsys.readouterr().out
    assert "price rule benchmark (weight 50.00)" in shown
    assert "benchmark factor K one of -0.02, 0.00; -1.00 per % above, -0.50 below" in shown
    assert "T1 施工组织设计  technical  weight 20.00  scores 0.00-10.00" in shown
    for document in ("D1 营业执照  (for Q1 营业执照及资质)", "D5 投标保证金凭证  (for Q3 投标保证金)"):
        assert document in shown

    say_method({"method": {"format": "x"}, "evaluation_method": "comprehensive"})
    assert "method        not readable: format:" in capsys.readouterr().out
    say_method({"method": None, "evaluation_method": "lowest_price"})
    assert "none published yet" in capsys.readouterr().out
