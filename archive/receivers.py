"""Records accounts' events in the ledger, in the transaction that caused them."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from django.dispatch import receiver

from accounts.signals import public_key_certified, public_key_registered, public_key_revoked
from archive.ledger import record


def _key_case(key: Any) -> str:
    return f"organization:{key.organization_id}" if key.organization_id else f"user:{key.owner_id}"


@receiver(public_key_registered)
def record_key_registration(sender: Any, key: Any, actor: Any, **kwargs: Any) -> None:
    record(
        _key_case(key),
        "accounts.key.registered",
        {
            "key_id": key.pk,
            "owner_id": key.owner_id,
            "organization_id": key.organization_id,
            "purpose": key.purpose,
            "algorithm": key.algorithm,
            "fingerprint": key.fingerprint,
            "spki_der_b64": base64.b64encode(bytes(key.spki_der)).decode(),
            # The proof of possession: anyone can re-check a signing key's signature offline.
            "proof_statement_b64": base64.b64encode(bytes(key.proof_statement)).decode(),
            "proof_b64": base64.b64encode(bytes(key.proof)).decode() if key.purpose == "signing" else "",
            "certificate_sha256": hashlib.sha256(bytes(key.certificate_der)).hexdigest() if key.certificate_der else "",
        },
        actor,
    )


@receiver(public_key_certified)
def record_key_certificate(sender: Any, key: Any, actor: Any, **kwargs: Any) -> None:
    record(
        _key_case(key),
        "accounts.key.certified",
        {
            "key_id": key.pk,
            "fingerprint": key.fingerprint,
            "certificate_der_b64": base64.b64encode(bytes(key.certificate_der)).decode(),
        },
        actor,
    )


@receiver(public_key_revoked)
def record_key_revocation(sender: Any, key: Any, actor: Any, **kwargs: Any) -> None:
    record(_key_case(key), "accounts.key.revoked", {"key_id": key.pk, "fingerprint": key.fingerprint}, actor)
