"""Resumable submission of a sealed bid: upload in parts, finalize, keep the receipt.

Beside the sealed bid ``FILE`` (``FILE.manifest`` and ``FILE.sig`` from
``etender seal``), the uploader keeps ``FILE.upload.json``: the upload's id as
soon as the platform has opened it. Run again after an interruption, it asks
the platform where the upload stands (``GET /api/bids/uploads/{id}``), checks
that every part the platform confirmed has the SHA-256 of the same part of the
local file (else it refuses: the file is not the one being uploaded), and
continues with the next part. Parts are read from the file in order, with the
part size the platform gave, and up to the platform's window of them
(``part_window``) are in flight at once, each on a connection of its own; each
is streamed from the file (``http.client`` with a file-like body and an
explicit ``Content-Length``), never read whole. A broken connection, a part
the platform is still receiving and an object store outage (503) are retried
with backoff a bounded number of times, asking the platform first which parts
arrived after all (parts it confirmed are checked against the local file and
not sent again). Before finalizing, the
SHA-256 of the whole file (computed part by part on the way) must be the
manifest's; the receipt is written to ``FILE.receipt.json`` and the state file
removed.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tendering.client.config import read_json, write_atomic, write_json
from tendering.client.transport import ApiError, ClientError, NetworkError, Transport
from tendering.sealing import Manifest, ManifestError, parse_manifest

MiB = 1024 * 1024
READ_SIZE = MiB
RETRYABLE_STATUS = (502, 503, 504)
# Parts in flight when the platform does not say its window (an older platform: parts strictly in order).
DEFAULT_PIPELINE = 2
PART_TIMEOUT = 600.0
FINALIZE_TIMEOUT = 1800.0


@dataclass(frozen=True)
class SealedFiles:
    """The files of one sealed bid, named after the ciphertext file."""

    bid: Path

    @property
    def manifest(self) -> Path:
        return self.bid.with_name(self.bid.name + ".manifest")

    @property
    def signature(self) -> Path:
        return self.bid.with_name(self.bid.name + ".sig")

    @property
    def state(self) -> Path:
        return self.bid.with_name(self.bid.name + ".upload.json")

    @property
    def receipt(self) -> Path:
        return self.bid.with_name(self.bid.name + ".receipt.json")

    def load(self) -> tuple[bytes, Manifest, bytes]:
        """The manifest's bytes, the parsed manifest and the signature; refuses what is not a sealed bid."""
        for path in (self.bid, self.manifest, self.signature):
            if not path.is_file():
                raise ClientError(
                    f"{path} is missing: `etender seal` writes the sealed bid, its .manifest and its .sig together"
                )
        manifest_bytes = self.manifest.read_bytes()
        try:
            manifest = parse_manifest(manifest_bytes)
        except ManifestError as exc:
            raise ClientError(f"{self.manifest} is not a sealed bid's manifest: {exc}") from None
        size = self.bid.stat().st_size
        if size != manifest.ciphertext_size:
            raise ClientError(
                f"{self.bid} has {size:,} bytes but its manifest says {manifest.ciphertext_size:,}: "
                "it is not the sealed bid (damaged, or another file)"
            )
        return manifest_bytes, manifest, self.signature.read_bytes()


class RateLimiter:
    """At most ``bytes_per_second`` on average (``--limit-rate``), by sleeping between reads."""

    def __init__(
        self,
        bytes_per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = bytes_per_second
        self.clock = clock
        self.sleep = sleep
        self.began = clock()
        self.sent = 0

    def consume(self, count: int) -> None:
        self.sent += count
        ahead = self.sent / self.rate - (self.clock() - self.began)
        if ahead > 0:
            self.sleep(ahead)


class PartReader:
    """``length`` bytes of ``path`` from ``offset``, hashed (the part, and the whole file so far) as they are read."""

    def __init__(
        self,
        path: Path,
        offset: int,
        length: int,
        whole: Any,
        on_read: Callable[[int], None] | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.file = open(path, "rb")  # noqa: SIM115 - closed by close(), after http.client has read it
        self.file.seek(offset)
        self.remaining = length
        self.part = hashlib.sha256()
        self.whole = whole
        self.on_read = on_read
        self.limiter = limiter
        self.sent = threading.Event()  # set once the body has been read whole (or the request ended)

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        size = min(size, READ_SIZE)
        data = self.file.read(size)
        if not data:
            raise ClientError(f"{self.file.name} became shorter while it was being uploaded")
        self.remaining -= len(data)
        self.part.update(data)
        self.whole.update(data)
        if self.limiter is not None:
            self.limiter.consume(len(data))
        if self.on_read is not None:
            self.on_read(len(data))
        if not self.remaining:
            self.sent.set()
        return data

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> PartReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReceiptPending(ClientError):
    """The bid was accepted; its receipt is not available yet."""


@dataclass(frozen=True)
class Submitted:
    receipt: bytes
    bid: dict[str, Any]
    upload_id: str
    resumed_at_part: int | None  # the first part sent by this run when it resumed an upload, else None
    parts: int


class Uploader:
    """Submits one sealed bid through ``transport``; ``say`` prints progress notes, ``progress`` makes bars."""

    def __init__(
        self,
        transport: Transport,
        bid_path: Path,
        *,
        say: Callable[[str], None] = print,
        progress: Callable[[str, int, int], Any] | None = None,
        retries: int = 5,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
        connect: Callable[[], Transport] | None = None,
        pipeline: int | None = None,
    ) -> None:
        """``pipeline``: the most parts in flight (1: one at a time); None: as many as the platform's window."""
        self.transport = transport
        self.connect = connect
        self.requested_pipeline = pipeline if connect is not None else 1
        self.pipeline = 1
        self.confirmed: dict[int, str] = {}  # parts past the platform's confirmed prefix it already has: sha256
        self.files = SealedFiles(bid_path)
        self.say = say
        self.progress = progress
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.limiter = limiter
        self.whole = hashlib.sha256()

    # --- the platform -------------------------------------------------------------

    def _status(self, upload_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.transport.request("GET", f"/api/bids/uploads/{upload_id}").data
        return data

    def _bid(self, bid_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.transport.request("GET", f"/api/bids/{bid_id}").data
        return data

    def _retrying(self, what: str, attempt: int, exc: ClientError) -> None:
        reason = exc.reason if isinstance(exc, NetworkError) else str(exc)
        if attempt >= self.retries:
            raise ClientError(
                f"{what} failed ({reason}), attempt {attempt + 1} of {self.retries + 1}; giving up. "
                f"Run `etender submit {self.files.bid}` again to resume from the last confirmed part."
            ) from None
        delay = min(self.backoff * 2**attempt, 30.0)
        self.say(f"{what}: {reason}; retrying in {delay:g} s ({attempt + 1}/{self.retries})")
        self.sleep(delay)

    # --- the steps ------------------------------------------------------------------

    def submit(self) -> Submitted:
        manifest_bytes, manifest, signature = self.files.load()
        size = manifest.ciphertext_size
        resumed_at: int | None = None
        if self.files.state.exists():
            state = self._load_state(manifest)
            upload_id = state["upload_id"]
            status = self._resume_status(upload_id, manifest)
            if status["state"] == "finalized":
                self.say(f"upload {upload_id} was already finalized: fetching its receipt")
                return self._done(self._bid(manifest.bid), upload_id, None, status["expected_parts"])
            confirmed = int(status["received_parts"])
            self._check_confirmed_parts(status, size)
            resumed_at = confirmed + 1
            self.say(
                f"resuming upload {upload_id}: {confirmed} of {status['expected_parts']} parts already confirmed "
                f"({int(status['received_bytes']):,} bytes), continuing with part {resumed_at}"
            )
        else:
            status = self._start(manifest)
            upload_id = str(status["upload_id"])
        part_size = int(status["part_size"])
        expected = int(status["expected_parts"])
        first = int(status["received_parts"]) + 1
        self.pipeline = self._parts_in_flight(status)
        self._note_confirmed(status)
        bar = self.progress("upload", size, (first - 1) * part_size) if self.progress else None
        try:
            self._send_parts(upload_id, first, expected, part_size, size, bar)
        except BaseException:
            if bar is not None:
                bar.abandon()
            raise
        if bar is not None:
            bar.finish()
        if self.whole.hexdigest() != manifest.ciphertext_sha256:
            raise ClientError(
                f"{self.files.bid} does not have the SHA-256 its manifest names: it changed after sealing. "
                "Not finalized; seal the bid again (a new bid id) and submit that."
            )
        bid = self._finalize(upload_id, manifest, manifest_bytes, signature)
        return self._done(bid, upload_id, resumed_at, expected)

    def _parts_in_flight(self, status: dict[str, Any]) -> int:
        window = status.get("part_window")
        allowed = int(window) if isinstance(window, int) and window >= 1 else DEFAULT_PIPELINE
        wanted = allowed if self.requested_pipeline is None else self.requested_pipeline
        return max(1, min(wanted, allowed))

    def _note_confirmed(self, status: dict[str, Any]) -> None:
        """Remember the parts the platform confirmed past its prefix: they are checked locally, not sent again."""
        prefix = int(status["received_parts"])
        self.confirmed = {
            int(p["number"]): str(p["sha256"])
            for p in status.get("confirmed_parts") or []
            if isinstance(p, dict) and int(p.get("number", 0)) > prefix
        }

    def _load_state(self, manifest: Manifest) -> dict[str, Any]:
        state = read_json(self.files.state, "the upload state")
        if not isinstance(state, dict) or not isinstance(state.get("upload_id"), str):
            raise ClientError(f"{self.files.state} is not an upload state file: remove it to start the upload again")
        if state.get("bid_id") != manifest.bid:
            raise ClientError(
                f"{self.files.state} belongs to bid {state.get('bid_id')}, but {self.files.bid} is bid {manifest.bid}: "
                "the sealed bid was replaced after its upload began. Remove the state file to upload this one."
            )
        return state

    def _resume_status(self, upload_id: str, manifest: Manifest) -> dict[str, Any]:
        try:
            status = self._status(upload_id)
        except ApiError as exc:
            if exc.status == 404:
                raise ClientError(
                    f"the platform does not know the upload {upload_id} recorded in {self.files.state} "
                    "(another account or platform?). Log in as the bidder who began it, or seal the bid again."
                ) from None
            raise
        if str(status.get("bid_id")) != manifest.bid or int(status.get("size", -1)) != manifest.ciphertext_size:
            raise ClientError(f"the platform's upload {upload_id} is for another bid or size than {self.files.bid}")
        if status["state"] not in ("open", "finalized"):
            raise ClientError(
                f"the upload {upload_id} can no longer be continued (it is {status['state']}): "
                "seal the bid again (a new bid id) and submit that, if the deadline has not passed."
            )
        return status

    def _check_confirmed_parts(self, status: dict[str, Any], size: int) -> None:
        """Hash the local parts the platform already has; each must be what it confirmed."""
        part_size = int(status["part_size"])
        hashes = list(status.get("part_sha256") or [])
        if len(hashes) != int(status["received_parts"]):
            raise ClientError("the platform's answer lists another number of part hashes than confirmed parts")
        for number, expected in enumerate(hashes, start=1):
            offset = (number - 1) * part_size
            local = self._hash_part(offset, min(part_size, size - offset))
            if local != expected:
                raise ClientError(
                    f"{self.files.bid} is not the file being uploaded: part {number} (bytes {offset:,}-"
                    f"{offset + min(part_size, size - offset) - 1:,}) differs from the part the platform confirmed. "
                    f"Refusing to continue; to upload this file instead, seal it again (a new bid id)."
                )

    def _hash_part(self, offset: int, length: int) -> str:
        """SHA-256 of a part read from disk; also feeds the whole file's digest (parts come in order)."""
        with PartReader(self.files.bid, offset, length, self.whole) as reader:
            while reader.read(READ_SIZE):
                pass
            return reader.part.hexdigest()

    def _start(self, manifest: Manifest) -> dict[str, Any]:
        body = {"bid_id": manifest.bid, "size": manifest.ciphertext_size}
        try:
            status: dict[str, Any] = self.transport.request(
                "POST", f"/api/tenders/{manifest.tender}/bids/uploads", json_body=body
            ).data
        except ApiError as exc:
            if exc.code == "bid_id_used":
                raise ClientError(
                    f"bid {manifest.bid} was already uploaded once, but {self.files.state} is gone: "
                    "the upload cannot be found again without it. Seal the bid again (a new bid id) and submit that."
                ) from None
            raise
        write_json(
            self.files.state,
            {
                "upload_id": str(status["upload_id"]),
                "bid_id": manifest.bid,
                "tender_id": manifest.tender,
                "size": manifest.ciphertext_size,
                "part_size": status["part_size"],
                "platform": self.transport.base_url,
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        self.say(
            f"upload {status['upload_id']} opened: {manifest.ciphertext_size:,} bytes in {status['expected_parts']} "
            f"part(s) of {int(status['part_size']) / MiB:g} MiB"
        )
        return status

    def _send_parts(self, upload_id: str, first: int, expected: int, part_size: int, size: int, bar: Any) -> None:
        """Send parts ``first``…``expected``; after a failure, ask the platform where it stands and go on from there."""
        next_part = first
        attempt = 0
        while next_part <= expected:
            sent, error = self._pipeline(upload_id, next_part, expected, part_size, size, bar)
            next_part += sent
            if error is None:
                return
            if sent:
                attempt = 0
            if isinstance(error, ApiError) and error.code in ("part_out_of_order", "part_duplicated"):
                # Two parts in flight crossed, or an answer was lost: the platform's state decides.
                if attempt >= self.retries:
                    raise error
            elif (
                isinstance(error, NetworkError)
                or (isinstance(error, ApiError) and error.status in RETRYABLE_STATUS)
                or (isinstance(error, ApiError) and error.code == "part_in_progress")
            ):
                # A broken connection, the store down for a while, or a part the platform is still receiving.
                self._retrying(f"part {next_part}", attempt, error)
            else:
                raise error
            attempt += 1
            try:
                next_part = self._resync(upload_id, next_part, part_size, size)
            except NetworkError:
                continue  # the next attempt meets the same failure, and counts it

    def _pipeline(
        self, upload_id: str, start: int, expected: int, part_size: int, size: int, bar: Any
    ) -> tuple[int, BaseException | None]:
        """Send parts from ``start``, up to ``self.pipeline`` in flight; returns (parts confirmed in order, error).

        Part n+1 starts only once part n's body has been read whole, so the
        platform receives the parts in order, and the whole file's digest sees
        the bytes in order. A part's answer is awaited while the next one is on
        its way: the transfer overlaps the platform's storing of the previous
        part. On the first failure the parts behind it are drained and ignored,
        and the digest goes back to where that part began.
        """
        connections: list[Transport] = []
        local = threading.local()

        def put(number: int, reader: PartReader, length: int) -> dict[str, Any]:
            try:
                if not hasattr(local, "transport"):
                    local.transport = self.connect() if self.connect is not None else self.transport
                    connections.append(local.transport)
                path = f"/api/bids/uploads/{upload_id}/parts/{number}"
                answer: dict[str, Any] = local.transport.request(
                    "PUT", path, body=reader, length=length, timeout=PART_TIMEOUT
                ).data
                if reader.remaining:
                    raise ClientError(f"part {number} was answered before it was sent whole")
                return answer
            finally:
                reader.close()
                reader.sent.set()

        def close_workers() -> None:
            """Close the workers' connections; this also unblocks a worker stuck in a send or a receive."""
            for connection in list(connections):
                if connection is not self.transport:
                    with contextlib.suppress(Exception):
                        connection.close()

        sent = 0
        number = start
        # (number, its answer, its reader or None for a part the platform already had, the digest before it)
        inflight: collections.deque[tuple[int, Future[dict[str, Any]], PartReader | None, Any]] = collections.deque()
        pool = ThreadPoolExecutor(max_workers=self.pipeline, thread_name_prefix="etender-part")
        try:
            while True:
                while inflight and inflight[0][1].done():
                    head, future, reader, before = inflight.popleft()
                    try:
                        answer = future.result()
                        local_sha = reader.part.hexdigest() if reader is not None else answer["sha256"]
                        if answer.get("sha256") != local_sha:
                            raise ClientError(
                                f"the platform stored part {head} with SHA-256 {answer.get('sha256')}, "
                                f"not {local_sha}: the data was altered on the way. "
                                "Stopped; run `etender submit` again to check and resume."
                            )
                    except (NetworkError, ApiError) as exc:
                        # Abort the parts behind it (the platform's state is asked next), then drain them.
                        if inflight:
                            close_workers()
                        for _, behind, _, _ in inflight:
                            with contextlib.suppress(Exception):
                                behind.result()
                        inflight.clear()
                        self.whole = before
                        return sent, exc
                    sent += 1
                if number > expected and not inflight:
                    return sent, None
                newest = inflight[-1][2] if inflight else None
                if number <= expected and len(inflight) < self.pipeline and (newest is None or newest.sent.is_set()):
                    offset = (number - 1) * part_size
                    length = min(part_size, size - offset)
                    before = self.whole.copy()
                    on_read = _progress_from(bar, offset)
                    if number in self.confirmed:
                        inflight.append((number, self._already_there(number, offset, length, on_read), None, before))
                        number += 1
                        continue
                    reader = PartReader(self.files.bid, offset, length, self.whole, on_read, self.limiter)
                    inflight.append((number, pool.submit(put, number, reader, length), reader, before))
                    number += 1
                    continue
                if number <= expected and len(inflight) < self.pipeline and newest is not None:
                    newest.sent.wait()  # the newest part's body is out: the next may start
                else:
                    wait([inflight[0][1]], return_when=FIRST_COMPLETED)
        except BaseException:
            close_workers()
            raise
        finally:
            pool.shutdown(wait=True)
            close_workers()

    def _already_there(
        self, number: int, offset: int, length: int, on_read: Callable[[int], None] | None
    ) -> Future[dict[str, Any]]:
        """A part the platform confirmed past its prefix: hashed from the file in order, compared, not sent again."""
        with PartReader(self.files.bid, offset, length, self.whole, on_read) as reader:
            while reader.read(READ_SIZE):
                pass
            local = reader.part.hexdigest()
        if local != self.confirmed[number]:
            raise ClientError(f"the platform confirmed a part {number} that is not the local file's: stopped")
        done: Future[dict[str, Any]] = Future()
        done.set_result({"number": number, "size": length, "sha256": local})
        return done

    def _resync(self, upload_id: str, next_part: int, part_size: int, size: int) -> int:
        """After a failure: the platform's count of parts;
        parts it has beyond ``next_part - 1`` must be the local file's.
        """
        status = self._status(upload_id)
        self._note_confirmed(status)
        received = int(status["received_parts"])
        if received < next_part - 1:
            raise ClientError(f"the platform has only {received} parts of upload {upload_id}, expected {next_part - 1}")
        for number in range(next_part, received + 1):
            offset = (number - 1) * part_size
            if self._hash_part(offset, min(part_size, size - offset)) != status["part_sha256"][number - 1]:
                raise ClientError(f"the platform confirmed a part {number} that is not the local file's: stopped")
            self.say(f"part {number} had arrived; continuing")
        return received + 1

    def _finalize(self, upload_id: str, manifest: Manifest, manifest_bytes: bytes, signature: bytes) -> dict[str, Any]:
        body = {
            "manifest": base64.b64encode(manifest_bytes).decode(),
            "signature": base64.b64encode(signature).decode(),
        }
        for attempt in range(self.retries + 1):
            try:
                data: dict[str, Any] = self.transport.request(
                    "POST", f"/api/bids/uploads/{upload_id}/finalize", json_body=body, timeout=FINALIZE_TIMEOUT
                ).data
                return data
            except ApiError as exc:
                if exc.code == "already_finalized":
                    return self._bid(manifest.bid)
                if exc.status not in RETRYABLE_STATUS:
                    raise
                self._retrying("finalize", attempt, exc)
            except NetworkError as exc:
                self._retrying("finalize", attempt, exc)
            # The answer may have been lost after the platform accepted the bid: ask before sending again.
            try:
                status = self._status(upload_id)
            except NetworkError:
                continue
            if status["state"] == "finalized":
                return self._bid(manifest.bid)
            if status["state"] != "open":
                raise ClientError(f"the upload {upload_id} is {status['state']}: the bid was not accepted")
        raise AssertionError("unreachable")  # pragma: no cover

    def _done(self, bid: dict[str, Any], upload_id: str, resumed_at: int | None, parts: int) -> Submitted:
        try:
            receipt = base64.b64decode(bid.get("receipt") or "", validate=True)
        except (TypeError, binascii.Error):
            receipt = b""
        if not receipt:
            # Accepted, but the platform could not sign and time-stamp the receipt yet (its time-stamp
            # authority was unavailable): keep the state file, so that submitting again fetches it.
            raise ReceiptPending(
                f"bid {bid.get('bid_id')} was ACCEPTED at {bid.get('accepted_at')}, but the platform could not issue "
                f"its receipt yet. Run `etender submit {self.files.bid}` again later to fetch it "
                "(nothing is uploaded again)."
            )
        write_receipt(self.files.receipt, receipt)
        self.files.state.unlink(missing_ok=True)
        return Submitted(receipt, bid, upload_id, resumed_at, parts)


def _progress_from(bar: Any, offset: int) -> Callable[[int], None] | None:
    """A reader's callback moving ``bar`` on from ``offset`` as bytes are read."""
    if bar is None:
        return None
    done = 0

    def on_read(count: int) -> None:
        nonlocal done
        done += count
        bar.update(offset + done)

    return on_read


def write_receipt(path: Path, receipt: bytes) -> None:
    write_atomic(path, receipt, 0o644)


def receipt_subject_problem(receipt: bytes, manifest: Manifest, manifest_bytes: bytes) -> str | None:
    """Why the receipt's subject is not this bid (tender, bid, bidder, size and hashes), or None."""
    try:
        subject = json.loads(receipt)["subject"]
    except (ValueError, KeyError, TypeError):
        return "the receipt has no subject"
    expected = {
        "tender_id": manifest.tender,
        "bid_id": manifest.bid,
        "bidder": manifest.bidder,
        "ciphertext_sha256": manifest.ciphertext_sha256,
        "size": manifest.ciphertext_size,
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
    }
    for name, value in expected.items():
        if subject.get(name) != value:
            return f"the receipt's {name} is {subject.get(name)!r}, not this bid's {value!r}"
    return None
