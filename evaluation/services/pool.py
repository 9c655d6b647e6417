"""The expert pool (专家库), imported from the CSV file a trading centre keeps: all lines or none.

Columns (a header row names them, in any order): 专家编号, 姓名, 登录名, 行政区划代码, 所在地区, 工作单位,
工作单位统一社会信用代码, 评标专业 (``A01 房屋建筑;B02 市政``), 利害关系 (``统一社会信用代码|单位名称|关系;…``),
在库 (是/否). A sample: evaluation/fixtures/expert_pool_sample.csv.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts import credit_code
from accounts.errors import InvalidInput, PermissionDenied
from accounts.models import Role, RoleGrant, User
from archive.ledger import record
from config import clock
from evaluation.models import Expert, ExpertRelationship, RelationshipKind, Specialty
from tendering.services.locks import lock

CASE = "expert-pool"
MAX_BYTES = 10 * 1024 * 1024
MAX_LINES = 50_000

CODE = "专家编号"
NAME = "姓名"
LOGIN = "登录名"
REGION_CODE = "行政区划代码"
REGION_NAME = "所在地区"
EMPLOYER = "工作单位"
EMPLOYER_CODE = "工作单位统一社会信用代码"
SPECIALTIES = "评标专业"
RELATIONSHIPS = "利害关系"
ACTIVE = "在库"
COLUMNS = (CODE, NAME, LOGIN, REGION_CODE, REGION_NAME, EMPLOYER, EMPLOYER_CODE, SPECIALTIES, RELATIONSHIPS, ACTIVE)

_EXPERT_CODE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_SPECIALTY_CODE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
_REGION = re.compile(r"^[0-9]{6}$")
_KINDS = {**{k.value: k.value for k in RelationshipKind}, **{str(k.label): k.value for k in RelationshipKind}}


@dataclasses.dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    accounts_created: int
    specialties_created: int
    relationships: int
    sha256: str


@dataclasses.dataclass
class _Line:
    number: int
    code: str
    name: str
    login: str
    region_code: str
    region_name: str
    employer: str
    employer_code: str
    specialties: list[tuple[str, str]]
    relationships: list[tuple[str, str, str]]
    active: bool


class _Problems:
    def __init__(self) -> None:
        self.fields: dict[str, list[Any]] = {}

    def add(self, line: int, column: str, message: str) -> None:
        self.fields.setdefault(f"{line}:{column}", []).append(
            _("第 %(line)d 行“%(column)s”：%(message)s") % {"line": line, "column": column, "message": message}
        )


def _text(raw: str | bytes) -> str:
    if isinstance(raw, bytes):
        if len(raw) > MAX_BYTES:
            raise InvalidInput({"file": [_("文件超过 %(n)d MB。") % {"n": MAX_BYTES // 1024 // 1024}]})
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput({"file": [_("文件不是 UTF-8 编码（请在导出时选择 UTF-8）。")]}) from None
    return raw.removeprefix("\ufeff")


def _parse(text: str) -> list[_Line]:
    problems = _Problems()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InvalidInput({"file": [_("文件为空：第一行须为表头。")]})
    header = [cell.strip() for cell in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InvalidInput({"header": [_("表头缺少列：%(columns)s。") % {"columns": "、".join(missing)}]})
    if len(rows) - 1 > MAX_LINES:
        raise InvalidInput({"file": [_("一次最多导入 %(n)d 行。") % {"n": MAX_LINES}]})
    at = {c: header.index(c) for c in COLUMNS}
    lines: list[_Line] = []
    codes: dict[str, int] = {}
    logins: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.add(
                number, _("列数"), _("有 %(got)d 列，表头有 %(want)d 列。") % {"got": len(row), "want": len(header)}
            )
            continue
        cell = {c: row[at[c]].strip() for c in COLUMNS}
        line = _line(number, cell, problems)
        if line is None:
            continue
        if line.code in codes:
            problems.add(number, CODE, _("与第 %(n)d 行重复。") % {"n": codes[line.code]})
        if line.login in logins:
            problems.add(number, LOGIN, _("与第 %(n)d 行重复。") % {"n": logins[line.login]})
        codes.setdefault(line.code, number)
        logins.setdefault(line.login, number)
        lines.append(line)
    if not lines and not problems.fields:
        raise InvalidInput({"file": [_("文件中没有专家。")]})
    if problems.fields:
        raise InvalidInput(problems.fields, _("专家库文件有误，未导入任何数据。"))
    return lines


def _line(number: int, cell: dict[str, str], problems: _Problems) -> _Line | None:
    before = len(problems.fields)

    def required(column: str, limit: int) -> str:
        value = cell[column]
        if not value:
            problems.add(number, column, _("不能为空。"))
        elif len(value) > limit:
            problems.add(number, column, _("不超过 %(n)d 字。") % {"n": limit})
        return value

    code = required(CODE, 20)
    if code and not _EXPERT_CODE.fullmatch(code):
        problems.add(number, CODE, _("只能由字母、数字、下划线和连字符组成。"))
    name = required(NAME, 100)
    login = required(LOGIN, 150)
    if login:
        try:
            UnicodeUsernameValidator()(login)
        except ValidationError:
            problems.add(number, LOGIN, _("只能由字母、数字和 @ . + - _ 组成。"))
    region_code = required(REGION_CODE, 6)
    if region_code and not _REGION.fullmatch(region_code):
        problems.add(number, REGION_CODE, _("须为 6 位数字的行政区划代码。"))
    region_name = required(REGION_NAME, 100)
    employer = required(EMPLOYER, 200)
    employer_code = cell[EMPLOYER_CODE]
    if employer_code:
        try:
            employer_code = credit_code.validate(employer_code)
        except credit_code.InvalidCreditCode:
            problems.add(number, EMPLOYER_CODE, _("不是有效的统一社会信用代码。"))
    specialties = _specialties(number, cell[SPECIALTIES], problems)
    relationships = _relationships(number, cell[RELATIONSHIPS], problems)
    active = cell[ACTIVE]
    if active not in ("是", "否"):
        problems.add(number, ACTIVE, _("须为“是”或“否”。"))
    if len(problems.fields) != before:
        return None
    return _Line(
        number,
        code,
        name,
        login,
        region_code,
        region_name,
        employer,
        employer_code,
        specialties,
        relationships,
        active == "是",
    )


def _specialties(number: int, value: str, problems: _Problems) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for part in (p.strip() for p in value.split(";")):
        if not part:
            continue
        code, _space, name = part.partition(" ")
        name = name.strip()
        if not _SPECIALTY_CODE.fullmatch(code) or not name or len(name) > 100:
            problems.add(number, SPECIALTIES, _("“%(part)s”须写作“专业代码 专业名称”。") % {"part": part})
        elif code not in {c for c, _n in found}:
            found.append((code, name))
    if not found and value.strip() == "":
        problems.add(number, SPECIALTIES, _("至少一个评标专业。"))
    return found


def _relationships(number: int, value: str, problems: _Problems) -> list[tuple[str, str, str]]:
    found = []
    for part in (p.strip() for p in value.split(";")):
        if not part:
            continue
        fields = [f.strip() for f in part.split("|")]
        if len(fields) != 3:
            problems.add(
                number, RELATIONSHIPS, _("“%(part)s”须写作“统一社会信用代码|单位名称|关系”。") % {"part": part}
            )
            continue
        code, organization, kind = fields
        if code:
            try:
                code = credit_code.validate(code)
            except credit_code.InvalidCreditCode:
                problems.add(number, RELATIONSHIPS, _("“%(code)s”不是有效的统一社会信用代码。") % {"code": code})
                continue
        if not organization or len(organization) > 200:
            problems.add(number, RELATIONSHIPS, _("“%(part)s”缺少单位名称。") % {"part": part})
        elif kind not in _KINDS:
            problems.add(
                number,
                RELATIONSHIPS,
                _("关系“%(kind)s”须为：%(kinds)s。")
                % {"kind": kind, "kinds": "、".join(str(k.label) for k in RelationshipKind)},
            )
        else:
            found.append((code, organization, _KINDS[kind]))
    return found


def _check_accounts(lines: list[_Line]) -> None:
    """A login already used by a user that is not this expert's (or not an expert at all) is refused."""
    problems = _Problems()
    experts = {e.code: e for e in Expert.objects.filter(code__in=[ln.code for ln in lines]).select_related("user")}
    users = {u.username: u for u in User.objects.filter(username__in=[ln.login for ln in lines])}
    profiles = dict(Expert.objects.filter(user__in=list(users.values())).values_list("user__username", "code"))
    for line in lines:
        expert = experts.get(line.code)
        if expert is not None and expert.user.username != line.login:
            problems.add(
                line.number,
                LOGIN,
                _("专家 %(code)s 的登录名是 %(login)s，不能更改。")
                % {
                    "code": line.code,
                    "login": expert.user.username,
                },
            )
            continue
        user = users.get(line.login)
        if user is not None and expert is None:
            if line.login in profiles:
                problems.add(line.number, LOGIN, _("已是专家 %(code)s 的登录名。") % {"code": profiles[line.login]})
            elif not user.has_role(Role.EXPERT):
                problems.add(line.number, LOGIN, _("该登录名已被其他（非专家）账号使用。"))
    if problems.fields:
        raise InvalidInput(problems.fields, _("专家库文件有误，未导入任何数据。"))


def import_pool(actor: User, raw: str | bytes) -> ImportResult:
    """Create or update the experts of the file (by 专家编号), their specialties and relationships, and an expert
    account (unusable password, activated by the admin) for each new login. Platform admin only."""
    if not actor.has_role(Role.PLATFORM_ADMIN):
        raise PermissionDenied(_("只有平台管理员可以导入专家库。"))
    digest = hashlib.sha256(raw.encode("utf-8") if isinstance(raw, str) else raw).hexdigest()
    text = _text(raw)
    lines = _parse(text)
    with transaction.atomic():
        existing = {e.code: e for e in lock(Expert.objects.filter(code__in=[ln.code for ln in lines]))}
        _check_accounts(lines)
        now = clock.now()
        specialties = {s.code: s for s in Specialty.objects.all()}
        specialties_created = 0
        for line in lines:
            for code, name in line.specialties:
                if code not in specialties:
                    specialties[code] = Specialty.objects.create(code=code, name=name)
                    specialties_created += 1
                elif specialties[code].name != name:
                    specialties[code].name = name
                    specialties[code].save(update_fields=["name"])
        users = {u.username: u for u in User.objects.filter(username__in=[ln.login for ln in lines])}
        created = updated = accounts_created = relationships = 0
        for line in lines:
            user = users.get(line.login)
            if user is None:
                user = User(username=line.login, display_name=line.name)
                user.set_unusable_password()
                user.save()
                RoleGrant.objects.create(user=user, role=Role.EXPERT)
                accounts_created += 1
            values = {
                "name": line.name,
                "region_code": line.region_code,
                "region_name": line.region_name,
                "employer_name": line.employer,
                "employer_credit_code": line.employer_code,
                "active": line.active,
                "updated_at": now,
            }
            expert = existing.get(line.code)
            if expert is None:
                expert = Expert.objects.create(code=line.code, user=user, imported_at=now, **values)
                created += 1
            else:
                Expert.objects.filter(pk=expert.pk).update(**values)
                updated += 1
            expert.specialties.set([specialties[code] for code, _name in line.specialties])
            expert.relationships.all().delete()
            ExpertRelationship.objects.bulk_create(
                ExpertRelationship(expert=expert, organization_credit_code=c, organization_name=n, kind=k)
                for c, n, k in line.relationships
            )
            relationships += len(line.relationships)
        result = ImportResult(created, updated, accounts_created, specialties_created, relationships, digest)
        record(CASE, "evaluation.pool.imported", {**dataclasses.asdict(result), "lines": len(lines)}, actor)
    return result
