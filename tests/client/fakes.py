"""A sealed bid made with the real library, and an in-memory platform that speaks the upload API."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from accounts.credit_code import make
from tendering.client.transport import ApiError, NetworkError, Response
from tendering.client.upload import SealedFiles
from tendering.sealing import LotPrice, PriceSummary, seal_bid

CREDIT_CODE = make("91360781MA0000003")


def make_sealed_bid(folder: Path, plaintext_size: int = 300_000) -> SealedFiles:
    """Seal a folder of two files (one with a Chinese name) into ``folder/bid.etb`` with its manifest and signature."""
    source = folder / "投标文件"
    source.mkdir(parents=True)
    (source / "技术标.pdf").write_bytes(os.urandom(plaintext_size))
    (source / "readme.txt").write_bytes("商务标 见附件".encode())
    tender, bid = str(uuid.uuid4()), str(uuid.uuid4())
    summary = PriceSummary(tender, bid, CREDIT_CODE, (LotPrice("1", "8123456.70", 180),))
    custodians = [ec.generate_private_key(ec.SECP256R1()).public_key() for _ in range(3)]
    files = SealedFiles(folder / "bid.etb")
    with open(files.bid, "wb") as sink:
        sealed = seal_bid(
            str(source),
            summary,
            tender,
            bid,
            CREDIT_CODE,
            ec.generate_private_key(ec.SECP256R1()),
            ec.generate_private_key(ec.SECP256R1()).public_key(),
            custodians,
            2,
            sink,
        )
    files.manifest.write_bytes(sealed.manifest_bytes)
    files.signature.write_bytes(sealed.signature)
    return files


@dataclass
class FakeUpload:
    upload_id: str
    bid_id: str
    tender_id: str
    size: int
    part_size: int
    parts: list[str] = field(default_factory=list)  # sha256 of each received part
    received_bytes: int = 0
    state: str = "open"
    digest: Any = field(default_factory=hashlib.sha256)

    def out(self) -> dict[str, Any]:
        return {
            "upload_id": self.upload_id,
            "bid_id": self.bid_id,
            "tender_id": self.tender_id,
            "size": self.size,
            "part_size": self.part_size,
            "expected_parts": -(-self.size // self.part_size),
            "received_parts": len(self.parts),
            "received_bytes": self.received_bytes,
            "state": self.state,
            "part_sha256": list(self.parts),
        }


class FakePlatform:
    """The bid upload API in memory, with ways to break the connection.

    ``fail_part``: a part number whose PUT breaks the connection before it is stored.
    ``lose_answer_of``: a part number stored, whose answer is then lost.
    """

    base_url = "https://platform.example"

    def __init__(self, part_size: int = 64 * 1024) -> None:
        self.part_size = part_size
        self.uploads: dict[str, FakeUpload] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_part: int | None = None
        self.fail_times = 1_000_000
        self.lose_answer_of: int | None = None
        self.finalized: list[str] = []
        self.lock = threading.Lock()
        self.receipts_pending = False  # as when the platform's time-stamp authority is down

    def close(self) -> None:
        pass

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: Any = None,
        length: int | None = None,
        query: Any = None,
        basic_auth: Any = None,
        timeout: float | None = None,
    ) -> Response:
        with self.lock:  # one request at a time, as the platform's row lock on the upload does
            return self._request(method, path, json_body, body, length)

    def _request(self, method: str, path: str, json_body: Any, body: Any, length: int | None) -> Response:
        self.calls.append((method, path))
        parts = path.strip("/").split("/")
        if method == "POST" and parts[-1] == "uploads":
            upload = FakeUpload(str(uuid.uuid4()), json_body["bid_id"], parts[2], json_body["size"], self.part_size)
            self.uploads[upload.upload_id] = upload
            return Response(201, upload.out())
        if parts[:3] == ["api", "bids", "uploads"]:
            upload = self.uploads.get(parts[3])
            if upload is None:
                raise ApiError(404, "not_found", "找不到该上传。")
            if method == "GET":
                return Response(200, upload.out())
            if method == "PUT":
                return self._part(upload, int(parts[5]), body, length)
            if method == "POST" and parts[4] == "finalize":
                return self._finalize(upload, json_body)
        if method == "GET" and parts[:2] == ["api", "bids"] and len(parts) == 3:
            return Response(200, self._bid(next(u for u in self.uploads.values() if u.bid_id == parts[2])))
        raise AssertionError(f"unexpected request {method} {path}")

    def _part(self, upload: FakeUpload, number: int, body: Any, length: int | None) -> Response:
        if number != len(upload.parts) + 1:
            raise ApiError(
                409, "part_duplicated" if number <= len(upload.parts) else "part_out_of_order", "分片顺序错误"
            )
        if number == self.fail_part and self.fail_times > 0:
            self.fail_times -= 1
            body.read(1000)  # some bytes went out, then the line broke
            raise NetworkError(self.base_url + "/api/bids/uploads/…", "the connection was closed by the server")
        data = b""
        while chunk := body.read(8192):
            data += chunk
        assert len(data) == length == min(upload.part_size, upload.size - upload.received_bytes)
        sha = hashlib.sha256(data).hexdigest()
        upload.parts.append(sha)
        upload.received_bytes += len(data)
        upload.digest.update(data)
        if number == self.lose_answer_of:
            self.lose_answer_of = None
            raise NetworkError(self.base_url, "no answer in time (timed out)")
        return Response(200, {"number": number, "size": len(data), "sha256": sha})

    def _finalize(self, upload: FakeUpload, body: dict[str, Any]) -> Response:
        if upload.state == "finalized":
            raise ApiError(409, "already_finalized", "重复提交无效。")
        manifest_bytes = base64.b64decode(body["manifest"])
        manifest = json.loads(manifest_bytes)
        assert upload.received_bytes == upload.size
        assert manifest["ciphertext_sha256"] == upload.digest.hexdigest()
        upload.state = "finalized"
        upload.manifest = manifest  # type: ignore[attr-defined]
        upload.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()  # type: ignore[attr-defined]
        self.finalized.append(upload.upload_id)
        return Response(201, self._bid(upload))

    def _bid(self, upload: FakeUpload) -> dict[str, Any]:
        manifest = upload.manifest  # type: ignore[attr-defined]
        receipt = {
            "subject": {
                "tender_id": manifest["tender"],
                "bid_id": manifest["bid"],
                "bidder": manifest["bidder"],
                "ciphertext_sha256": manifest["ciphertext_sha256"],
                "size": manifest["ciphertext_size"],
                "manifest_sha256": upload.manifest_sha256,  # type: ignore[attr-defined]
            },
            "ledger": {"seq": 42},
        }
        return {
            "bid_id": upload.bid_id,
            "tender_id": upload.tender_id,
            "status": "accepted",
            "size": upload.size,
            "sha256": manifest["ciphertext_sha256"],
            "accepted_at": "2026-03-02T01:00:00Z",
            "ledger_seq": 42,
            "receipt": "" if self.receipts_pending else base64.b64encode(json.dumps(receipt).encode()).decode(),
        }

    def puts(self) -> list[int]:
        return [int(path.rsplit("/", 1)[1]) for method, path in self.calls if method == "PUT"]
