"""The evaluation method on the pages: the draft form edits it (JSON without JavaScript, every problem shown at
once next to it) and the tender's page shows it to bidders, required documents first (一次性告知)."""

from __future__ import annotations

import html
import json
import re

from django.urls import reverse

from archive.models import LedgerEntry
from tendering.method import default_method
from tendering.models import Tender
from tests.frontend.conftest import signed_in, tender_form_data


def method_errors(page: str) -> list[str]:
    match = re.search(r'<ul class="errorlist" id="id_method_error">(.*?)</ul>', page, re.S)
    assert match, "no error shown on the method"
    return [html.unescape(m) for m in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def test_a_broken_method_is_refused_with_every_problem_next_to_it_and_nothing_is_stored(personas, frozen_clock):
    method = default_method("comprehensive")
    method["criteria"][1]["weight"] = 10
    method["criteria"][2]["min_score"] = "20.00"
    method["qualification"][2]["documents"][0]["id"] = "D1"
    client = signed_in(personas.tenderer)
    data = tender_form_data(frozen_clock(), personas.custodians, method=json.dumps(method, ensure_ascii=False))
    page = client.post(reverse("frontend:tender-create"), data).text
    errors = method_errors(page)
    assert errors == [
        "资格审查项第 3 项 · 所需材料第 1 项 · 编号：编号 D1 重复：资格审查项、所需材料和评分因素的编号不能相同。",
        '评分因素第 2 项 · 权重：必须是写成文字的数，最多两位小数，例如 "30.00"。',
        "评分因素第 3 项 · 最低分：最低分必须小于最高分。",
    ]
    assert not Tender.objects.exists()
    assert not LedgerEntry.objects.filter(action__startswith="tendering.").exists()

    unreadable = client.post(reverse("frontend:tender-create"), {**data, "method": "{not json"}).text
    assert method_errors(unreadable)
    assert not Tender.objects.exists()


def test_the_form_starts_from_the_template_and_saves_the_method_posted(personas, frozen_clock):
    client = signed_in(personas.tenderer)
    page = client.get(reverse("frontend:tender-create")).text
    textarea = re.search(r'<textarea name="method"[^>]*>(.*?)</textarea>', page, re.S)
    assert textarea and json.loads(html.unescape(textarea.group(1))) == default_method("comprehensive")
    assert 'id="method-editor-config"' in page and "method-editor.js" in page

    method = default_method("comprehensive")
    method["price"] = {
        "rule": "benchmark", "weight": "50.00", "factors": ["-0.02", "0.00"], "deduct_above": "1",
        "deduct_below": "0.5",
    }  # fmt: skip
    data = tender_form_data(frozen_clock(), personas.custodians, method=json.dumps(method))
    response = client.post(reverse("frontend:tender-create"), data)
    assert response.status_code == 302
    tender = Tender.objects.get()
    assert tender.evaluation_criteria["price"] == {
        "rule": "benchmark", "weight": "50.00", "factors": ["-0.02", "0.00"], "deduct_above": "1.00",
        "deduct_below": "0.50",
    }  # fmt: skip
    edit = client.get(reverse("frontend:tender-edit", args=[tender.public_id])).text
    textarea = re.search(r'<textarea name="method"[^>]*>(.*?)</textarea>', edit, re.S)
    assert json.loads(html.unescape(textarea.group(1))) == tender.evaluation_criteria


def test_the_tender_page_shows_bidders_the_method_and_every_required_document(personas, published_tender, client):
    page = client.get(reverse("frontend:tender-detail", args=[published_tender.public_id])).text
    section = re.search(r'<section aria-labelledby="method-heading" id="method">(.*?)</section>', page, re.S).group(1)
    documents = re.findall(r'<li data-document="(\w+)">([^<]+) ', section)
    assert documents == [
        ("D1", "营业执照"), ("D2", "资质证书"), ("D3", "项目经理注册证书"), ("D4", "安全生产考核合格证"),
        ("D5", "投标保证金凭证"),
    ]  # fmt: skip
    criteria = re.findall(r'<tr data-criterion="(\w+)">.*?<td class="num"[^>]*>([\d.]+)</td>\s*</tr>', section, re.S)
    assert criteria == [("T1", "20.00"), ("T2", "10.00"), ("T3", "5.00"), ("C1", "10.00"), ("C2", "5.00")]
    assert "0.00–10.00" in section
    assert "价格得分 = 最低有效投标报价 ÷ 投标报价 × 50.00" in section
    assert "30.00%" in section

    client.cookies["django_language"] = "en"
    english = client.get(reverse("frontend:tender-detail", args=[published_tender.public_id])).text
    assert "Documents every bid must contain (one-time notice)" in english
    assert "Price score = lowest valid price ÷ price × 50.00" in english
