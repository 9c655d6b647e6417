"""Demo data for `make run`: organizations, users with printed passwords, their keys
under var/demo-keys, a published tender open for bids, and a tender at its opening
with three sealed bids (``demo_opening``). Idempotent.

The tender at its opening is published with a bid period of seconds (only the demo
bends ``BID_PERIOD_MIN_DAYS``, in this process and for that tender): its bids are
sealed here with the demo bidders' keys, exactly as their clients would, to the
custodians the tender lists, and submitted before its deadline, which is also its
opening time. ``load_demo`` returns once that time has come. When that opening's
decryption window has passed, the next ``load_demo`` makes a new one (numbered on).
``manage.py play_demo`` then plays the other participants' devices (frontend/demo_devices.py).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from accounts import credit_code
from accounts.models import KeyPurpose, Organization, OrganizationKind, PublicKey, Role, RoleGrant, User
from accounts.own_device import register_own_key, spki_der
from archive.ledger import make_checkpoint
from archive.signing import platform_signer
from config import clock
from tendering.method import default_method
from tendering.models import Entrustment, EvaluationMethod, ProcedureType, Tender, TenderCustodian
from tendering.own_device import confirm_custody_as
from tendering.sealing import LotPrice, PriceSummary, seal_bid
from tendering.sealing.response_index import ResponseIndex
from tendering.services import bids, documents, entrustments, tenders

DEMO_TENDER_NUMBER = "RJ-2026-GC-001"
# The tenders at their opening: RJ-2026-KB-001, then -002 when that one's decryption window has passed.
DEMO_OPENING_PREFIX = "RJ-2026-KB-"
# From publication to the deadline (= the opening time): time enough to seal and submit three small bids.
DEMO_OPENING_LEAD_SECONDS = 8
# Each demo bidder's prices (yuan) and schedules (calendar days) for lots 1 and 2 of the tender at its opening.
DEMO_BIDS = {
    "bidder1": [("5868000.00", 150), ("2318500.50", 120)],
    "bidder2": [("6012345.60", 160), ("2250000.00", 110)],
    "bidder3": [("5790000.00", 170), ("2399999.99", 125)],
}
CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    org: str | None
    roles: tuple[str, ...]
    keys: bool = False


ORGS = [
    ("瑞金市城市建设投资有限公司", OrganizationKind.TENDERER, "91360781"),
    ("赣南公信招标代理有限公司", OrganizationKind.AGENCY, "91360702"),
    ("江西红土建设工程有限公司", OrganizationKind.BIDDER, "91360781"),
    ("赣州宏达路桥有限公司", OrganizationKind.BIDDER, "91360703"),
    ("南康精工建筑有限公司", OrganizationKind.BIDDER, "91360782"),
    ("瑞金市发展和改革委员会", OrganizationKind.REGULATOR, "11360781"),
    ("瑞金市公共资源交易中心", OrganizationKind.PLATFORM, "12360781"),
]

USERS = [
    DemoUser("tenderer", "刘建国（招标人）", "瑞金市城市建设投资有限公司", (Role.TENDERER_STAFF,)),
    DemoUser("agent", "陈晓梅（代理机构）", "赣南公信招标代理有限公司", (Role.AGENCY_STAFF,)),
    DemoUser("bidder1", "王磊（红土建设）", "江西红土建设工程有限公司", (Role.BIDDER,), keys=True),
    DemoUser("bidder2", "赵敏（宏达路桥）", "赣州宏达路桥有限公司", (Role.BIDDER,), keys=True),
    DemoUser("bidder3", "孙强（精工建筑）", "南康精工建筑有限公司", (Role.BIDDER,), keys=True),
    # Their signing keys sign score sheets and the report in the evaluation session.
    *[DemoUser(f"expert{i}", f"专家{i}", None, (Role.EXPERT,), keys=True) for i in range(1, 6)],
    DemoUser("custodian1", "钟华（保管人，招标人）", "瑞金市城市建设投资有限公司", (Role.CUSTODIAN,), keys=True),
    DemoUser("custodian2", "黄芳（保管人，监督部门）", "瑞金市发展和改革委员会", (Role.CUSTODIAN,), keys=True),
    DemoUser("custodian3", "李军（保管人，交易中心）", "瑞金市公共资源交易中心", (Role.CUSTODIAN,), keys=True),
    DemoUser("regulator", "周平（监督人员）", "瑞金市发展和改革委员会", (Role.REGULATOR,)),
    DemoUser("admin", "平台管理员", "瑞金市公共资源交易中心", (Role.PLATFORM_ADMIN,)),
]


def demo_password(username: str) -> str:
    return f"Demo-{username}-2026"


def _code(prefix8: str, index: int) -> str:
    return credit_code.make(f"{prefix8}MA{index:07d}"[:17])


def demo_pdf(title: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    font = "Helvetica"
    if Path(CJK_FONT).exists():
        pdfmetrics.registerFont(TTFont("WenQuanYi", CJK_FONT, subfontIndex=0))
        font = "WenQuanYi"
    pdf.setFont(font, 16)
    pdf.drawString(72, 770, title if font != "Helvetica" else "Tender documents (demo)")
    pdf.setFont(font, 11)
    lines = [
        "第一章 招标公告",
        "第二章 投标人须知",
        "第三章 评标办法（综合评估法）",
        "第四章 合同条款",
        "第五章 工程量清单",
    ]
    for i, line in enumerate(lines):
        pdf.drawString(72, 730 - 22 * i, line if font != "Helvetica" else f"Chapter {i + 1}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _write_private_key(folder: Path, username: str, purpose: str) -> ec.EllipticCurvePrivateKey:
    path = folder / f"{username}-{purpose}.pem"
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def load_demo(out: io.TextIOBase | None = None) -> list[tuple[str, str, str]]:
    """Create what is missing; return (username, password, roles) rows to print."""
    key_dir = Path(settings.VAR_DIR) / "demo-keys"
    key_dir.mkdir(parents=True, exist_ok=True)
    orgs: dict[str, Organization] = {}
    with transaction.atomic():
        for i, (name, kind, prefix) in enumerate(ORGS):
            org, _ = Organization.objects.get_or_create(
                name=name, defaults={"kind": kind, "credit_code": _code(prefix, i + 1)}
            )
            orgs[name] = org
        for spec in USERS:
            user = User.objects.filter(username=spec.username).first()
            if user is None:
                user = User(
                    username=spec.username, display_name=spec.display_name, organization=orgs.get(spec.org or "")
                )
                user.set_password(demo_password(spec.username))
                if spec.username == "admin":
                    user.is_staff = user.is_superuser = True
                user.save()
            for role in spec.roles:
                RoleGrant.objects.get_or_create(user=user, role=role)
    for spec in USERS:
        if not spec.keys:
            continue
        user = User.objects.get(username=spec.username)
        for purpose in (KeyPurpose.SIGNING, KeyPurpose.ENCRYPTION):
            private = _write_private_key(key_dir, spec.username, purpose)
            der = private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            if not PublicKey.objects.filter(fingerprint=PublicKey.fingerprint_of(der)).exists():
                # As the user's own device would: answer the platform's challenge with the private key.
                register_own_key(user, purpose, private, label="demo")
    _demo_entrustment()
    if not Tender.objects.filter(number=DEMO_TENDER_NUMBER).exists():
        _demo_tender()
    _demo_custody(key_dir)
    demo_opening(key_dir)
    # The development PKI is generated on first run; the checkpoint signs what the demo recorded.
    platform_signer()
    make_checkpoint()
    return [(s.username, demo_password(s.username), ",".join(s.roles)) for s in USERS]


def _demo_entrustment() -> None:
    """The demo tenderer entrusts the demo agency for a year (招标投标法 Art 15), so the agent can act in its name."""
    tenderer = User.objects.get(username="tenderer")
    agency = Organization.objects.get(kind=OrganizationKind.AGENCY, name="赣南公信招标代理有限公司")
    now = clock.now()
    live = Entrustment.objects.filter(
        tenderer_id=tenderer.organization_id,
        agency=agency,
        revoked_at__isnull=True,
        tender_number="",
        valid_until__gt=now,
    )
    if not live.exists():
        entrustments.grant(tenderer, agency.pk, valid_from=now, valid_until=now + dt.timedelta(days=365))


def _demo_custody(key_dir: Path) -> None:
    """The demo custodians confirm, with their demo signing keys, every slot still open of theirs,
    so the demo tender takes bids.
    """
    slots = TenderCustodian.objects.filter(
        user__username__in=[s.username for s in USERS if Role.CUSTODIAN in s.roles],
        custody_confirmed_at__isnull=True,
        tender__published_at__isnull=False,
        tender__bid_deadline__gt=clock.now(),
    ).select_related("user", "tender", "public_key")
    for slot in slots:
        signing = _write_private_key(key_dir, slot.user.username, KeyPurpose.SIGNING)
        encryption = _write_private_key(key_dir, slot.user.username, KeyPurpose.ENCRYPTION)
        if slot.public_key is None or slot.public_key.fingerprint != PublicKey.fingerprint_of(spki_der(encryption)):
            # the tender lists another key of this custodian (not the demo one): only its own device can confirm
            continue
        confirm_custody_as(slot.user, slot.tender, signing, encryption)


def _demo_tender() -> None:
    tenderer = User.objects.get(username="tenderer")
    agency = Organization.objects.get(kind=OrganizationKind.AGENCY, name="赣南公信招标代理有限公司")
    now = clock.now()
    deadline = (now + dt.timedelta(days=25)).replace(minute=0, second=0, microsecond=0)
    custodians = list(User.objects.filter(username__in=["custodian1", "custodian2", "custodian3"]).order_by("username"))
    data = tenders.TenderInput(
        number=DEMO_TENDER_NUMBER,
        title="瑞金市沙洲坝镇乡村道路提升改造工程",
        description="对沙洲坝镇 12.6 公里乡村道路进行路面改造、排水与安全设施建设。",
        procedure_type=ProcedureType.OPEN,
        budget=Decimal("8650000.00"),
        bid_deadline=deadline,
        opening_time=deadline,
        enquiry_deadline=deadline - dt.timedelta(days=10),
        evaluation_method=EvaluationMethod.COMPREHENSIVE,
        method=default_method(EvaluationMethod.COMPREHENSIVE),
        custodian_ids=[u.pk for u in custodians],
        custodian_threshold=2,
        lots=[
            tenders.LotInput(1, "路面工程", Decimal("6200000.00")),
            tenders.LotInput(2, "排水及安全设施", Decimal("2450000.00")),
        ],
        agency_id=agency.pk,
    )
    with transaction.atomic():
        tender = tenders.create_draft(tenderer, data)
        content = demo_pdf("瑞金市沙洲坝镇乡村道路提升改造工程 招标文件")
        documents.add_document(tenderer, tender, "招标文件.pdf", io.BytesIO(content), len(content))
        tenders.publish(tenderer, tender)


def demo_tenders() -> list[Tender]:
    """The tender open for bids, then the live one at its opening (what load_demo prints)."""
    found = list(Tender.objects.filter(number=DEMO_TENDER_NUMBER))
    live = live_demo_opening()
    return found + ([live] if live is not None else [])


def live_demo_opening() -> Tender | None:
    """The newest demo tender at its opening whose decryption window has not passed."""
    window = dt.timedelta(minutes=settings.OPENING_DECRYPTION_WINDOW_MINUTES)
    return (
        Tender.objects.filter(number__startswith=DEMO_OPENING_PREFIX, opening_time__gt=clock.now() - window)
        .order_by("-opening_time")
        .first()
    )


def demo_key(username: str, purpose: str) -> ec.EllipticCurvePrivateKey:
    """A demo user's private key, as load_demo wrote it to var/demo-keys."""
    return _write_private_key(Path(settings.VAR_DIR) / "demo-keys", username, purpose)


def demo_opening(key_dir: Path) -> Tender:
    """A tender at its opening with a sealed bid from each demo bidder (the live one if there is one)."""
    live = live_demo_opening()
    if live is not None:
        return live
    number = f"{DEMO_OPENING_PREFIX}{Tender.objects.filter(number__startswith=DEMO_OPENING_PREFIX).count() + 1:03d}"
    tenderer = User.objects.get(username="tenderer")
    custodians = list(User.objects.filter(username__in=["custodian1", "custodian2", "custodian3"]).order_by("username"))
    # A bid period of seconds, for this demo tender only: the law's 20 days would keep the demo from its opening.
    with override_settings(BID_PERIOD_MIN_DAYS=dict.fromkeys(settings.BID_PERIOD_MIN_DAYS, 0)):
        deadline = (clock.now() + dt.timedelta(seconds=DEMO_OPENING_LEAD_SECONDS)).replace(microsecond=0)
        data = tenders.TenderInput(
            number=number,
            title="瑞金市叶坪乡桥涵加固及道路改造工程",
            description="叶坪乡 6 座桥涵加固与 4.8 公里道路改造（开标演示：开标时间已到，三份投标文件已密封提交）。",
            procedure_type=ProcedureType.OPEN,
            budget=Decimal("8800000.00"),
            bid_deadline=deadline,
            opening_time=deadline,
            enquiry_deadline=deadline,
            evaluation_method=EvaluationMethod.COMPREHENSIVE,
            method=default_method(EvaluationMethod.COMPREHENSIVE),
            custodian_ids=[u.pk for u in custodians],
            custodian_threshold=2,
            lots=[
                tenders.LotInput(1, "桥涵加固工程", Decimal("6300000.00")),
                tenders.LotInput(2, "道路改造工程", Decimal("2500000.00")),
            ],
        )
        with transaction.atomic():
            tender = tenders.create_draft(tenderer, data)
            content = demo_pdf("瑞金市叶坪乡桥涵加固及道路改造工程 招标文件")
            documents.add_document(tenderer, tender, "招标文件.pdf", io.BytesIO(content), len(content))
            tenders.publish(tenderer, tender)
    for custodian in custodians:
        confirm_custody_as(
            custodian,
            tender,
            _write_private_key(key_dir, custodian.username, KeyPurpose.SIGNING),
            _write_private_key(key_dir, custodian.username, KeyPurpose.ENCRYPTION),
        )
    for username, lots in DEMO_BIDS.items():
        seal_and_submit(tender, User.objects.get(username=username), key_dir, lots)
    # Returns once the hall is open: the opening time has come.
    time.sleep(max(0.0, (deadline - clock.now()).total_seconds()))
    return tender


def seal_and_submit(
    tender: Tender,
    bidder: User,
    key_dir: Path,
    lots: list[tuple[str, int]],
    files: dict[str, bytes] | None = None,
    response_index: ResponseIndex | None = None,
) -> None:
    """Seal a small bid with the bidder's demo keys, as its client does, to the tender's custodians, and submit it.

    ``files`` (path in the bid folder → bytes) default to one technical PDF."""
    organization = bidder.organization
    assert organization is not None and organization.credit_code
    bid_id = str(uuid.uuid4())
    summary = PriceSummary(
        tender=str(tender.public_id),
        bid=bid_id,
        bidder=organization.credit_code,
        lots=tuple(
            LotPrice(lot=str(n), price_yuan=price, schedule_days=days, declared={"项目经理": bidder.display_name})
            for n, (price, days) in enumerate(lots, start=1)
        ),
    )
    slots = tender.custodian_slots.select_related("public_key").order_by("position")
    custodian_keys = [bytes(slot.public_key.spki_der) for slot in slots if slot.public_key is not None]
    with tempfile.TemporaryDirectory(prefix="etender-demo-bid-") as folder:
        source = Path(folder) / "bid"
        for relative, content in (files or {"技术标.pdf": demo_pdf(f"{organization.name} 投标文件（技术标）")}).items():
            (source / relative).parent.mkdir(parents=True, exist_ok=True)
            (source / relative).write_bytes(content)
        sink = io.BytesIO()
        sealed = seal_bid(
            str(source),
            summary,
            str(tender.public_id),
            bid_id,
            organization.credit_code,
            _write_private_key(key_dir, bidder.username, KeyPurpose.SIGNING),
            _write_private_key(key_dir, bidder.username, KeyPurpose.ENCRYPTION).public_key(),
            custodian_keys,
            tender.custodian_threshold,
            sink,
            response_index=response_index,
        )
    ciphertext = sink.getvalue()
    upload = bids.start_upload(bidder, tender, uuid.UUID(bid_id), len(ciphertext))
    for number, offset in enumerate(range(0, len(ciphertext), upload.part_size), start=1):
        chunk = ciphertext[offset : offset + upload.part_size]
        bids.upload_part(bidder, upload.public_id, number, io.BytesIO(chunk), len(chunk))
    bids.finalize(bidder, upload.public_id, sealed.manifest_bytes, sealed.signature)
