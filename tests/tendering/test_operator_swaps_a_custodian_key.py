"""The operator plays its hand: a custodian's key swapped in the database, or keys registered with only the
custodian's password. Whatever the server then serves, the custody no longer verifies against trust that does
not come from the platform (here the demo key CA, standing for the trading centre's CA); and bids stop."""

from __future__ import annotations

import datetime as dt

from accounts import key_ca
from accounts.models import KeyPurpose, PublicKey
from accounts.own_device import spki_der
from accounts.services import revoke_public_key
from tendering.models import TenderCustodian
from tendering.own_device import confirm_custody_as
from tendering.services import tenders
from tests.fixtures.operator import (
    confirm_with_password,
    register_keys_with_password,
    served_custody,
    swap_key_in_database,
    verify_served_custody,
)
from tests.fixtures.personas import PASSWORD


def confirm_others(tender, personas) -> None:
    """Custodians 2 and 3 confirm on their own devices."""
    for i in (1, 2):
        confirm_custody_as(
            personas.custodians[i], tender, personas.custodian_signing_keys[i], personas.custodian_keys[i]
        )


def test_the_honest_custody_verifies(client, published_tender):
    assert (
        verify_served_custody(
            served_custody(client, published_tender), anchors=[key_ca.demo_ca()[1]], now=dt.datetime.now(dt.UTC)
        )
        == []
    )


def test_a_key_swapped_in_the_database_after_confirmation_no_longer_verifies(
    client, operator_swapped_key, frozen_clock
):
    custody = served_custody(client, operator_swapped_key.tender)
    assert custody["recipients"][0] == operator_swapped_key.operator_fingerprint  # the server serves the swap...
    problems = verify_served_custody(custody, anchors=[key_ca.demo_ca()[1]], now=dt.datetime.now(dt.UTC))
    # ...and every confirmation, signed over the honest recipients, now differs from what is served.
    assert problems == [f"custodian{i}: statement differs from the served custody" for i in (1, 2, 3)]


def test_a_confirmation_forged_in_the_database_does_not_verify_either(
    client, personas, unconfirmed_tender, frozen_clock
):
    """The DBA writes confirmations itself, signed with a signing key row of its own: no CA vouches for that key."""
    from accounts.own_device import sign
    from tendering.services import custody

    swapped = swap_key_in_database(unconfirmed_tender, 0)
    from cryptography.hazmat.primitives.asymmetric import ec

    operator_signing = ec.generate_private_key(ec.SECP256R1())
    der = spki_der(operator_signing)
    row = PublicKey.objects.create(
        owner=swapped.custodian,
        purpose=KeyPurpose.SIGNING,
        spki_der=der,
        fingerprint=PublicKey.fingerprint_of(der),
        registered_at=frozen_clock(),
    )
    slot = TenderCustodian.objects.get(tender=unconfirmed_tender, user=swapped.custodian)
    statement = custody.custody_statement(slot, row.fingerprint)
    TenderCustodian.objects.filter(pk=slot.pk).update(
        custody_statement=statement,
        custody_signature=sign(operator_signing, statement),
        custody_signing_key=row,
        custody_confirmed_at=frozen_clock(),
    )
    confirm_others(unconfirmed_tender, personas)  # custodian1's own device would refuse: its key is not listed
    problems = verify_served_custody(
        served_custody(client, unconfirmed_tender), anchors=[key_ca.demo_ca()[1]], now=dt.datetime.now(dt.UTC)
    )
    assert problems[0] == "custodian1: signing key neither pinned nor certified"
    assert problems[1:] == []


def test_keys_registered_with_only_the_password_are_accepted_by_the_server_but_not_by_the_bidders_trust(
    client, personas, draft_tender, settings, frozen_clock
):
    """The password suffices to register keys (the operator holds them, so their proofs hold) and to confirm with them;
    nothing certifies them, so the bidder's client refuses. A key pinned by hand refuses them the same way."""
    settings.DEMO_KEY_CA_ENABLED = False  # as in production: the CA certifies keys in person, not at registration
    custodian = personas.custodians[0]
    revoke_public_key(custodian, custodian.public_keys.get(purpose="encryption"))
    _, operator_signing = register_keys_with_password(client, custodian.username, PASSWORD)
    tender = tenders.publish(personas.tenderer, draft_tender)
    recipients = [s.public_key.fingerprint for s in tender.custodian_slots.order_by("position")]
    confirmed = confirm_with_password(
        client, tender, custodian.username, PASSWORD, operator_signing, 0, recipients, tender.custodian_threshold
    )
    assert confirmed.status_code == 201  # the server cannot tell the operator from the custodian
    confirm_others(tender, personas)
    custody = served_custody(client, tender)
    assert custody["confirmed"] is True
    assert verify_served_custody(custody, anchors=[key_ca.demo_ca()[1]], now=dt.datetime.now(dt.UTC)) == [
        "custodian1: signing key neither pinned nor certified"
    ]
    honest_pin = {"custodian1": PublicKey.fingerprint_of(spki_der(personas.custodian_signing_keys[0]))}
    assert verify_served_custody(custody, anchors=[], pinned=honest_pin, now=dt.datetime.now(dt.UTC))[0] == (
        "custodian1: signing key neither pinned nor certified"
    )
