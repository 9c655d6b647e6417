"""The evaluation method published with a tender (评标办法, format ``etender-method-v1``), framework-free.

A method is read from its JSON object by ``validate_method``, which either gives a frozen ``Method`` or
raises ``MethodInvalid`` listing every problem at once, each with its path (``criteria[1].weight``), a
stable code and its parameters. ``MESSAGES`` holds the Chinese text of each code, marked for the
translation catalogue; the bidder's client prints it as it is, the server translates it.
docs/evaluation.md §1 describes the format.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

FORMAT = "etender-method-v1"
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
HUNDRED = Decimal("100.00")
DEFAULT_DEVIATION_THRESHOLD_PERCENT = Decimal("30.00")

COMPREHENSIVE = "comprehensive"
LOWEST_PRICE = "lowest_price"
# Which price rules each evaluation method (Tender.evaluation_method) allows.
RULES_OF_METHOD: dict[str, tuple[str, ...]] = {
    COMPREHENSIVE: ("lowest_ratio", "benchmark"),
    LOWEST_PRICE: ("lowest_evaluated",),
}
KINDS = ("technical", "commercial")
# The fields each price rule has.
PRICE_FIELDS: dict[str, tuple[str, ...]] = {
    "lowest_ratio": ("rule", "weight"),
    "benchmark": ("rule", "weight", "factors", "deduct_above", "deduct_below"),
    "lowest_evaluated": ("rule",),
}

MAX_ITEMS = 50
MAX_TITLE = 200
MAX_DOCUMENT_NAME = 100
MAX_SCORE_LIMIT = Decimal("1000.00")
MAX_FACTOR = Decimal("0.2")
MAX_FACTORS = 20

Kind = Literal["technical", "commercial"]
Rule = Literal["lowest_ratio", "benchmark", "lowest_evaluated"]


def gettext_noop(message: str) -> str:
    """Marks a message for the catalogue (makemessages finds the name); the server translates it later."""
    return message


# code -> Chinese message, with %(name)s parameters.
MESSAGES: dict[str, str] = {
    "not_object": gettext_noop("评标办法必须是一个 JSON 对象。"),
    "format": gettext_noop("评标办法的格式必须是 etender-method-v1。"),
    "unknown_field": gettext_noop("未知的字段 %(field)s。"),
    "required": gettext_noop("必须填写。"),
    "not_list": gettext_noop("必须是一个列表。"),
    "too_many": gettext_noop("最多 %(max)d 项。"),
    "empty_list": gettext_noop("至少需要一项。"),
    "not_text": gettext_noop("必须是 1 到 %(max)d 个字符的文字。"),
    "bad_id": gettext_noop("编号为 1 到 16 个字母、数字、- 或 _ 字符。"),
    "duplicate_id": gettext_noop("编号 %(id)s 重复：资格审查项、所需材料和评分因素的编号不能相同。"),
    "not_decimal": gettext_noop('必须是写成文字的数，最多两位小数，例如 "30.00"。'),
    "not_factor": gettext_noop('必须是写成文字的数，最多四位小数，例如 "-0.02"。'),
    "out_of_range": gettext_noop("必须在 %(min)s 和 %(max)s 之间。"),
    "not_positive": gettext_noop("必须大于 0，不超过 %(max)s。"),
    "min_not_below_max": gettext_noop("最低分必须小于最高分。"),
    "bad_kind": gettext_noop("类别必须是 technical（技术）或 commercial（商务）。"),
    "bad_rule": gettext_noop("价格规则必须是 %(rules)s 之一。"),
    "rule_not_allowed": gettext_noop("评标办法「%(evaluation_method)s」只能使用价格规则 %(rules)s。"),
    "unknown_evaluation_method": gettext_noop("未知的评标办法。"),
    "criteria_not_allowed": gettext_noop("经评审的最低投标价法不设评分因素。"),
    "duplicate_factor": gettext_noop("基准价系数 %(factor)s 重复。"),
    "not_bool": gettext_noop("必须是 true 或 false。"),
    "anonymous_without_technical": gettext_noop("暗标需要至少一个技术评分因素。"),
    "weights_sum": gettext_noop("各评分因素权重与价格权重之和必须为 100.00，现为 %(total)s。"),
}

# Problems a draft may still have: publication refuses them, saving a draft does not.
PUBLICATION_ONLY = frozenset({"weights_sum"})


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with a method: where (``criteria[1].weight``), a code of ``MESSAGES``, its parameters."""

    path: str
    code: str
    params: Mapping[str, str | int] = dataclasses.field(default_factory=dict)

    @property
    def message(self) -> str:
        """The Chinese message (untranslated)."""
        return MESSAGES[self.code] % dict(self.params)


class MethodInvalid(ValueError):
    """A method with problems: ``problems`` lists every one, in the order of the object."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class RequiredDocument:
    """A document a qualification item needs (一次性告知): the bid folder must hold it."""

    id: str
    name: str


@dataclasses.dataclass(frozen=True)
class QualificationItem:
    """A pass-or-fail item of the qualification review (资格审查项)."""

    id: str
    title: str
    documents: tuple[RequiredDocument, ...]


@dataclasses.dataclass(frozen=True)
class Criterion:
    """A scored criterion (评分因素): experts score within [min_score, max_score]; it weighs ``weight`` points."""

    id: str
    title: str
    kind: Kind
    weight: Decimal
    min_score: Decimal
    max_score: Decimal


@dataclasses.dataclass(frozen=True)
class PriceRule:
    """How the price counts: ``lowest_ratio`` or ``benchmark`` (综合评估法), or ``lowest_evaluated``."""

    rule: Rule
    weight: Decimal = Decimal("0.00")
    factors: tuple[Decimal, ...] = ()
    deduct_above: Decimal = Decimal("0.00")
    deduct_below: Decimal = Decimal("0.00")


@dataclasses.dataclass(frozen=True)
class Method:
    """A tender's evaluation method, validated."""

    qualification: tuple[QualificationItem, ...]
    criteria: tuple[Criterion, ...]
    price: PriceRule
    anonymous_technical: bool
    deviation_threshold_percent: Decimal

    @property
    def scored(self) -> bool:
        """True for comprehensive scoring; False for the lowest evaluated price (no scores)."""
        return self.price.rule != "lowest_evaluated"

    def criterion(self, criterion_id: str) -> Criterion:
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)

    def required_documents(self) -> list[tuple[QualificationItem, RequiredDocument]]:
        """Every document the qualification items need, in order (一次性告知)."""
        return [(item, doc) for item in self.qualification for doc in item.documents]

    def item_ids(self) -> set[str]:
        """The ids a response index may point to: qualification items, their documents and criteria."""
        ids = {item.id for item in self.qualification} | {doc.id for _, doc in self.required_documents()}
        return ids | {criterion.id for criterion in self.criteria}

    def to_json(self) -> dict[str, Any]:
        """The canonical object: decimals as strings with two places (factors as written, up to four)."""
        price: dict[str, Any] = {"rule": self.price.rule}
        if self.price.rule != "lowest_evaluated":
            price["weight"] = _text(self.price.weight)
        if self.price.rule == "benchmark":
            price["factors"] = [_text(f) for f in self.price.factors]
            price["deduct_above"] = _text(self.price.deduct_above)
            price["deduct_below"] = _text(self.price.deduct_below)
        return {
            "format": FORMAT,
            "qualification": [
                {
                    "id": item.id,
                    "title": item.title,
                    "documents": [{"id": doc.id, "name": doc.name} for doc in item.documents],
                }
                for item in self.qualification
            ],
            "criteria": [
                {
                    "id": c.id,
                    "title": c.title,
                    "kind": c.kind,
                    "weight": _text(c.weight),
                    "min_score": _text(c.min_score),
                    "max_score": _text(c.max_score),
                }
                for c in self.criteria
            ],
            "price": price,
            "anonymous_technical": self.anonymous_technical,
            "deviation_threshold_percent": _text(self.deviation_threshold_percent),
        }


def _text(value: Decimal) -> str:
    """Two decimal places, or the value's own places when it has more (a factor like -0.005)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return str(value)
    return f"{value:.2f}"


class _Reader:
    """Collects problems while reading; each reader method returns a usable value or None."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, code: str, **params: str | int) -> None:
        self.problems.append(Problem(path, code, params))

    def fields(self, obj: Any, path: str, allowed: tuple[str, ...]) -> Mapping[str, Any] | None:
        if not isinstance(obj, dict):
            self.add(path, "not_object")
            return None
        for key in obj:
            if key not in allowed:
                self.add(f"{path}.{key}" if path else str(key), "unknown_field", field=str(key))
        return obj

    def items(self, obj: Mapping[str, Any], key: str, path: str) -> list[Any] | None:
        value = obj.get(key)
        if value is None:
            self.add(path, "required")
            return None
        if not isinstance(value, list):
            self.add(path, "not_list")
            return None
        if len(value) > MAX_ITEMS:
            self.add(path, "too_many", max=MAX_ITEMS)
            return None
        return value

    def text(self, obj: Mapping[str, Any], key: str, path: str, max_length: int) -> str | None:
        value = obj.get(key)
        if value is None:
            self.add(path, "required")
            return None
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > max_length:
            self.add(path, "not_text", max=max_length)
            return None
        return value.strip()

    def ident(self, obj: Mapping[str, Any], key: str, path: str, seen: set[str]) -> str | None:
        value = obj.get(key)
        if value is None:
            self.add(path, "required")
            return None
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            self.add(path, "bad_id")
            return None
        if value in seen:
            self.add(path, "duplicate_id", id=value)
            return None
        seen.add(value)
        return value

    def decimal(
        self, obj: Mapping[str, Any], key: str, path: str, low: Decimal, high: Decimal, *, positive: bool = False
    ) -> Decimal | None:
        if key not in obj:
            self.add(path, "required")
            return None
        value = _decimal(obj[key], places=2)
        if value is None:
            self.add(path, "not_decimal")
            return None
        if positive and not Decimal(0) < value <= high:
            self.add(path, "not_positive", max=_text(high))
            return None
        if not low <= value <= high:
            self.add(path, "out_of_range", min=_text(low), max=_text(high))
            return None
        return value.quantize(Decimal("0.01"))


def _decimal(value: Any, *, places: int) -> Decimal | None:
    """A decimal written as a JSON string with at most ``places`` decimals, or None."""
    if not isinstance(value, str) or not re.fullmatch(rf"-?[0-9]{{1,7}}(\.[0-9]{{1,{places}}})?", value):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


def method_problems(
    data: Any, evaluation_method: str, *, default_threshold: Decimal = DEFAULT_DEVIATION_THRESHOLD_PERCENT
) -> tuple[Method | None, list[Problem]]:
    """Read ``data`` as a method for ``evaluation_method``: the method (when its shape is sound) and every problem.

    The method is given even when only ``PUBLICATION_ONLY`` problems remain, so a draft can keep it. A method
    without ``deviation_threshold_percent`` takes ``default_threshold`` (the server's setting).
    """
    r = _Reader()
    top = r.fields(
        data,
        "",
        ("format", "qualification", "criteria", "price", "anonymous_technical", "deviation_threshold_percent"),
    )
    if top is None:
        return None, r.problems
    if top.get("format") != FORMAT:
        r.add("format", "format")
    seen: set[str] = set()
    qualification = _qualification(r, top, seen)
    weights: list[Decimal | None] = []
    criteria = _criteria(r, top, seen, weights)
    price = _price(r, top, evaluation_method)
    anonymous = top.get("anonymous_technical", False)
    if not isinstance(anonymous, bool):
        r.add("anonymous_technical", "not_bool")
        anonymous = False
    threshold: Decimal | None = default_threshold
    if "deviation_threshold_percent" in top:
        threshold = r.decimal(
            top, "deviation_threshold_percent", "deviation_threshold_percent", Decimal(0), HUNDRED, positive=True
        )
    if price is not None and criteria is not None:
        if price.rule == "lowest_evaluated" and criteria:
            r.add("criteria", "criteria_not_allowed")
        elif price.rule != "lowest_evaluated" and not criteria:
            r.add("criteria", "empty_list")
        if anonymous and not any(c.kind == "technical" for c in criteria):
            r.add("anonymous_technical", "anonymous_without_technical")
    shape_sound = not r.problems
    # The sum is checked once every weight could be read (a criterion left out would make it wrong too).
    if price is not None and price.rule != "lowest_evaluated" and weights and None not in weights:
        total = sum((w for w in weights if w is not None), price.weight)
        if total != HUNDRED:
            r.add("price.weight", "weights_sum", total=_text(total))
    if not shape_sound or qualification is None or criteria is None or price is None or threshold is None:
        return None, r.problems
    method = Method(
        qualification=tuple(qualification),
        criteria=tuple(criteria),
        price=price,
        anonymous_technical=anonymous,
        deviation_threshold_percent=threshold,
    )
    return method, r.problems


def _qualification(r: _Reader, top: Mapping[str, Any], seen: set[str]) -> list[QualificationItem] | None:
    raw = r.items(top, "qualification", "qualification")
    if raw is None:
        return None
    if not raw:
        r.add("qualification", "empty_list")
    items: list[QualificationItem] = []
    for i, entry in enumerate(raw):
        path = f"qualification[{i}]"
        obj = r.fields(entry, path, ("id", "title", "documents"))
        if obj is None:
            continue
        item_id = r.ident(obj, "id", f"{path}.id", seen)
        title = r.text(obj, "title", f"{path}.title", MAX_TITLE)
        documents: list[RequiredDocument] = []
        raw_documents = r.items(obj, "documents", f"{path}.documents") if "documents" in obj else []
        for j, doc_entry in enumerate(raw_documents or []):
            doc_path = f"{path}.documents[{j}]"
            doc = r.fields(doc_entry, doc_path, ("id", "name"))
            if doc is None:
                continue
            doc_id = r.ident(doc, "id", f"{doc_path}.id", seen)
            name = r.text(doc, "name", f"{doc_path}.name", MAX_DOCUMENT_NAME)
            if doc_id is not None and name is not None:
                documents.append(RequiredDocument(doc_id, name))
        if item_id is not None and title is not None:
            items.append(QualificationItem(item_id, title, tuple(documents)))
    return items


def _criteria(
    r: _Reader, top: Mapping[str, Any], seen: set[str], weights: list[Decimal | None]
) -> list[Criterion] | None:
    raw = r.items(top, "criteria", "criteria")
    if raw is None:
        return None
    criteria: list[Criterion] = []
    for i, entry in enumerate(raw):
        path = f"criteria[{i}]"
        obj = r.fields(entry, path, ("id", "title", "kind", "weight", "min_score", "max_score"))
        if obj is None:
            weights.append(None)
            continue
        criterion_id = r.ident(obj, "id", f"{path}.id", seen)
        title = r.text(obj, "title", f"{path}.title", MAX_TITLE)
        kind = obj.get("kind")
        if kind not in KINDS:
            r.add(f"{path}.kind", "bad_kind")
        weight = r.decimal(obj, "weight", f"{path}.weight", Decimal(0), HUNDRED, positive=True)
        weights.append(weight)
        low = r.decimal(obj, "min_score", f"{path}.min_score", Decimal(0), MAX_SCORE_LIMIT)
        high = r.decimal(obj, "max_score", f"{path}.max_score", Decimal(0), MAX_SCORE_LIMIT, positive=True)
        if low is not None and high is not None and low >= high:
            r.add(f"{path}.min_score", "min_not_below_max")
            continue
        if (
            criterion_id is not None
            and title is not None
            and (kind == "technical" or kind == "commercial")
            and weight is not None
            and low is not None
            and high is not None
        ):
            criteria.append(Criterion(criterion_id, title, kind, weight, low, high))
    return criteria


def _price(r: _Reader, top: Mapping[str, Any], evaluation_method: str) -> PriceRule | None:
    if "price" not in top:
        r.add("price", "required")
        return None
    allowed_rules = RULES_OF_METHOD.get(evaluation_method)
    if allowed_rules is None:
        r.add("price.rule", "unknown_evaluation_method")
    raw = top["price"]
    if not isinstance(raw, dict):
        r.add("price", "not_object")
        return None
    rule = raw.get("rule")
    if rule not in ("lowest_ratio", "benchmark", "lowest_evaluated"):
        r.add("price.rule", "bad_rule", rules=", ".join(PRICE_FIELDS))
        return None
    obj = r.fields(raw, "price", PRICE_FIELDS[rule])
    if obj is None:
        return None
    if allowed_rules is not None and rule not in allowed_rules:
        r.add("price.rule", "rule_not_allowed", evaluation_method=evaluation_method, rules=", ".join(allowed_rules))
    if rule == "lowest_evaluated":
        return PriceRule(rule)
    weight = r.decimal(obj, "weight", "price.weight", Decimal(0), HUNDRED, positive=True)
    if rule == "lowest_ratio":
        return PriceRule(rule, weight) if weight is not None else None
    factors = _factors(r, obj)
    above = r.decimal(obj, "deduct_above", "price.deduct_above", Decimal(0), HUNDRED)
    below = r.decimal(obj, "deduct_below", "price.deduct_below", Decimal(0), HUNDRED)
    if weight is None or factors is None or above is None or below is None:
        return None
    return PriceRule(rule, weight, factors, above, below)


def _factors(r: _Reader, obj: Mapping[str, Any]) -> tuple[Decimal, ...] | None:
    raw = obj.get("factors")
    if raw is None:
        r.add("price.factors", "required")
        return None
    if not isinstance(raw, list):
        r.add("price.factors", "not_list")
        return None
    if not raw:
        r.add("price.factors", "empty_list")
        return None
    if len(raw) > MAX_FACTORS:
        r.add("price.factors", "too_many", max=MAX_FACTORS)
        return None
    factors: list[Decimal] = []
    sound = True
    for i, entry in enumerate(raw):
        value = _decimal(entry, places=4)
        if value is None:
            r.add(f"price.factors[{i}]", "not_factor")
            sound = False
        elif not -MAX_FACTOR <= value <= MAX_FACTOR:
            r.add(f"price.factors[{i}]", "out_of_range", min=str(-MAX_FACTOR), max=str(MAX_FACTOR))
            sound = False
        elif value in factors:
            r.add(f"price.factors[{i}]", "duplicate_factor", factor=str(entry))
            sound = False
        else:
            factors.append(value)
    return tuple(factors) if sound else None


def validate_method(
    data: Any, evaluation_method: str, *, default_threshold: Decimal = DEFAULT_DEVIATION_THRESHOLD_PERCENT
) -> Method:
    """The method of ``data`` for a tender of ``evaluation_method``; ``MethodInvalid`` lists every problem."""
    method, problems = method_problems(data, evaluation_method, default_threshold=default_threshold)
    if problems or method is None:
        raise MethodInvalid(problems)
    return method


def default_method(evaluation_method: str) -> dict[str, Any]:
    """A sensible template for a works tender (the draft form starts from it): a valid canonical method."""
    qualification = [
        {
            "id": "Q1",
            "title": "营业执照及资质",
            "documents": [{"id": "D1", "name": "营业执照"}, {"id": "D2", "name": "资质证书"}],
        },
        {
            "id": "Q2",
            "title": "项目经理资格",
            "documents": [{"id": "D3", "name": "项目经理注册证书"}, {"id": "D4", "name": "安全生产考核合格证"}],
        },
        {"id": "Q3", "title": "投标保证金", "documents": [{"id": "D5", "name": "投标保证金凭证"}]},
    ]
    if evaluation_method == LOWEST_PRICE:
        criteria: list[dict[str, str]] = []
        price: dict[str, Any] = {"rule": "lowest_evaluated"}
    else:
        criteria = [
            _criterion("T1", "施工组织设计", "technical", "20.00"),
            _criterion("T2", "质量与安全保证措施", "technical", "10.00"),
            _criterion("T3", "工期与进度计划", "technical", "5.00"),
            _criterion("C1", "企业业绩", "commercial", "10.00"),
            _criterion("C2", "企业信誉", "commercial", "5.00"),
        ]
        price = {"rule": "lowest_ratio", "weight": "50.00"}
    return {
        "format": FORMAT,
        "qualification": qualification,
        "criteria": criteria,
        "price": price,
        "anonymous_technical": False,
        "deviation_threshold_percent": _text(DEFAULT_DEVIATION_THRESHOLD_PERCENT),
    }


def _criterion(criterion_id: str, title: str, kind: str, weight: str) -> dict[str, str]:
    return {
        "id": criterion_id,
        "title": title,
        "kind": kind,
        "weight": weight,
        "min_score": "0.00",
        "max_score": "10.00",
    }
