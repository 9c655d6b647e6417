"""What a custodian's own device does to confirm its slot, in-process.

For the demo data, the benchmarks and the tests, which play the custodian's device
(real custodians confirm with ``etender`` or the browser). Like a real client it
refuses to sign unless the tender lists, at the custodian's index, the encryption
key the device holds.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec

from accounts.models import PublicKey, User
from accounts.own_device import sign, spki_der
from tendering.models import Tender, TenderCustodian
from tendering.services import custody


def confirm_custody_as(
    user: User,
    tender: Tender,
    signing_private: ec.EllipticCurvePrivateKey,
    encryption_private: ec.EllipticCurvePrivateKey | None = None,
) -> TenderCustodian:
    """Sign and submit the custodian's confirmation of its slot in ``tender``."""
    slots = custody.slots_in_order(tender)
    slot = next(s for s in slots if s.user_id == user.pk)
    if encryption_private is not None:
        own = PublicKey.fingerprint_of(spki_der(encryption_private))
        if slot.public_key is None or slot.public_key.fingerprint != own:
            raise ValueError(f"the tender does not list this device's encryption key for {user.username}")
    fingerprint = PublicKey.fingerprint_of(spki_der(signing_private))
    statement = custody.custody_statement(slot, fingerprint, slots)
    return custody.confirm_custody(user, tender, statement, sign(signing_private, statement))
