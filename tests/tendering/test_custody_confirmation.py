"""Each custodian confirms its slot with its own signing key; the platform takes exactly the statement it publishes."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.errors import DomainError
from accounts.models import KeyPurpose, PublicKey
from accounts.own_device import register_own_key, sign, spki_der
from archive.models import LedgerEntry
from tendering.models import TenderCustodian
from tendering.own_device import confirm_custody_as
from tendering.services import custody, tenders
from tests.fixtures.personas import confirm_custody
from tests.frontend.conftest import signed_in


def signing_fp(personas, index: int) -> str:
    return PublicKey.fingerprint_of(spki_der(personas.custodian_signing_keys[index]))


def slot_of(tender, user) -> TenderCustodian:
    return TenderCustodian.objects.get(tender=tender, user=user)


def refused(call, *args) -> DomainError:
    with pytest.raises(DomainError) as exc:
        call(*args)
    return exc.value


def nothing_confirmed(tender) -> bool:
    return (
        not TenderCustodian.objects.filter(tender=tender, custody_confirmed_at__isnull=False).exists()
        and not LedgerEntry.objects.filter(action="tendering.custody.confirmed").exists()
    )


def test_the_statement_is_the_canonical_json_of_the_published_custody(personas, unconfirmed_tender):
    slot = slot_of(unconfirmed_tender, personas.custodians[1])
    statement = custody.custody_statement(slot, signing_fp(personas, 1))
    recipients = [s.public_key.fingerprint for s in unconfirmed_tender.custodian_slots.order_by("position")]
    r0, r1, r2 = recipients
    assert statement == (
        f'{{"custodian":"custodian2","format":"etender-custody-v1","index":1,"recipients":["{r0}","{r1}","{r2}"],'
        f'"signing_key":"{signing_fp(personas, 1)}","tender":"{unconfirmed_tender.public_id}","threshold":2}}'
    ).encode("ascii")


def test_a_custodian_confirms_once_and_it_is_recorded_and_served(personas, unconfirmed_tender, client):
    confirm_custody_as(
        personas.custodians[0], unconfirmed_tender, personas.custodian_signing_keys[0], personas.custodian_keys[0]
    )
    entry = LedgerEntry.objects.get(action="tendering.custody.confirmed")
    data = json.loads(entry.data)
    assert (data["index"], data["custodian"], data["signing_key"]) == (0, "custodian1", signing_fp(personas, 0))
    served = client.get(f"/api/tenders/{unconfirmed_tender.public_id}/custody").json()
    assert served["confirmed"] is False and served["threshold"] == 2
    first = served["custodians"][0]
    assert first["username"] == "custodian1" and first["encryption_key"]["fingerprint"] == served["recipients"][0]
    confirmation = first["confirmation"]
    assert base64.b64decode(confirmation["statement"]) == base64.b64decode(data["statement_b64"])
    assert confirmation["signing_key"]["fingerprint"] == signing_fp(personas, 0)
    assert confirmation["signing_key"]["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert [c["confirmation"] for c in served["custodians"][1:]] == [None, None]

    again = refused(confirm_custody_as, personas.custodians[0], unconfirmed_tender, personas.custodian_signing_keys[0])
    assert again.code == "custody_already_confirmed" and again.status == 409
    assert LedgerEntry.objects.filter(action="tendering.custody.confirmed").count() == 1


def test_the_api_takes_the_signed_statement_and_answers_with_the_custody(personas, unconfirmed_tender):
    slot = slot_of(unconfirmed_tender, personas.custodians[2])
    statement = custody.custody_statement(slot, signing_fp(personas, 2))
    body = {
        "statement": base64.b64encode(statement).decode(),
        "signature": base64.b64encode(sign(personas.custodian_signing_keys[2], statement)).decode(),
    }
    response = signed_in(personas.custodians[2]).post(
        f"/api/tenders/{unconfirmed_tender.public_id}/custody/confirmation", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["custodians"][2]["confirmation"]["statement"] == body["statement"]


def test_a_statement_that_differs_from_the_published_custody_is_refused(personas, unconfirmed_tender):
    slot = slot_of(unconfirmed_tender, personas.custodians[0])
    honest = json.loads(custody.custody_statement(slot, signing_fp(personas, 0)))
    other = PublicKey.fingerprint_of(spki_der(ec.generate_private_key(ec.SECP256R1())))
    for change in ({"threshold": 1}, {"index": 1}, {"recipients": [other, *honest["recipients"][1:]]}, {"tender": "x"}):
        from archive.canonical import canonical_json

        statement = canonical_json({**honest, **change})
        error = refused(
            custody.confirm_custody,
            personas.custodians[0],
            unconfirmed_tender,
            statement,
            sign(personas.custodian_signing_keys[0], statement),
        )
        assert error.code == "custody_statement_invalid" and error.status == 422
    # Not JSON at all, and JSON nested deeper than the decoder goes (well under the size limit).
    for garbage in (b"\xff\xfe", b"[" * 3000, b"{}"):
        error = refused(
            custody.confirm_custody,
            personas.custodians[0],
            unconfirmed_tender,
            garbage,
            sign(personas.custodian_signing_keys[0], garbage),
        )
        assert error.code == "custody_statement_invalid" and error.status == 422
    # Not canonical: the same fields, spaced.
    loose = json.dumps(honest).encode()
    error = refused(
        custody.confirm_custody,
        personas.custodians[0],
        unconfirmed_tender,
        loose,
        sign(personas.custodian_signing_keys[0], loose),
    )
    assert error.code == "custody_statement_invalid"
    assert nothing_confirmed(unconfirmed_tender)


def test_a_signature_by_another_users_key_or_a_key_not_registered_is_refused(personas, unconfirmed_tender):
    slot = slot_of(unconfirmed_tender, personas.custodians[0])
    # custodian2's registered signing key, named in custodian1's statement
    statement = custody.custody_statement(slot, signing_fp(personas, 1))
    error = refused(
        custody.confirm_custody,
        personas.custodians[0],
        unconfirmed_tender,
        statement,
        sign(personas.custodian_signing_keys[1], statement),
    )
    assert error.code == "custody_signing_key_invalid"
    # custodian1's own key named, but signed by another key
    statement = custody.custody_statement(slot, signing_fp(personas, 0))
    error = refused(
        custody.confirm_custody,
        personas.custodians[0],
        unconfirmed_tender,
        statement,
        sign(personas.custodian_signing_keys[1], statement),
    )
    assert error.code == "custody_signature_invalid"
    # its encryption key named as the signing key
    statement = custody.custody_statement(slot, PublicKey.fingerprint_of(spki_der(personas.custodian_keys[0])))
    error = refused(
        custody.confirm_custody,
        personas.custodians[0],
        unconfirmed_tender,
        statement,
        sign(personas.custodian_keys[0], statement),
    )
    assert error.code == "custody_signing_key_invalid"
    assert nothing_confirmed(unconfirmed_tender)


def test_a_revoked_signing_key_cannot_confirm(personas, unconfirmed_tender):
    from accounts.services import revoke_public_key

    revoke_public_key(personas.custodians[0], PublicKey.objects.get(fingerprint=signing_fp(personas, 0)))
    error = refused(confirm_custody_as, personas.custodians[0], unconfirmed_tender, personas.custodian_signing_keys[0])
    assert error.code == "custody_signing_key_invalid"
    assert nothing_confirmed(unconfirmed_tender)


def test_nobody_confirms_before_publication(personas, draft_tender):
    statement = b'{"format":"etender-custody-v1"}'
    error = refused(
        custody.confirm_custody,
        personas.custodians[0],
        draft_tender,
        statement,
        sign(personas.custodian_signing_keys[0], statement),
    )
    assert error.code == "tender_not_published"
    response = signed_in(personas.custodians[0]).get(f"/api/tenders/{draft_tender.public_id}/custody")
    assert response.status_code == 404
    assert nothing_confirmed(draft_tender)


def test_a_user_who_is_not_a_custodian_of_the_tender_is_refused(personas, unconfirmed_tender):
    signing = ec.generate_private_key(ec.SECP256R1())
    register_own_key(personas.bidder_a, KeyPurpose.SIGNING, signing)
    custodian_slot = slot_of(unconfirmed_tender, personas.custodians[0])
    statement = custody.custody_statement(custodian_slot, PublicKey.fingerprint_of(spki_der(signing)))
    error = refused(custody.confirm_custody, personas.bidder_a, unconfirmed_tender, statement, sign(signing, statement))
    assert error.code == "not_a_custodian" and error.status == 403
    assert nothing_confirmed(unconfirmed_tender)


def test_after_the_deadline_custody_can_no_longer_be_confirmed(personas, unconfirmed_tender, frozen_clock):
    frozen_clock.set(unconfirmed_tender.bid_deadline)
    error = refused(confirm_custody_as, personas.custodians[0], unconfirmed_tender, personas.custodian_signing_keys[0])
    assert error.code == "deadline_passed"
    assert nothing_confirmed(unconfirmed_tender)


def test_a_custodians_own_device_refuses_a_tender_that_lists_another_key_of_its(personas, draft_tender):
    """With the custodian's password the operator revoked its key and registered one of its own before publication:
    the custodian's device will not sign for a tender that lists it."""
    from accounts.services import revoke_public_key

    revoke_public_key(personas.custodians[0], personas.custodians[0].public_keys.get(purpose="encryption"))
    register_own_key(personas.custodians[0], KeyPurpose.ENCRYPTION, ec.generate_private_key(ec.SECP256R1()))
    tender = tenders.publish(personas.tenderer, draft_tender)
    with pytest.raises(ValueError, match="does not list this device's encryption key"):
        confirm_custody_as(
            personas.custodians[0], tender, personas.custodian_signing_keys[0], personas.custodian_keys[0]
        )
    assert nothing_confirmed(tender)


def test_the_tender_page_and_the_custodians_dashboard_show_what_is_confirmed(personas, unconfirmed_tender):
    page = signed_in(personas.bidder_a).get(f"/tenders/{unconfirmed_tender.public_id}/").text
    assert "密钥保管人确认 0/3" in page
    dashboard = signed_in(personas.custodians[1]).get("/dashboard/").text
    assert (
        'id="awaiting-custody"' in dashboard
        and f"etender custodian confirm {unconfirmed_tender.public_id}" in dashboard
    )
    confirm_custody(unconfirmed_tender, personas)
    assert "密钥保管人确认 3/3" in signed_in(personas.bidder_a).get(f"/tenders/{unconfirmed_tender.public_id}/").text
    assert 'id="awaiting-custody"' not in signed_in(personas.custodians[1]).get("/dashboard/").text
