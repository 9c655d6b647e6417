"""The platform set up for an opening, shared by the benches that need one (the opening's, the hall's).

Personas, a published tender with three custodians (threshold 2), ``bids``
bidders each sealing a bid of ``files`` files of random bytes with
``tendering.sealing.seal_bid`` and submitting it through the services before
the deadline; then, at the real clock past the opening time, the hall opened
and (``release_keys``) every key released. Not timed: set-up only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import GiB, MiB, bench_tender_input, setup_django, write_random

# Shares of the bid's size among its files (技术标 is the bulk of a works bid).
FILE_NAMES = ["技术标.pdf", "商务标.pdf", "资格审查资料.pdf", "已标价工程量清单.xlsx"]
FILE_SHARES = [0.5, 0.2, 0.2, 0.1]


class SealedOpening:
    """One platform: personas, a tender, its bids sealed and submitted, the hall opened.

    ``args`` needs ``size_mib`` (plaintext per bid), ``bids``, ``files``; ``work`` is the throw-away folder.
    """

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.size = int(args.size_mib * MiB)
        self.entries: list[dict[str, Any]] = []

    # set-up ----------------------------------------------------------------------------------------------

    def setup_django(self) -> None:
        """The platform in this process (SQLite and the store in ``work/var``), migrated, its bucket made."""
        setup_django(self.work / "var", BID_MAX_BYTES=str(64 * GiB), DEBUG="false", LOG_LEVEL="WARNING")
        from django.core.management import call_command

        from archive.storage import get_object_store

        call_command("migrate", verbosity=0)
        get_object_store().ensure_bucket()

    def prepare(self) -> None:
        """Personas, the tender, every bid sealed and submitted before the deadline; then the hall opens."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        from accounts import credit_code
        from accounts.models import KeyPurpose, Organization, OrganizationKind, Role, RoleGrant, User
        from accounts.own_device import register_own_key
        from config import clock
        from tendering.own_device import confirm_custody_as
        from tendering.sealing import LotPrice, PriceSummary, open_bidder_envelope, parse_manifest, seal_bid
        from tendering.services import bids, documents, tenders
        from tendering.services.opening import admission

        def p256() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
            key = ec.generate_private_key(ec.SECP256R1())
            der = key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return key, der

        serial = iter(range(1, 10_000))

        def org(name: str, kind: str) -> Organization:
            return Organization.objects.create(
                name=name, kind=kind, credit_code=credit_code.make(f"91360781MC{next(serial):07d}")
            )

        def user(username: str, organization: Organization, role: str) -> User:
            person = User.objects.create_user(username=username, display_name=username, organization=organization)
            RoleGrant.objects.create(user=person, role=role)
            return person

        real_now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        # The opening a minute ago: its decryption window runs from the published
        # opening time, so the bench opens well within it.
        deadline = real_now - dt.timedelta(minutes=1)
        started = deadline - dt.timedelta(days=30)
        plain_dir = self.work / "plain"
        sealed_dir = self.work / "sealed"
        sealed_dir.mkdir(parents=True)
        with clock.frozen(started) as frozen:
            tenderer = user("bench_tenderer", org("瑞金城投", OrganizationKind.TENDERER), Role.TENDERER_STAFF)
            regulator = org("瑞金市发改委", OrganizationKind.REGULATOR)
            custodians = [user(f"bench_custodian{i}", regulator, Role.CUSTODIAN) for i in (1, 2, 3)]
            custodian_signing = []
            for custodian in custodians:
                register_own_key(custodian, KeyPurpose.ENCRYPTION, p256()[0])
                custodian_signing.append(p256()[0])
                register_own_key(custodian, KeyPurpose.SIGNING, custodian_signing[-1])
            draft = tenders.create_draft(
                tenderer,
                bench_tender_input("BENCH-OPENING-001", "开标解密基准测试", deadline, [c.pk for c in custodians]),
            )
            pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
            documents.add_document(tenderer, draft, "招标文件.pdf", io.BytesIO(pdf), len(pdf))
            tender = tenders.publish(tenderer, draft)
            for custodian, signing in zip(custodians, custodian_signing, strict=True):
                confirm_custody_as(custodian, tender, signing)
            custodian_der = [
                bytes(slot.public_key.spki_der)
                for slot in tender.custodian_slots.select_related("public_key").order_by("position")
            ]
            began = time.perf_counter()
            sealing = uploading = 0.0
            for number in range(1, self.args.bids + 1):
                frozen.advance(seconds=30)
                bidder = user(
                    f"bench_bidder{number:03d}", org(f"投标人{number:03d}建设", OrganizationKind.BIDDER), Role.BIDDER
                )
                signing, _ = p256()
                encryption, _ = p256()
                register_own_key(bidder, KeyPurpose.SIGNING, signing)
                register_own_key(bidder, KeyPurpose.ENCRYPTION, encryption)
                # The bid's files: random bytes, as incompressible as scanned PDFs.
                folder = plain_dir / f"bid{number:03d}"
                folder.mkdir(parents=True)
                files = self.args.files
                shares = FILE_SHARES[:files] if files <= len(FILE_SHARES) else [1 / files] * files
                total = sum(shares)
                left = self.size
                for index in range(files):
                    name = FILE_NAMES[index] if index < len(FILE_NAMES) else f"附件{index:02d}.pdf"
                    part = left if index == files - 1 else int(self.size * shares[index] / total)
                    write_random(folder / name, part)
                    left -= part
                bid_id = str(uuid.uuid4())
                code = bidder.organization.credit_code
                summary = PriceSummary(
                    str(tender.public_id), bid_id, code, (LotPrice("1", f"{5_900_000 + number * 1234}.50", 180),)
                )
                target = sealed_dir / f"bid{number:03d}.etb"
                t0 = time.perf_counter()
                with open(target, "wb") as sink:
                    sealed = seal_bid(
                        str(folder),
                        summary,
                        str(tender.public_id),
                        bid_id,
                        code,
                        signing,
                        encryption.public_key(),
                        custodian_der,
                        tender.custodian_threshold,
                        sink,
                    )
                sealing += time.perf_counter() - t0
                shutil.rmtree(folder)
                t0 = time.perf_counter()
                size = target.stat().st_size
                upload = bids.start_upload(bidder, tender, uuid.UUID(bid_id), size)
                with open(target, "rb") as source:
                    for part_number, offset in enumerate(range(0, size, upload.part_size), start=1):
                        length = min(upload.part_size, size - offset)
                        bids.upload_part(bidder, upload.public_id, part_number, source, length)
                bid = bids.finalize(bidder, upload.public_id, sealed.manifest_bytes, sealed.signature)
                uploading += time.perf_counter() - t0
                manifest = parse_manifest(sealed.manifest_bytes)
                self.entries.append(
                    {
                        "user": bidder,
                        "bid": bid,
                        "path": target,
                        "size": size,
                        "file_key": open_bidder_envelope(manifest.envelopes.bidder, manifest.identity, encryption),
                        "info": manifest.identity.stream_info(),
                    }
                )
                if number % 10 == 0:
                    print(
                        f"    {number} bids sealed ({sealing:.1f} s) and submitted ({uploading:.1f} s)",
                        flush=True,
                    )
        self.tender = tender
        self.tenderer = tenderer
        self.custodians = custodians
        self.setup_seconds = time.perf_counter() - began
        # Back to the real clock: past the opening time. The first to enter opens the hall.
        self.opening = admission.ensure_opening(tender)
        self.ciphertext_bytes = sum(e["size"] for e in self.entries)

    def release_keys(self) -> None:
        """Every bidder releases its key, within the decryption window."""
        from tendering.models import BidOpening
        from tendering.services.opening import keys

        for entry in self.entries:
            keys.release_key(entry["user"], self.tender, entry["bid"].public_id, entry["file_key"])
        self.bid_opening_ids = list(
            BidOpening.objects.filter(opening=self.opening).order_by("position").values_list("pk", flat=True)
        )
        assert len(self.bid_opening_ids) == self.args.bids
