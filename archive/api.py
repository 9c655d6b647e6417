"""What anyone needs to verify the platform's records offline: its certificates and trust anchors.

Fetching these over the network is a convenience; a regulator or bidder should pin
them once (the bidder's client does at login) or get them through another channel.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from django.http import HttpRequest
from ninja import Router, Schema

from archive.signing import platform_signer
from archive.timestamps import trusted_tsa_certificates

router = Router(tags=["archive"])


class TrustOut(Schema):
    platform_certificate: str
    trust_anchors: list[str]
    tsa_trust_anchors: list[str]
    development: bool


def _pem(certificate: Any) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


@router.get(
    "/trust", auth=None, response=TrustOut, summary="The platform's certificate and the anchors receipts chain to"
)
def trust(request: HttpRequest) -> dict[str, Any]:
    signer = platform_signer()
    return {
        "platform_certificate": signer.certificate_pem(),
        "trust_anchors": [_pem(c) for c in signer.trust_anchors],
        "tsa_trust_anchors": [_pem(c) for c in trusted_tsa_certificates()],
        "development": signer.development,
    }
