"""The CLI's required-materials check (一次性告知) and response index (评审因素定位), against an in-memory platform.

``etender seal`` refuses a folder that lacks a document the tender's method requires, naming each, before it
asks the platform anything beyond the published tender: no custody, key or bidder request, nothing written,
nothing sealed. ``--response-index`` puts the bidder's pointers inside the ciphertext; ``etender bids index``
writes the file to fill in.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tendering.client import keys as keystore
from tendering.client.commands import base as commands_base
from tendering.sealing import open_bid, open_bidder_envelope, parse_manifest
from tests.client.fakes import FakeCustodyPlatform
from tests.client.test_custody_cli import (
    PASSPHRASE,
    bidder_ready,
    run,
    sealed_files,
    tender_with_custodians,
    trust_centre,
)

METHOD: dict[str, Any] = {
    "format": "etender-method-v1",
    "qualification": [
        {
            "id": "Q1",
            "title": "营业执照及资质",
            "documents": [{"id": "D1", "name": "营业执照"}, {"id": "D2", "name": "资质证书"}],
        },
        {"id": "Q2", "title": "投标保证金", "documents": []},
    ],
    "criteria": [
        {
            "id": "T1",
            "title": "施工组织设计",
            "kind": "technical",
            "weight": "30.00",
            "min_score": "0.00",
            "max_score": "10.00",
        },
        {
            "id": "C1",
            "title": "企业业绩",
            "kind": "commercial",
            "weight": "20.00",
            "min_score": "0.00",
            "max_score": "10.00",
        },
    ],
    "price": {"rule": "lowest_ratio", "weight": "50.00"},
    "anonymous_technical": False,
    "deviation_threshold_percent": "30.00",
}


@pytest.fixture(autouse=True)
def client_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("ETENDER_URL", "ETENDER_TOKEN", "ETENDER_PASSPHRASE", "ETENDER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ETENDER_URL", FakeCustodyPlatform.base_url)
    monkeypatch.setenv("ETENDER_TOKEN", "etk_test")
    monkeypatch.setenv("ETENDER_PASSPHRASE", PASSPHRASE)
    home = tmp_path / "home"
    monkeypatch.setenv("ETENDER_HOME", str(home))
    return home


def platform_with_method(monkeypatch: pytest.MonkeyPatch, method: dict[str, Any] | None) -> FakeCustodyPlatform:
    platform = tender_with_custodians()
    plain = platform.detail

    def detail() -> dict[str, Any]:
        served = plain()
        if method is not None:
            served["method"] = copy.deepcopy(method)
        return served

    monkeypatch.setattr(platform, "detail", detail)
    monkeypatch.setattr(commands_base, "HttpTransport", lambda url, token=None, **kwargs: platform)
    return platform


def add_files(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(f"%PDF-1.7 {name}".encode())


# --- refusals first ------------------------------------------------------------------------------------------


def test_sealing_is_refused_naming_each_missing_document_and_nothing_is_sent_or_written(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, client_env: Path, tmp_path: Path
) -> None:
    platform = platform_with_method(monkeypatch, METHOD)
    folder = bidder_ready(client_env, platform, tmp_path)
    trust_centre(capsys, tmp_path)
    add_files(folder, "技术/施工组织设计.pdf")
    platform.calls.clear()
    status, _, err = run(capsys, "seal", str(folder), "--tender", platform.tender, "--price", "100")
    assert status == 1
    assert "the bid folder lacks 2 document(s) the tender requires (一次性告知)" in err
    assert "Q1 营业执照及资质: D1 营业执照" in err and "Q1 营业执照及资质: D2 资质证书" in err
    assert "Nothing was sealed or sent." in err
    # Only the published tender was read (to know its method): no custody, key, bidder or upload request.
    assert platform.calls == [("GET", f"/api/tenders/{platform.tender}")]
    assert platform.posts == [] and sealed_files(tmp_path) == []
    # One of the two present by name: the other still refused.
    add_files(folder, "资格/营业执照-副本.pdf")
    status, _, err = run(capsys, "seal", str(folder), "--tender", platform.tender, "--price", "100")
    assert status == 1 and "lacks 1 document(s)" in err and "D2 资质证书" in err and "D1 营业执照" not in err
    assert platform.posts == [] and sealed_files(tmp_path) == []


@pytest.mark.parametrize(
    ("pointers", "words"),
    [
        ([{"item": "T1", "path": "技术/不存在.pdf", "page": 3}], "not in the bid: '技术/不存在.pdf'"),
        ([{"item": "X9", "path": "技术/施工组织设计.pdf", "page": 3}], "not an item of the tender's method"),
        ([{"item": "T1", "path": "技术/施工组织设计.pdf", "page": 0}], "page must be an integer from 1 to 100000"),
        ([{"item": "T1", "path": "../技术/施工组织设计.pdf", "page": 1}], "'..'"),
    ],
)
def test_a_bad_response_index_is_refused_before_sealing(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    client_env: Path,
    tmp_path: Path,
    pointers: list[dict[str, Any]],
    words: str,
) -> None:
    platform = platform_with_method(monkeypatch, METHOD)
    folder = bidder_ready(client_env, platform, tmp_path)
    trust_centre(capsys, tmp_path)
    add_files(folder, "技术/施工组织设计.pdf", "资格/营业执照.pdf", "资格/资质证书.pdf")
    index_file = tmp_path / "index.json"
    index_file.write_text(json.dumps({"format": "etender-response-index-v1", "pointers": pointers}), encoding="utf-8")
    platform.calls.clear()
    status, _, err = run(
        capsys, "seal", str(folder), "--tender", platform.tender, "--price", "100", "--response-index", str(index_file)
    )
    assert status == 1 and words in err and "Nothing was sealed or sent." in err
    assert platform.calls == [("GET", f"/api/tenders/{platform.tender}")] and platform.posts == []
    assert sealed_files(tmp_path) == []


def test_bids_index_refuses_to_write_inside_the_bid_folder(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, client_env: Path, tmp_path: Path
) -> None:
    platform = platform_with_method(monkeypatch, METHOD)
    folder = bidder_ready(client_env, platform, tmp_path)
    status, _, err = run(
        capsys, "bids", "index", str(folder), "--tender", platform.tender, "--out", str(folder / "i.json")
    )
    assert status == 1 and "must not be written inside the bid folder" in err
    assert not (folder / "i.json").exists() and platform.posts == []


# --- what works ------------------------------------------------------------------------------------------------


def test_a_filled_index_travels_inside_the_ciphertext(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, client_env: Path, tmp_path: Path
) -> None:
    platform = platform_with_method(monkeypatch, METHOD)
    folder = bidder_ready(client_env, platform, tmp_path)
    trust_centre(capsys, tmp_path)
    add_files(folder, "技术/施工组织设计.pdf", "资格/营业执照.pdf", "资格/scan-0042.pdf")
    # The template: every criterion and document; the document found by name is filled in, the others are not.
    status, out, err = run(capsys, "bids", "index", str(folder), "--tender", platform.tender)
    assert status == 0, err
    template_file = tmp_path / "投标文件.response-index.json"
    template = json.loads(template_file.read_text(encoding="utf-8"))
    assert [(p["item"], p["path"]) for p in template["pointers"]] == [
        ("T1", ""),
        ("C1", ""),
        ("Q1", ""),
        ("D1", "资格/营业执照.pdf"),
        ("D2", ""),
        ("Q2", ""),
    ]
    assert "missing from the folder" in out and "D2 资质证书" in out
    assert platform.posts == []
    # The bidder points D2 to its scan, T1 to two pages.
    by_item = {p["item"]: p for p in template["pointers"]}
    by_item["D2"].update(path="资格/scan-0042.pdf", page=2)
    by_item["T1"].update(path="技术/施工组织设计.pdf", page=12)
    template["pointers"].append({"item": "T1", "path": "技术/施工组织设计.pdf", "page": 30})
    template_file.write_text(json.dumps(template, ensure_ascii=False), encoding="utf-8")
    status, out, err = run(
        capsys,
        "seal",
        str(folder),
        "--tender",
        platform.tender,
        "--price",
        "100",
        "--response-index",
        str(template_file),
    )
    assert status == 0, err
    assert "response index: 4 pointer(s), sealed inside the bid" in out
    assert platform.posts == []
    bid_file = tmp_path / "投标文件.etb"
    manifest = parse_manifest(bid_file.with_name(bid_file.name + ".manifest").read_bytes())
    assert b"scan-0042" not in bid_file.read_bytes()
    private = keystore.existing_key(client_env, "encryption", keystore.DEFAULT_NAME).private_key(PASSPHRASE.encode())
    file_key = open_bidder_envelope(manifest.envelopes.bidder, manifest.identity, private)
    with open(bid_file, "rb") as ciphertext:
        opened = open_bid(ciphertext, manifest, file_key, tmp_path / "opened")
    assert opened.response_index is not None
    assert [(p.item, p.path, p.page) for p in opened.response_index.pointers] == [
        ("D1", "资格/营业执照.pdf", 1),
        ("D2", "资格/scan-0042.pdf", 2),
        ("T1", "技术/施工组织设计.pdf", 12),
        ("T1", "技术/施工组织设计.pdf", 30),
    ]


def test_a_tender_without_a_method_requires_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, client_env: Path, tmp_path: Path
) -> None:
    platform = platform_with_method(monkeypatch, None)
    folder = bidder_ready(client_env, platform, tmp_path)
    trust_centre(capsys, tmp_path)
    status, out, err = run(capsys, "seal", str(folder), "--tender", platform.tender, "--price", "100")
    assert status == 0, err
    assert "response index" not in out and len(sealed_files(tmp_path)) == 3
