"""Forms of the pages. They parse and type the input; the rules live in the services.

A service refuses with ``InvalidInput.fields`` keyed by its own argument names;
``add_domain_error`` puts each message on the form field it concerns.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.forms import formset_factory
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.errors import DomainError, InvalidInput
from accounts.models import Organization, OrganizationKind, Role, User
from config import clock
from config.formatting import platform_zone, zone_label
from tendering.method import default_method
from tendering.models import EvaluationMethod, Lot, Phase, ProcedureType, Tender
from tendering.services.entrustments import entrusting_tenderers
from tendering.services.tenders import LotInput, TenderInput

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def zone_help(rule: Any = None) -> Any:
    """A time field's help: the platform's zone (``北京时间`` for Asia/Shanghai), then ``rule`` if any.

    Lazy: the zone's name is translated, and read from ``settings.TIME_ZONE``, when the form is shown."""

    def text() -> str:
        zone = zone_label()
        return zone if rule is None else gettext("%(zone)s；%(rule)s") % {"zone": zone, "rule": rule}

    return lazy(text, str)()


class LocalDateTimeField(forms.DateTimeField):
    """A ``datetime-local`` input read and shown in the platform's zone (``TIME_ZONE``), whatever the browser's;
    its help names the zone, then ``rule``."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL)
    input_formats = [DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]

    def __init__(self, *args: Any, rule: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", zone_help(rule))
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> dt.datetime | None:
        with timezone.override(platform_zone()):
            return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        with timezone.override(platform_zone()):
            return super().prepare_value(value)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        # Emptiness is a rule of the service (one message for every way of uploading).
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        cleaned = single(data, initial)
        return [cleaned] if cleaned else []


class MethodJSONField(forms.JSONField):
    """The method's JSON, indented so that the fallback textarea (no JavaScript) can be edited by hand."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False, indent=2)
        return super().prepare_value(value)


class PageForm(forms.Form):
    """A form of the pages: labels stand on their own line, so they need no colon."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


# The parts of a method's problem path (``method.criteria[1].weight``) in words.
METHOD_PATH_WORDS = {
    "qualification": _("资格审查项"),
    "documents": _("所需材料"),
    "criteria": _("评分因素"),
    "price": _("价格规则"),
    "factors": _("基准价系数"),
    "id": _("编号"),
    "title": _("名称"),
    "name": _("名称"),
    "kind": _("类别"),
    "weight": _("权重"),
    "min_score": _("最低分"),
    "max_score": _("最高分"),
    "rule": _("规则"),
    "deduct_above": _("高于基准价每 1% 扣分"),
    "deduct_below": _("低于基准价每 1% 扣分"),
    "anonymous_technical": _("暗标"),
    "deviation_threshold_percent": _("评分偏离阈值"),
    "format": _("格式"),
}


def method_path_text(path: str) -> str:
    """``criteria[1].weight`` as people read it: 评分因素第 2 项 · 权重 (unknown parts as they are)."""
    words = []
    for part in path.split("."):
        match = re.fullmatch(r"(\w+)\[(\d+)\]", part)
        if match:
            name, index = match.group(1), int(match.group(2)) + 1
            words.append(gettext("%(part)s第 %(n)d 项") % {"part": METHOD_PATH_WORDS.get(name, name), "n": index})
        else:
            words.append(str(METHOD_PATH_WORDS.get(part, part)))
    return " · ".join(words)


def add_domain_error(form: forms.BaseForm, exc: DomainError, field_map: Mapping[str, str] | None = None) -> None:
    """Show a service's refusal on the form: field errors where they belong, the rest on top.

    A key with a path (``method.criteria[1].weight``) goes to its field (``method``), the path in words first."""
    if isinstance(exc, InvalidInput):
        for service_field, messages in exc.fields.items():
            base, _dot, path = service_field.partition(".")
            name = (field_map or {}).get(service_field, base if path else service_field)
            target = name if name in form.fields else None
            for message in messages:
                form.add_error(target, f"{method_path_text(path)}：{message}" if path else str(message))
    else:
        form.add_error(None, str(exc.message))


class TenderSearchForm(PageForm):
    q = forms.CharField(label=_("关键词"), max_length=100, required=False, help_text=_("招标编号、项目名称或招标人"))
    phase = forms.ChoiceField(
        label=_("阶段"),
        required=False,
        choices=[("", _("全部阶段")), *[(value, label) for value, label in Phase.choices if value != Phase.DRAFT]],
    )


class CustodianChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        org = obj.organization.name if obj.organization else ""
        return f"{obj} · {org}" if org else str(obj)


def custodian_queryset() -> QuerySet[User]:
    return (
        User.objects.filter(is_active=True, role_grants__role=Role.CUSTODIAN)
        .select_related("organization")
        .distinct()
        .order_by("username")
    )


class TenderForm(PageForm):
    """The fields of ``TenderInput``. Agency staff choose the tenderer; tenderer staff may name an agency."""

    number = forms.CharField(label=_("招标编号"), max_length=50, help_text=_("例如 RJ-2026-GC-001"))
    title = forms.CharField(label=_("项目名称"), max_length=200)
    description = forms.CharField(
        label=_("项目概况"), widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=20000
    )
    tenderer = forms.ModelChoiceField(
        label=_("招标人"), queryset=Organization.objects.filter(kind=OrganizationKind.TENDERER), required=False
    )
    agency = forms.ModelChoiceField(
        label=_("招标代理机构"),
        queryset=Organization.objects.filter(kind=OrganizationKind.AGENCY),
        required=False,
        empty_label=_("（不委托代理机构）"),
    )
    procedure_type = forms.ChoiceField(label=_("招标方式"), choices=ProcedureType.choices)
    budget = forms.DecimalField(label=_("预算金额（元）"), max_digits=16, decimal_places=2)
    enquiry_deadline = LocalDateTimeField(label=_("提问截止时间"))
    bid_deadline = LocalDateTimeField(label=_("投标截止时间"))
    opening_time = LocalDateTimeField(label=_("开标时间"), rule=_("不早于投标截止时间"))
    evaluation_method = forms.ChoiceField(label=_("评标办法"), choices=EvaluationMethod.choices)
    custodians = CustodianChoiceField(
        label=_("密钥保管人"),
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("开标时需其中 k 人共同解密投标文件"),
    )
    custodian_threshold = forms.IntegerField(label=_("开启门限 k"))
    method = MethodJSONField(
        label=_("评标办法详情（JSON）"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "method-json"}),
        help_text=_(
            "资格审查项及所需材料、评分因素、价格规则，格式见 docs/evaluation.md；启用 JavaScript 时以表格编辑"
        ),
    )

    # Service argument → form field.
    FIELD_MAP = {"custodian_ids": "custodians", "tenderer_id": "tenderer", "agency_id": "agency"}

    def __init__(self, *args: Any, actor: User, tender: Tender | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["custodians"].queryset = custodian_queryset()  # type: ignore[attr-defined]
        # k's bounds and default from the settings the service checks: the default is a valid k.
        least, most = settings.CUSTODIAN_THRESHOLD_MIN, settings.CUSTODIANS_MAX
        threshold = self.fields["custodian_threshold"]
        threshold.initial = least
        threshold.widget.attrs.update({"min": least, "max": most})
        threshold.help_text = _("至少 %(min)d，且不超过所选保管人人数 n") % {"min": least}
        org = actor.organization
        # The parties are fixed once the draft exists; on creation, who picks whom depends on the actor.
        if tender is not None or org is None or org.kind != OrganizationKind.AGENCY:
            del self.fields["tenderer"]
        else:
            # Only the tenderers that entrust this agency (招标投标法 Art 15); the service checks the scope.
            self.fields["tenderer"].queryset = entrusting_tenderers(actor)  # type: ignore[attr-defined]
            self.fields["tenderer"].required = True
        if tender is not None or (org is not None and org.kind == OrganizationKind.AGENCY):
            del self.fields["agency"]
        if tender is None:
            self.fields["method"].initial = default_method(EvaluationMethod.COMPREHENSIVE)

    @classmethod
    def initial_for(cls, tender: Tender) -> dict[str, Any]:
        return {
            "number": tender.number,
            "title": tender.title,
            "description": tender.description,
            "procedure_type": tender.procedure_type,
            "budget": tender.budget,
            "enquiry_deadline": tender.enquiry_deadline,
            "bid_deadline": tender.bid_deadline,
            "opening_time": tender.opening_time,
            "evaluation_method": tender.evaluation_method,
            "custodians": [slot.user_id for slot in tender.custodian_slots.all()],
            "custodian_threshold": tender.custodian_threshold,
            "method": tender.evaluation_criteria or default_method(tender.evaluation_method),
        }

    def method_editor_config(self) -> dict[str, Any]:
        """What the method editor's script needs: the templates of both evaluation methods and its texts."""
        return {
            "templates": {kind: default_method(kind) for kind in EvaluationMethod.values},
            "messages": method_editor_messages(),
        }

    def to_input(self, lots: Sequence[LotInput]) -> TenderInput:
        """The typed input; where a field did not parse (it has its error), a stand-in that passes the
        rules, so that the service's rules can still be asked about every other field at once."""
        data = dict(self.cleaned_data)
        far = clock.now() + dt.timedelta(days=30)
        times = {name: data.get(name) for name in ("enquiry_deadline", "bid_deadline", "opening_time")}
        data.setdefault("bid_deadline", times["opening_time"] or times["enquiry_deadline"] or far)
        data.setdefault("opening_time", data["bid_deadline"])
        data.setdefault("enquiry_deadline", min(data["bid_deadline"], far))
        data.setdefault("budget", max(sum((lot.budget for lot in lots), Decimal(0)), Decimal(1)))
        data.setdefault("custodians", [])
        data.setdefault("custodian_threshold", settings.CUSTODIAN_THRESHOLD_MIN)
        data.setdefault("number", "")
        data.setdefault("title", "")
        data.setdefault("procedure_type", ProcedureType.values[0])
        data.setdefault("evaluation_method", EvaluationMethod.values[0])
        tenderer = data.get("tenderer")
        agency = data.get("agency")
        return TenderInput(
            number=data["number"].strip(),
            title=data["title"].strip(),
            description=data.get("description", ""),
            procedure_type=data["procedure_type"],
            budget=data["budget"],
            bid_deadline=data["bid_deadline"],
            opening_time=data["opening_time"],
            enquiry_deadline=data["enquiry_deadline"],
            evaluation_method=data["evaluation_method"],
            custodian_ids=[user.pk for user in data["custodians"]],
            custodian_threshold=data["custodian_threshold"],
            lots=list(lots),
            tenderer_id=tenderer.pk if tenderer else None,
            agency_id=agency.pk if agency else None,
            method=data.get("method") or None,
        )


def method_editor_messages() -> dict[str, str]:
    """The texts of frontend/js/pages/method-editor.js, in the reader's language."""
    return {
        "qualification": gettext("资格审查项"),
        "qualification_help": gettext("逐项评审合格或不合格；每项列出投标文件必须包含的材料（一次性告知）。"),
        "documents": gettext("所需材料"),
        "criteria": gettext("评分因素"),
        "id": gettext("编号"),
        "title": gettext("名称"),
        "name": gettext("材料名称"),
        "kind": gettext("类别"),
        "technical": gettext("技术"),
        "commercial": gettext("商务"),
        "weight": gettext("权重"),
        "min_score": gettext("最低分"),
        "max_score": gettext("最高分"),
        "price": gettext("价格规则"),
        "rule_lowest_ratio": gettext("最低有效报价 ÷ 投标报价 × 价格权重"),
        "rule_benchmark": gettext("基准价法：有效报价的去极值平均 × (1 + K)，高于或低于基准价按百分比扣分"),
        "rule_lowest_evaluated": gettext("经评审的最低投标价法：合格投标按报价由低到高排序"),
        "price_weight": gettext("价格权重"),
        "factors": gettext("基准价系数 K（以逗号分隔，开标后随机抽取一个）"),
        "deduct_above": gettext("高于基准价每 1% 扣分"),
        "deduct_below": gettext("低于基准价每 1% 扣分"),
        "anonymous_technical": gettext("技术部分暗标（技术评分锁定前以代码显示投标人）"),
        "deviation_threshold_percent": gettext("评分偏离阈值（%）"),
        "add_item": gettext("添加资格审查项"),
        "add_document": gettext("添加材料"),
        "add_criterion": gettext("添加评分因素"),
        "remove": gettext("删除"),
        "weights_total": gettext("权重合计 %(total)s（应为 100.00）"),
        "json_unreadable": gettext("评标办法的 JSON 无法读取，请在文本框中修改。"),
    }


class LotForm(PageForm):
    number = forms.IntegerField(label=_("标段号"), min_value=1, max_value=999)
    name = forms.CharField(label=_("标段名称"), max_length=200)
    budget = forms.DecimalField(label=_("标段预算（元）"), max_digits=16, decimal_places=2)


LotFormSet = formset_factory(LotForm, extra=2, can_delete=True, max_num=100, validate_max=True)


def lot_initial(lots: Sequence[Lot]) -> list[dict[str, Any]]:
    return [{"number": lot.number, "name": lot.name, "budget": lot.budget} for lot in lots]


def lots_from(formset: forms.BaseFormSet) -> list[LotInput]:
    """The lots of the rows that parsed (a row with errors shows them; the others are checked with the rest)."""
    return [
        LotInput(number=form.cleaned_data["number"], name=form.cleaned_data["name"], budget=form.cleaned_data["budget"])
        for form in formset.forms
        if not form.errors
        and form.cleaned_data
        and not form.cleaned_data.get("DELETE")
        and form.cleaned_data.keys() >= {"number", "name", "budget"}
    ]


class DocumentUploadForm(PageForm):
    file = MultipleFileField(label=_("招标文件"), help_text=_("可多选；允许 PDF、Word、Excel、ZIP"))


class AmendmentForm(PageForm):
    summary = forms.CharField(label=_("澄清或修改内容"), widget=forms.Textarea(attrs={"rows": 6}), max_length=20000)
    new_deadline = LocalDateTimeField(label=_("新的投标截止时间"), required=False, rule=_("不顺延则留空"))
    new_opening_time = LocalDateTimeField(label=_("新的开标时间"), required=False, rule=_("留空则随截止时间顺延"))
    attachments = MultipleFileField(label=_("附件"), required=False, help_text=_("修改后的招标文件，可多选"))

    FIELD_MAP = {"file": "attachments"}


class QuestionForm(PageForm):
    text = forms.CharField(
        label=_("您的问题"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text=_("答复将公开发布，不显示提问人"),
    )


class AnswerForm(PageForm):
    answer = forms.CharField(label=_("答复"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


class EntrustmentForm(PageForm):
    """A tenderer entrusts an agency (委托): with one tender, by its number, or with every tender for a period."""

    SCOPE_TENDER = "tender"
    SCOPE_PERIOD = "period"

    agency = forms.ModelChoiceField(
        label=_("招标代理机构"), queryset=Organization.objects.filter(kind=OrganizationKind.AGENCY)
    )
    scope = forms.ChoiceField(
        label=_("委托范围"),
        choices=[(SCOPE_TENDER, _("一个招标项目")), (SCOPE_PERIOD, _("一段期间内的全部招标项目"))],
        widget=forms.RadioSelect,
        initial=SCOPE_TENDER,
    )
    tender_number = forms.CharField(
        label=_("招标编号"), max_length=50, required=False, help_text=_("委托一个招标项目时填写")
    )
    valid_from = LocalDateTimeField(label=_("委托起始时间"), required=False, rule=_("委托一段期间时填写"))
    valid_until = LocalDateTimeField(label=_("委托截止时间"), required=False, rule=_("委托一段期间时填写"))

    FIELD_MAP = {"agency_id": "agency"}

    def grant_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data["scope"] == self.SCOPE_TENDER:
            return {"tender_number": data.get("tender_number") or ""}
        return {"valid_from": data.get("valid_from"), "valid_until": data.get("valid_until")}
