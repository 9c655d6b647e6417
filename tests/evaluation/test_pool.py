"""The expert pool's CSV import: all lines or none, every bad line named by number and column; the command and
the admin's page."""

from __future__ import annotations

import hashlib
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts import credit_code
from accounts.errors import InvalidInput, PermissionDenied
from accounts.models import Role
from archive.models import LedgerEntry
from evaluation.models import Expert, ExpertRelationship, Specialty
from evaluation.services.pool import COLUMNS, import_pool
from tests.fixtures.personas import Personas

SAMPLE = Path(__file__).resolve().parents[2] / "evaluation" / "fixtures" / "expert_pool_sample.csv"
HEADER = ",".join(COLUMNS)
GOOD = "GD9001,赵敏,gd9001,440304,深圳市福田区,深圳设计院,,A01 房屋建筑,,是"


def csv_of(*lines: str) -> str:
    return "\n".join([HEADER, *lines]) + "\n"


def nothing_stored() -> None:
    assert Expert.objects.count() == 0
    assert Specialty.objects.count() == 0
    assert not LedgerEntry.objects.filter(action="evaluation.pool.imported").exists()


def test_the_sample_imports_experts_specialties_relationships_and_accounts(personas: Personas) -> None:
    raw = SAMPLE.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # with its BOM, as spreadsheets save it

    result = import_pool(personas.admin, raw)

    assert (result.created, result.updated, result.accounts_created) == (5, 0, 5)
    assert (result.specialties_created, result.relationships) == (3, 2)
    assert result.sha256 == hashlib.sha256(raw).hexdigest()
    liu = Expert.objects.get(code="JX0004")
    assert (liu.name, liu.region_code, liu.user.username, liu.active) == ("刘芳", "360702", "jx0004", True)
    assert sorted(s.code for s in liu.specialties.all()) == ["A01", "C03"]
    assert liu.user.has_role(Role.EXPERT) and not liu.user.has_usable_password()
    relationship = ExpertRelationship.objects.get(expert=liu)
    assert (relationship.organization_credit_code, relationship.kind) == (
        credit_code.make("91360781MA0000003"),
        "relative",
    )
    assert not Expert.objects.get(code="JX0005").active
    entry = json.loads(LedgerEntry.objects.get(action="evaluation.pool.imported").data)
    assert (entry["created"], entry["sha256"]) == (5, result.sha256)


def test_a_second_import_updates_by_code(personas: Personas) -> None:
    import_pool(personas.admin, SAMPLE.read_bytes())
    changed = SAMPLE.read_text(encoding="utf-8-sig").replace("陈建国", "陈建国（更新）").replace(",否\n", ",是\n")
    result = import_pool(personas.admin, changed)
    assert (result.created, result.updated, result.accounts_created) == (0, 5, 0)
    assert Expert.objects.get(code="GD0001").name == "陈建国（更新）"
    assert Expert.objects.get(code="JX0005").active


@pytest.mark.parametrize(
    ("line", "column"),
    [
        (",赵敏,gd9001,440304,深圳,深圳设计院,,A01 房屋建筑,,是", "专家编号"),
        ("GD 9001,赵敏,gd9001,440304,深圳,深圳设计院,,A01 房屋建筑,,是", "专家编号"),
        ("GD9001,,gd9001,440304,深圳,深圳设计院,,A01 房屋建筑,,是", "姓名"),
        ("GD9001,赵敏,gd 9001,440304,深圳,深圳设计院,,A01 房屋建筑,,是", "登录名"),
        ("GD9001,赵敏,gd9001,4403,深圳,深圳设计院,,A01 房屋建筑,,是", "行政区划代码"),
        ("GD9001,赵敏,gd9001,440304,,深圳设计院,,A01 房屋建筑,,是", "所在地区"),
        ("GD9001,赵敏,gd9001,440304,深圳,,,A01 房屋建筑,,是", "工作单位"),
        ("GD9001,赵敏,gd9001,440304,深圳,深圳设计院,91440300MA0000101X,A01 房屋建筑,,是", "工作单位统一社会信用代码"),
        ("GD9001,赵敏,gd9001,440304,深圳,深圳设计院,,,,是", "评标专业"),
        ("GD9001,赵敏,gd9001,440304,深圳,深圳设计院,,A01,,是", "评标专业"),
        ("GD9001,赵敏,gd9001,440304,深圳,深圳设计院,,A01 房屋建筑,|某单位|同学,是", "利害关系"),
        ("GD9001,赵敏,gd9001,440304,深圳,深圳设计院,,A01 房屋建筑,某单位,是", "利害关系"),
        ("GD9001,赵敏,gd9001,440304,深圳,深圳设计院,,A01 房屋建筑,,Y", "在库"),
    ],
)
def test_each_bad_column_is_named_with_its_line_and_nothing_is_stored(
    personas: Personas, line: str, column: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        import_pool(personas.admin, csv_of(GOOD.replace("GD9001", "GD9000").replace("gd9001", "gd9000"), line))
    assert list(refused.value.fields) == [f"3:{column}"]
    assert "第 3 行" in str(refused.value.fields[f"3:{column}"][0])
    nothing_stored()


def test_every_bad_line_is_reported_at_once(personas: Personas) -> None:
    with pytest.raises(InvalidInput) as refused:
        import_pool(
            personas.admin,
            csv_of(
                GOOD,
                GOOD.replace("gd9001", "gd9002"),
                "GD9003,x",
                GOOD.replace("GD9001", "GD9004").replace(",是", ",?"),
            ),
        )
    assert sorted(refused.value.fields) == ["3:专家编号", "4:列数", "5:在库"]
    nothing_stored()


def test_a_file_that_is_not_a_pool_is_refused(personas: Personas) -> None:
    cases: list[tuple[str | bytes, str]] = [
        (b"\xff\xfe\x00", "file"),
        ("", "file"),
        ("专家编号,姓名\nGD1,甲\n", "header"),
        (HEADER + "\n", "file"),
    ]
    for raw, field in cases:
        with pytest.raises(InvalidInput) as refused:
            import_pool(personas.admin, raw)
        assert field in refused.value.fields
    nothing_stored()


def test_a_login_of_another_account_is_refused(personas: Personas) -> None:
    with pytest.raises(InvalidInput) as refused:
        import_pool(personas.admin, csv_of(GOOD.replace("gd9001", personas.bidder_a.username)))
    assert list(refused.value.fields) == ["2:登录名"]
    nothing_stored()


def test_only_the_platform_admin_imports(personas: Personas) -> None:
    for user in (personas.tenderer, personas.regulator, personas.expert):
        with pytest.raises(PermissionDenied):
            import_pool(user, csv_of(GOOD))
    nothing_stored()


def test_the_command_imports_and_refuses(personas: Personas, tmp_path: Path) -> None:
    out = StringIO()
    call_command("import_experts", str(SAMPLE), "--admin", personas.admin.username, stdout=out)
    assert "Imported 5 new" in out.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_of("GD9001,赵敏,gd9001,4403,深圳,深圳设计院,,A01 房屋建筑,,是"), encoding="utf-8")
    with pytest.raises(CommandError, match="第 2 行"):
        call_command("import_experts", str(bad), "--admin", personas.admin.username)
    with pytest.raises(CommandError):
        call_command("import_experts", str(SAMPLE), "--admin", personas.tenderer.username)
    assert Expert.objects.count() == 5


def test_the_pool_page_lists_filters_and_uploads(personas: Personas) -> None:
    admin = Client()
    admin.force_login(personas.admin)
    with SAMPLE.open("rb") as upload:
        assert admin.post("/pool/", {"file": upload}).status_code == 302
    listed = admin.get("/pool/?specialty=C03").content.decode()
    assert "王志强" in listed and "刘芳" in listed and "陈建国" not in listed
    refused = admin.post("/pool/", {"file": StringIO(csv_of("x"))})
    assert refused.status_code == 422 and 'id="pool-problems"' in refused.content.decode()
    outsider = Client()
    outsider.force_login(personas.tenderer)
    assert outsider.get("/pool/").status_code == 403
