"""The demo's evaluation: a tender whose opening is over and whose committee is drawn and waiting in its session.

``demo_evaluation`` makes RJ-2026-PB-001 the way a real procedure goes, through the services, with a bid
period of seconds (the demo alone bends ``BID_PERIOD_MIN_DAYS``, for this tender):

1. the demo pool is imported from a CSV file, as a trading centre holds it (``DEMO_POOL_CSV``): the five demo
   experts, one employed by a bidder and one from the tender's own county (both excluded by the draw);
2. the tender is published with the default method; the tenderer asks for five experts from outside 瑞金市
   (360781), the platform commits to its secret, and the regulator commits to its own (the demo keeps the
   regulator's secret in var/demo-keys, as the regulator's browser would);
3. the three demo bidders seal and submit bids with several PDFs and a response index (评审因素定位);
4. at the opening the bidders release their keys, the bids are decrypted here (as the worker would), the
   record is published and confirmed, and the opening is closed;
5. the candidates are frozen, the regulator reveals its secret, the draw is made and the drawn experts confirm.

The session is then at its sign-in. ``manage.py play_demo`` (``frontend/demo_session.py``) plays experts 2–5;
the visitor is ``expert1``.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import io
import secrets
import time
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.test import override_settings

from accounts.models import KeyPurpose, Organization, OrganizationKind, User
from config import clock
from evaluation.models import Evaluation, Stage
from evaluation.services import confirmation, draw, pool
from frontend.demo import CJK_FONT, demo_key, demo_pdf, seal_and_submit
from tendering.client.opening import bidder_file_key, custodian_parts, fingerprint_of, hall_bids
from tendering.method import default_method
from tendering.models import BidOpeningState, EvaluationMethod, ProcedureType, Tender
from tendering.own_device import confirm_custody_as
from tendering.sealing.response_index import Pointer, ResponseIndex
from tendering.services import decryption, documents, tenders
from tendering.services.opening import admission, conclusion, confirmations, keys, views
from tendering.services.opening import custodian_parts as parts_service

DEMO_EVALUATION_NUMBER = "RJ-2026-PB-001"
DEMO_EVALUATION_LEAD_SECONDS = 12
# 瑞金市: the tender's own county, from which no expert may come.
TENDER_COUNTY = "360781"
SPECIALTY = "A01"
VISITOR_EXPERT = "expert1"
# Each bidder's prices (yuan) and schedules (days) for the two lots.
DEMO_EVALUATION_BIDS = {
    "bidder1": [("5868000.00", 150), ("2318500.50", 120)],
    "bidder2": [("6012345.60", 160), ("2250000.00", 110)],
    "bidder3": [("5790000.00", 170), ("2399999.99", 125)],
}


def demo_pool_csv() -> str:
    """The demo pool as a trading centre's CSV file: the five demo experts and two the draw must exclude."""
    bidder1 = Organization.objects.get(kind=OrganizationKind.BIDDER, name="江西红土建设工程有限公司")
    rows = [
        ("E1001", "专家1", "expert1", "360702", "赣州市章贡区", "江西理工大学", "", ""),
        ("E1002", "专家2", "expert2", "360703", "赣州市南康区", "赣州市交通设计院", "", ""),
        ("E1003", "专家3", "expert3", "360100", "南昌市", "江西省公路工程质量监督站", "", ""),
        ("E1004", "专家4", "expert4", "360400", "九江市", "九江市城建咨询有限公司", "", ""),
        ("E1005", "专家5", "expert5", "360800", "吉安市", "吉安市市政工程设计院", "", ""),
        # Employed by a bidder: excluded (回避).
        ("E1006", "专家6", "expert6", "360702", "赣州市章贡区", bidder1.name, bidder1.credit_code or "", ""),
        # From the tender's own county: excluded by the request.
        ("E1007", "专家7", "expert7", TENDER_COUNTY, "瑞金市", "瑞金市规划设计院", "", ""),
    ]
    header = "专家编号,姓名,登录名,行政区划代码,所在地区,工作单位,工作单位统一社会信用代码,评标专业,利害关系,在库"
    lines = [header]
    for code, name, login, region, region_name, employer, employer_code, relationships in rows:
        lines.append(
            ",".join(
                [
                    code,
                    name,
                    login,
                    region,
                    region_name,
                    employer,
                    employer_code,
                    f"{SPECIALTY} 公路工程",
                    relationships,
                    "是",
                ]
            )
        )
    return "\n".join(lines) + "\n"


def bid_pdf(title: str, sections: list[tuple[str, list[str]]]) -> bytes:
    """A bid document of one page per section, in Chinese (the session's viewer opens it by pages)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    font = "Helvetica"
    if Path(CJK_FONT).exists():
        if "WenQuanYi" not in pdfmetrics.getRegisteredFontNames():  # loading the font takes a second
            pdfmetrics.registerFont(TTFont("WenQuanYi", CJK_FONT, subfontIndex=0))
        font = "WenQuanYi"
    for number, (heading, lines) in enumerate(sections, start=1):
        pdf.setFont(font, 16)
        pdf.drawString(72, 770, title)
        pdf.setFont(font, 13)
        pdf.drawString(72, 735, f"{number}. {heading}")
        pdf.setFont(font, 11)
        for i, line in enumerate(lines):
            pdf.drawString(72, 705 - 20 * i, line)
        pdf.drawString(480, 40, f"第 {number} 页")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def demo_bid_files(company: str) -> tuple[dict[str, bytes], ResponseIndex]:
    """A bid folder with the technical bid and the qualification documents, and where each criterion is answered."""
    technical = bid_pdf(
        f"{company} 技术标",
        [
            ("施工组织设计", ["施工总体部署：分三段流水施工。", "主要施工方法：沥青混凝土摊铺，压路机分层碾压。"]),
            ("质量与安全保证措施", ["质量目标：合格，争创省优。", "安全措施：专职安全员 3 名，每日巡查。"]),
            ("工期与进度计划", ["总工期 150 日历天。", "关键线路：路基—基层—面层—交通设施。"]),
            ("企业业绩", ["近三年同类道路工程 8 项，合同额合计 1.2 亿元。"]),
            ("企业信誉", ["AAA 级信用企业，无不良行为记录。"]),
        ],
    )
    qualification = {
        "资格/营业执照.pdf": bid_pdf(f"{company} 营业执照", [("营业执照", ["统一社会信用代码见正本。"])]),
        "资格/资质证书.pdf": bid_pdf(f"{company} 资质证书", [("资质证书", ["公路工程施工总承包二级。"])]),
        "资格/项目经理注册证书.pdf": bid_pdf(f"{company} 项目经理", [("注册证书", ["一级注册建造师（公路）。"])]),
        "资格/安全生产考核合格证.pdf": bid_pdf(f"{company} 安全生产", [("考核合格证", ["B 类证书，有效期内。"])]),
        "资格/投标保证金凭证.pdf": bid_pdf(f"{company} 保证金", [("投标保证金凭证", ["保函编号 BH-2026-001。"])]),
    }
    files = {"技术标.pdf": technical, **qualification}
    pointers = [
        Pointer("T1", "技术标.pdf", 1),
        Pointer("T2", "技术标.pdf", 2),
        Pointer("T3", "技术标.pdf", 3),
        Pointer("C1", "技术标.pdf", 4),
        Pointer("C2", "技术标.pdf", 5),
        Pointer("D1", "资格/营业执照.pdf", 1),
        Pointer("D2", "资格/资质证书.pdf", 1),
        Pointer("D3", "资格/项目经理注册证书.pdf", 1),
        Pointer("D4", "资格/安全生产考核合格证.pdf", 1),
        Pointer("D5", "资格/投标保证金凭证.pdf", 1),
    ]
    return files, ResponseIndex(tuple(sorted(pointers, key=lambda p: (p.item, p.path.encode(), p.page))))


def supervisor_secret_path(key_dir: Path, tender: Tender) -> Path:
    return key_dir / f"regulator-draw-secret-{tender.number}.txt"


def demo_evaluation(key_dir: Path) -> Tender:
    """The demo tender in evaluation (made once; the next load_demo leaves it as it is)."""
    found = Tender.objects.filter(number=DEMO_EVALUATION_NUMBER).first()
    if found is not None:
        return found
    # The bids' folders first: the bid period below is seconds long.
    folders = {}
    for username in DEMO_EVALUATION_BIDS:
        organization = User.objects.get(username=username).organization
        assert organization is not None
        folders[username] = demo_bid_files(organization.name)
    admin = User.objects.get(username="admin")
    pool.import_pool(admin, demo_pool_csv())
    tenderer = User.objects.get(username="tenderer")
    regulator = User.objects.get(username="regulator")
    custodians = list(User.objects.filter(username__in=["custodian1", "custodian2", "custodian3"]).order_by("username"))
    with override_settings(BID_PERIOD_MIN_DAYS=dict.fromkeys(settings.BID_PERIOD_MIN_DAYS, 0)):
        deadline = (clock.now() + dt.timedelta(seconds=DEMO_EVALUATION_LEAD_SECONDS)).replace(microsecond=0)
        data = tenders.TenderInput(
            number=DEMO_EVALUATION_NUMBER,
            title="瑞金市九堡镇农村公路安全生命防护工程",
            description="九堡镇 18.3 公里农村公路的护栏、标志标线与路面修复（评标演示：开标已结束，专家已抽取）。",
            procedure_type=ProcedureType.OPEN,
            budget=Decimal("8800000.00"),
            bid_deadline=deadline,
            opening_time=deadline,
            enquiry_deadline=deadline,
            evaluation_method=EvaluationMethod.COMPREHENSIVE,
            custodian_ids=[u.pk for u in custodians],
            custodian_threshold=2,
            lots=[
                tenders.LotInput(1, "路面修复工程", Decimal("6300000.00")),
                tenders.LotInput(2, "交通安全设施", Decimal("2500000.00")),
            ],
            method=default_method(EvaluationMethod.COMPREHENSIVE),
        )
        with transaction.atomic():
            tender = tenders.create_draft(tenderer, data)
            content = demo_pdf("瑞金市九堡镇农村公路安全生命防护工程 招标文件")
            documents.add_document(tenderer, tender, "招标文件.pdf", io.BytesIO(content), len(content))
            tenders.publish(tenderer, tender)
    tender = Tender.objects.get(pk=tender.pk)
    for custodian in custodians:
        confirm_custody_as(
            custodian,
            tender,
            demo_key(custodian.username, KeyPurpose.SIGNING),
            demo_key(custodian.username, KeyPurpose.ENCRYPTION),
        )
    # Before the deadline: the request (with the platform's commitment) and the supervisor's commitment.
    draw.request_experts(tenderer, tender, {SPECIALTY: 5}, [TENDER_COUNTY])
    secret = secrets.token_bytes(32)
    supervisor_secret_path(key_dir, tender).write_text(secret.hex() + "\n", encoding="ascii")
    draw.commit_supervisor(regulator, tender, _sha256_hex(secret))
    for username, lots in DEMO_EVALUATION_BIDS.items():
        files, index = folders[username]
        seal_and_submit(tender, User.objects.get(username=username), key_dir, lots, files=files, response_index=index)
    time.sleep(max(0.0, (deadline - clock.now()).total_seconds()))
    _open(tender)
    tender.refresh_from_db()
    draw.freeze_candidates(tenderer, tender)
    draw.reveal_supervisor(regulator, tender, secret.hex())
    evaluation = Evaluation.objects.get(tender=tender)
    for member in evaluation.members.select_related("expert__user"):
        confirmation.confirm(member.expert.user, tender)
    evaluation.refresh_from_db()
    assert evaluation.stage == Stage.SIGN_IN, evaluation.stage
    return tender


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _open(tender: Tender) -> None:
    """The opening, as its participants and the worker would do it: keys, decryption, record, close."""
    tenderer = User.objects.get(username="tenderer")
    bidders = [User.objects.get(username=u) for u in DEMO_EVALUATION_BIDS]
    admission.sign_in(tenderer, tender)
    for bidder in bidders:
        admission.sign_in(bidder, tender)
        private = demo_key(bidder.username, KeyPurpose.ENCRYPTION)
        for bid in hall_bids(views.manifests_for(bidder, tender), str(tender.public_id)):
            if bid.manifest.envelopes.bidder.recipient == fingerprint_of(private):
                keys.release_key(bidder, tender, bid.bid, bidder_file_key(bid, private))
    # Every bid's custodian parts are checked against its key commitment (no free option): all three submit.
    for custodian in User.objects.filter(username__in=["custodian1", "custodian2", "custodian3"]):
        admission.sign_in(custodian, tender)
        opened = custodian_parts(
            hall_bids(views.manifests_for(custodian, tender), str(tender.public_id)),
            demo_key(custodian.username, KeyPurpose.ENCRYPTION),
            functools.partial(demo_key, custodian.username, KeyPurpose.SIGNING),
        )
        submitted = [
            parts_service.SubmittedPart(p["bid"], tuple(p["members"]), base64.b64decode(p["part"]))
            for p in opened.parts
        ]
        parts_service.submit_custodian_parts(custodian, tender, submitted)
    for bid_opening in tender.opening.bids.filter(state=BidOpeningState.KEY_READY):
        decryption.decrypt_bid(bid_opening.pk)
    conclusion.conclude_decryption(tenderer, tender)
    for bidder in bidders:
        confirmations.confirm_record(bidder, tender)
    conclusion.close_opening(tenderer, tender)
