"""A sealed bid made with the real library, and in-memory platforms that speak the upload API and the opening's."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from accounts.credit_code import make
from tendering.client.transport import ApiError, NetworkError, Response
from tendering.client.upload import SealedFiles
from tendering.sealing import LotPrice, Manifest, PriceSummary, parse_manifest, seal_bid, verify_commitment

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


class WindowedPlatform(FakePlatform):
    """The upload API as the platform speaks it now: ``window`` parts past the confirmed prefix at once.

    Parts within the window are taken in any order and stored concurrently (the
    lock is held only to reserve and to confirm a number); a part being received
    is refused ``part_in_progress``. ``most_in_flight`` records the most parts
    stored at the same moment; ``store_seconds`` is how long storing one takes.
    ``confirm_behind``: part numbers that arrive (confirmed) while the client
    believes they failed, as when only the answer is lost.
    """

    def __init__(self, part_size: int = 64 * 1024, window: int = 4, store_seconds: float = 0.02) -> None:
        super().__init__(part_size)
        self.window = window
        self.store_seconds = store_seconds
        self.in_flight = 0
        self.most_in_flight = 0
        self.data: dict[str, dict[int, bytes]] = {}
        self.receiving: set[tuple[str, int]] = set()
        self.busy_part: int | None = None  # answered part_in_progress once, as when another request holds it

    def request(self, method: str, path: str, **kwargs: Any) -> Response:  # type: ignore[override]
        if method != "PUT":
            with self.lock:
                response = self._request(method, path, kwargs.get("json_body"), kwargs.get("body"), None)
            if isinstance(response.data, dict) and "part_size" in response.data:  # an upload's status
                self._describe(response.data)
            return response
        return self._windowed_part(path, kwargs["body"], kwargs["length"])

    def _describe(self, out: dict[str, Any]) -> None:
        data = self.data.get(out["upload_id"], {})
        out["part_window"] = self.window
        out["confirmed_parts"] = [
            {"number": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in sorted(data.items())
        ]

    def _windowed_part(self, path: str, body: Any, length: int) -> Response:
        parts = path.strip("/").split("/")
        upload_id, number = parts[3], int(parts[5])
        with self.lock:
            self.calls.append(("PUT", path))
            upload = self.uploads[upload_id]
            data = self.data.setdefault(upload_id, {})
            prefix = len(upload.parts)
            if number in data or number <= prefix:
                raise ApiError(409, "part_duplicated", "分片已收到")
            if number > prefix + self.window:
                raise ApiError(409, "part_out_of_order", "分片顺序错误")
            if (upload_id, number) in self.receiving or number == self.busy_part:
                self.busy_part = None
                raise ApiError(409, "part_in_progress", "分片正在接收中")
            self.receiving.add((upload_id, number))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if number == self.fail_part and self.fail_times > 0:
                self.fail_times -= 1
                body.read(1000)
                raise NetworkError(self.base_url + "/api/bids/uploads/…", "the connection was closed by the server")
            received = b""
            while chunk := body.read(8192):
                received += chunk
            time.sleep(self.store_seconds)  # the object store's part upload
            assert len(received) == length == min(upload.part_size, upload.size - (number - 1) * upload.part_size)
            with self.lock:
                data[number] = received
                while len(upload.parts) + 1 in data:
                    upload.parts.append(hashlib.sha256(data[len(upload.parts) + 1]).hexdigest())
                upload.received_bytes = sum(len(d) for d in data.values())
                if len(upload.parts) == -(-upload.size // upload.part_size):
                    upload.digest = hashlib.sha256(b"".join(data[n] for n in sorted(data)))
        finally:
            with self.lock:
                self.receiving.discard((upload_id, number))
                self.in_flight -= 1
        if number == self.lose_answer_of:
            self.lose_answer_of = None
            raise NetworkError(self.base_url, "no answer in time (timed out)")
        return Response(200, {"number": number, "size": len(received), "sha256": hashlib.sha256(received).hexdigest()})


# --- the opening ----------------------------------------------------------------------------------------------


@dataclass
class HallEntry:
    """A bid of the fake opening: its manifest (as the platform holds it) and how the hall shows it."""

    position: int
    bidder: str
    manifest_bytes: bytes
    own: bool = False
    state: str = "awaiting_key"
    key_source: str = ""
    price_summary: dict[str, Any] | None = None

    @property
    def manifest(self) -> Manifest:
        return parse_manifest(self.manifest_bytes)

    @property
    def bid(self) -> str:
        return self.manifest.bid


def seal_for_opening(
    folder: Path,
    tender: str,
    bidder_encryption: ec.EllipticCurvePublicKey,
    custodians: list[ec.EllipticCurvePublicKey],
    threshold: int = 2,
) -> bytes:
    """A real bid's manifest, sealed to ``bidder_encryption`` and the custodians (the ciphertext is not kept)."""
    bid = str(uuid.uuid4())
    source = folder / bid / "报价.txt"
    source.parent.mkdir(parents=True)
    source.write_text("投标报价见开标一览表。\n", encoding="utf-8")
    summary = PriceSummary(tender, bid, CREDIT_CODE, (LotPrice("1", "6123456.70", 180),))
    sealed = seal_bid(
        str(source),
        summary,
        tender,
        bid,
        CREDIT_CODE,
        ec.generate_private_key(ec.SECP256R1()),
        bidder_encryption,
        custodians,
        threshold,
        io.BytesIO(),
    )
    return sealed.manifest_bytes


class FakeHall:
    """The opening's API in memory (snapshot, manifests, key release, custodians' parts), as one participant sees it.

    ``refuse_release``: an ApiError the platform answers every key release with.
    ``released``: the file keys received, by bid; ``parts``: the custodians' submissions received, and
    ``refusals`` their signed "does not open" statements.
    """

    base_url = "https://platform.example"

    def __init__(self, tender: str, roles: list[str], entries: list[HallEntry], custodians: list[str]) -> None:
        self.tender = tender
        self.roles = roles
        self.entries = entries
        self.custodians = [{"position": i, "name": name, "submitted_at": None} for i, name in enumerate(custodians, 1)]
        self.unreleased_bids = "custodians"
        self.concluded_at: str | None = None
        self.refuse_release: ApiError | None = None
        self.released: dict[str, bytes] = {}
        self.parts: list[list[dict[str, Any]]] = []
        self.refusals: list[list[dict[str, Any]]] = []
        self.calls: list[tuple[str, str]] = []

    def close(self) -> None:
        pass

    def posts(self) -> list[str]:
        return [path for method, path in self.calls if method == "POST"]

    def request(self, method: str, path: str, *, json_body: Any = None, **kwargs: Any) -> Response:
        self.calls.append((method, path))
        prefix = f"/api/tenders/{self.tender}/opening"
        if not path.startswith(prefix):
            raise ApiError(404, "not_found", "找不到该招标项目。")
        rest = path[len(prefix) :]
        if method == "GET" and rest == "":
            return Response(200, self.snapshot())
        if method == "GET" and rest == "/manifests":
            return Response(200, self.manifests())
        if method == "POST" and rest.startswith("/bids/") and rest.endswith("/key"):
            return self._release(rest.split("/")[2], base64.b64decode(json_body["file_key"]))
        if method == "POST" and rest == "/custodian-parts":
            self.parts.append(json_body["parts"])
            self.refusals.append(json_body.get("refusals", []))
            return Response(200, {"parts": len(json_body["parts"]), "refusals": len(json_body.get("refusals", []))})
        raise AssertionError(f"unexpected request {method} {path}")

    def snapshot(self) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "seq": 7,
            "tender": {
                "id": self.tender,
                "number": "RJ-2026-001",
                "title": "乡村道路提升改造工程",
                "opening_time": "2026-03-02T01:00:00Z",
                "threshold": 2,
                "unreleased_bids": self.unreleased_bids,
            },
            "roles": self.roles,
            "moments": {
                "started_at": "2026-03-02T01:00:05Z",
                "decryption_ends_at": "2026-03-02T02:00:00Z",
                "decryption_concluded_at": self.concluded_at,
                "record_published_at": None,
                "confirmation_ends_at": None,
                "closed_at": None,
            },
            "bids": [
                {
                    "bid": e.bid,
                    "position": e.position,
                    "bidder": e.bidder,
                    "credit_code": CREDIT_CODE,
                    "size": 2 * 1024 * 1024,
                    "state": e.state,
                    "state_label": e.state,
                    "key_source": e.key_source,
                    "progress_bytes": 0,
                    "price_summary": e.price_summary,
                    "files": [],
                    "outcome_code": "",
                    "outcome_detail": "",
                    "confirmed_at": None,
                    "confirmed_by_default": False,
                    "own": e.own,
                }
                for e in self.entries
            ],
            "custodians": self.custodians,
            "attendance": [],
            "objections": [],
            "record": None,
        }

    def manifests(self) -> list[dict[str, Any]]:
        # A bidder gets its own bids' manifests; a custodian every bid's.
        shown = self.entries if "custodian" in self.roles else [e for e in self.entries if e.own]
        return [
            {
                "bid": e.bid,
                "position": e.position,
                "state": e.state,
                "manifest": base64.b64encode(e.manifest_bytes).decode(),
            }
            for e in shown
        ]

    def _release(self, bid: str, file_key: bytes) -> Response:
        entry = next(e for e in self.entries if e.bid == bid)
        if self.refuse_release is not None:
            raise self.refuse_release
        if entry.state != "awaiting_key":
            raise ApiError(409, "key_already_ready", "该投标文件的密钥已提交（密钥已就绪），无需再次解密。")
        verify_commitment(file_key, bytes.fromhex(entry.manifest.kc))
        self.released[bid] = file_key
        entry.state, entry.key_source = "key_ready", "bidder"
        return Response(200, {"bid": bid, "position": entry.position, "state": entry.state, "key_source": "bidder"})


# --- custody: custodians' confirmations, and the keys registered with proofs ------------------------------------


def make_ca(
    name: str = "江西省数字证书 CA", *, days: int = 365, ca: bool = True
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A CA of the test's own (the trading centre's CA, or the operator's): key and self-signed certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def issue_certificate(
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    public_key: ec.EllipticCurvePublicKey,
    username: str,
    name: str,
    *,
    valid_from: dt.timedelta = dt.timedelta(days=-1),
    valid_for: dt.timedelta = dt.timedelta(days=365),
) -> x509.Certificate:
    """The CA's certificate for a person's key: CN = name, serialNumber = user name (docs/custody.md §B)."""
    ca_key, ca_certificate = ca
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, name),
                    x509.NameAttribute(NameOID.SERIAL_NUMBER, username, _ASN1Type.UTF8String),
                ]
            )
        )
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + valid_from)
        .not_valid_after(now + valid_from + valid_for)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint_of(key: ec.EllipticCurvePublicKey) -> str:
    return hashlib.sha256(spki(key)).hexdigest()


@dataclass
class FakeCustodian:
    """A custodian's keys as the platform knows them (the private halves stay with the test, as on its device)."""

    username: str
    name: str
    encryption: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    signing: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    certificate: x509.Certificate | None = None
    # What the platform serves for it; the operator may change these.
    served_encryption: ec.EllipticCurvePublicKey | None = None
    confirmation: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.served_encryption = self.encryption.public_key()


def custody_statement_bytes(
    tender: str, index: int, threshold: int, recipients: list[str], username: str, signing_key: str
) -> bytes:
    """formats.md C, written here from the spec with rfc8785 (not with the client's own builder)."""
    return rfc8785.dumps(
        {
            "format": "etender-custody-v1",
            "tender": tender,
            "index": index,
            "threshold": threshold,
            "recipients": recipients,
            "custodian": username,
            "signing_key": signing_key,
        }
    )


class FakeCustodyPlatform:
    """A published tender's detail and custody, the caller's account and keys, in memory.

    ``custodians`` in published order; ``confirm(i)`` makes custodian i's genuine
    confirmation with the keys served at that moment. ``posts`` records every write.
    """

    base_url = "https://platform.example"

    def __init__(
        self, custodians: list[FakeCustodian], threshold: int = 2, *, me: dict[str, Any] | None = None
    ) -> None:
        self.tender = str(uuid.uuid4())
        self.custodians = custodians
        self.threshold = threshold
        self.me = me or {
            "username": "bidder_a",
            "display_name": "王磊",
            "organization": "江西红土建设工程有限公司",
            "organization_kind": "bidder",
            "organization_credit_code": CREDIT_CODE,
            "roles": ["bidder"],
        }
        self.keys: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []
        self.posts: list[tuple[str, Any]] = []

    def close(self) -> None:
        pass

    def recipients(self) -> list[str]:
        return [fingerprint_of(c.served_encryption) for c in self.custodians]  # type: ignore[arg-type]

    def confirm(self, index: int) -> None:
        custodian = self.custodians[index]
        signer = custodian.signing
        statement = custody_statement_bytes(
            self.tender,
            index,
            self.threshold,
            self.recipients(),
            custodian.username,
            fingerprint_of(signer.public_key()),
        )
        custodian.confirmation = {
            "statement": b64(statement),
            "signature": b64(signer.sign(statement, ec.ECDSA(hashes.SHA256()))),
            "signing_key": {
                "fingerprint": fingerprint_of(signer.public_key()),
                "spki": b64(spki(signer.public_key())),
                "certificate": pem(custodian.certificate) if custodian.certificate else None,
            },
            "confirmed_at": "2026-03-01T02:00:00Z",
        }

    def custody(self) -> dict[str, Any]:
        return {
            "tender": self.tender,
            "threshold": self.threshold,
            "recipients": self.recipients(),
            "custodians": [
                {
                    "index": i,
                    "name": c.name,
                    "username": c.username,
                    "encryption_key": {
                        "fingerprint": fingerprint_of(c.served_encryption),  # type: ignore[arg-type]
                        "spki": b64(spki(c.served_encryption)),  # type: ignore[arg-type]
                    },
                    "confirmation": c.confirmation,
                }
                for i, c in enumerate(self.custodians)
            ],
            "confirmed": all(c.confirmation for c in self.custodians),
        }

    def detail(self) -> dict[str, Any]:
        return {
            "id": self.tender,
            "number": "RJ-2026-007",
            "title": "乡村道路提升改造工程",
            "phase": "open_for_bids",
            "bid_deadline": "2026-12-26T01:00:00Z",
            "custodian_threshold": self.threshold,
            "lots": [],
            "custodians": [
                {
                    "position": i + 1,
                    "name": c.name,
                    "key_fingerprint": fingerprint_of(c.served_encryption),  # type: ignore[arg-type]
                    "public_key": c.served_encryption.public_bytes(  # type: ignore[union-attr]
                        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                    ).decode("ascii"),
                }
                for i, c in enumerate(self.custodians)
            ],
        }

    def request(self, method: str, path: str, *, json_body: Any = None, **kwargs: Any) -> Response:
        self.calls.append((method, path))
        if method != "GET":
            self.posts.append((path, json_body))
        if method == "GET" and path == "/api/accounts/me":
            return Response(200, self.me)
        if method == "GET" and path == "/api/accounts/keys":
            return Response(200, self.keys)
        if method == "GET" and path == f"/api/tenders/{self.tender}":
            return Response(200, self.detail())
        if method == "GET" and path == f"/api/tenders/{self.tender}/custody":
            return Response(200, self.custody())
        if method == "GET" and path == "/api/bids/bidder":
            return Response(200, {"organization": self.me["organization"], "credit_code": CREDIT_CODE})
        if method == "POST" and path == f"/api/tenders/{self.tender}/custody/confirmation":
            return Response(201, {"confirmed": True})
        if method == "POST" and path.startswith("/api/accounts/keys/") and path.endswith("/certificate"):
            key = next(k for k in self.keys if k["fingerprint"] == path.split("/")[4])
            key["certificate"] = json_body["certificate"]
            return Response(200, key)
        raise AssertionError(f"unexpected request {method} {path}")

    def register(self, purpose: str, public_key: ec.EllipticCurvePublicKey) -> None:
        """As if the caller had registered this key (listed by GET /api/accounts/keys)."""
        self.keys.append(
            {
                "id": len(self.keys) + 1,
                "purpose": purpose,
                "fingerprint": fingerprint_of(public_key),
                "label": "",
                "registered_at": "2026-03-01T00:00:00Z",
                "revoked_at": None,
                "certificate": None,
            }
        )
