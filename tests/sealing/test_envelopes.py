"""Key envelopes: only the addressed key opens them, for this bid only; k custodians together, fewer never."""

from __future__ import annotations

import dataclasses
import itertools
import os
from math import comb

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tendering.sealing.envelopes import (
    ENVELOPE_SIZE,
    CustodianEnvelopes,
    CustodianPart,
    Envelopes,
    SubsetEnvelopes,
    bidder_envelope_info,
    check_envelope_coverage,
    combine_parts,
    custodian_part_info,
    custodian_subsets,
    file_key_from_parts,
    key_commitment,
    open_bidder_envelope,
    open_custodian_part,
    open_custodian_parts,
    seal_file_key,
    split_key,
    verify_commitment,
)
from tendering.sealing.errors import EnvelopeCoverageError, EnvelopeError, KeyCommitmentError
from tendering.sealing.keys import fingerprint, spki_der
from tests.sealing.helpers import BIDDER_KEY, CUSTODIAN_KEYS, IDENTITY, OTHER_IDENTITY, STRANGER_KEY, tink_hpke

FILE_KEY = bytes.fromhex("00112233445566778899aabbccddeeff" * 2)
PUBLISHED = [key.public_key() for key in CUSTODIAN_KEYS]
PUBLISHED_DER = [spki_der(key) for key in PUBLISHED]
ENVELOPES = seal_file_key(FILE_KEY, IDENTITY, BIDDER_KEY.public_key(), PUBLISHED, 3)
CUSTODIANS = ENVELOPES.custodians


def with_custodians(**changes: object) -> CustodianEnvelopes:
    return dataclasses.replace(CUSTODIANS, **changes)  # type: ignore[arg-type]


# --- refusals ---------------------------------------------------------------------------------------------------


def test_the_bidder_envelope_refuses_another_key() -> None:
    with pytest.raises(EnvelopeError, match=r"sealed to key .*, not to this key"):
        open_bidder_envelope(ENVELOPES.bidder, IDENTITY, STRANGER_KEY)


def test_the_bidder_envelope_refuses_to_open_for_another_bid() -> None:
    with pytest.raises(EnvelopeError, match="does not open with this key: modified, or made for another tender, bid"):
        open_bidder_envelope(ENVELOPES.bidder, OTHER_IDENTITY, BIDDER_KEY)


def test_a_custodian_part_refuses_to_open_for_another_bid_or_as_another_subset() -> None:
    first = CUSTODIANS.subsets[0]
    with pytest.raises(EnvelopeError, match="does not open"):
        open_custodian_part(CUSTODIANS, OTHER_IDENTITY, first.members, CUSTODIAN_KEYS[0])
    # The same envelope presented as the part of another subset: its info names the subset, so it stays shut.
    moved = with_custodians(subsets=(first, dataclasses.replace(CUSTODIANS.subsets[1], parts=first.parts)))
    with pytest.raises(EnvelopeError, match=r"custodian 0 in subset \[0, 1, 3\] does not open"):
        open_custodian_part(moved, IDENTITY, (0, 1, 3), CUSTODIAN_KEYS[0])


def test_a_custodian_part_refuses_strangers_and_non_members() -> None:
    with pytest.raises(EnvelopeError, match="is not one of this bid's custodians"):
        open_custodian_parts(CUSTODIANS, IDENTITY, STRANGER_KEY)
    with pytest.raises(EnvelopeError, match=r"custodian 4 is not a member of subset \[0, 1, 2\]"):
        open_custodian_part(CUSTODIANS, IDENTITY, (0, 1, 2), CUSTODIAN_KEYS[4])
    with pytest.raises(EnvelopeError, match=r"no subset \[0, 1\]"):
        open_custodian_part(CUSTODIANS, IDENTITY, (0, 1), CUSTODIAN_KEYS[0])


def test_a_modified_envelope_does_not_open() -> None:
    sealed = bytearray(ENVELOPES.bidder.sealed)
    sealed[-1] ^= 1
    with pytest.raises(EnvelopeError, match="does not open"):
        open_bidder_envelope(dataclasses.replace(ENVELOPES.bidder, sealed=bytes(sealed)), IDENTITY, BIDDER_KEY)
    with pytest.raises(EnvelopeError, match="an envelope is 113 bytes, this one has 112"):
        open_bidder_envelope(dataclasses.replace(ENVELOPES.bidder, sealed=bytes(sealed[:-1])), IDENTITY, BIDDER_KEY)


def test_fewer_than_k_custodians_hold_parts_that_combine_to_nothing_useful() -> None:
    for coalition in itertools.combinations(range(5), 2):
        parts = [p for c in coalition for p in open_custodian_parts(CUSTODIANS, IDENTITY, CUSTODIAN_KEYS[c])]
        with pytest.raises(EnvelopeError, match="no subset of 3 custodians has submitted all its parts"):
            file_key_from_parts(CUSTODIANS, parts, key_commitment(FILE_KEY))
        # Every XOR of what they hold, across subsets too, is not the key.
        values = [p.part for p in parts]
        for r in range(1, len(values) + 1):
            for chosen in itertools.combinations(values, r):
                assert combine_parts(chosen) != FILE_KEY


def test_a_wrong_part_is_caught_by_the_key_commitment() -> None:
    parts = open_custodian_parts(CUSTODIANS, IDENTITY, CUSTODIAN_KEYS[0])
    parts += open_custodian_parts(CUSTODIANS, IDENTITY, CUSTODIAN_KEYS[1])
    parts += open_custodian_parts(CUSTODIANS, IDENTITY, CUSTODIAN_KEYS[2])
    lying = [dataclasses.replace(p, part=bytes(32)) if p.position == 2 else p for p in parts]
    with pytest.raises(KeyCommitmentError, match=r"subsets \[\[0, 1, 2\]\] combine to a key that does not match kc"):
        file_key_from_parts(CUSTODIANS, lying, key_commitment(FILE_KEY))


def test_a_key_that_is_not_the_committed_one_is_refused() -> None:
    with pytest.raises(KeyCommitmentError, match="does not match the manifest's key commitment"):
        verify_commitment(bytes(32), key_commitment(FILE_KEY))


def test_sealing_refuses_a_custodian_named_twice_and_bad_thresholds() -> None:
    with pytest.raises(EnvelopeError, match="custodians 0 and 2 have the same key"):
        seal_file_key(FILE_KEY, IDENTITY, BIDDER_KEY.public_key(), [PUBLISHED[0], PUBLISHED[1], PUBLISHED[0]], 2)
    with pytest.raises(EnvelopeError, match="threshold k must be between 1 and n=5, not 6"):
        seal_file_key(FILE_KEY, IDENTITY, BIDDER_KEY.public_key(), PUBLISHED, 6)
    with pytest.raises(EnvelopeError, match="1 to 9 custodians, not 10"):
        custodian_subsets(10, 2)
    with pytest.raises(EnvelopeError, match="1 to 9 custodians, not 0"):
        seal_file_key(FILE_KEY, IDENTITY, BIDDER_KEY.public_key(), [], 1)


@pytest.mark.parametrize(
    ("custodians", "complaint"),
    [
        (with_custodians(threshold=2), "for a threshold of 2, the tender's is 3"),
        (with_custodians(recipients=CUSTODIANS.recipients[::-1]), "in another order"),
        (
            with_custodians(recipients=(*CUSTODIANS.recipients[:4], fingerprint(STRANGER_KEY.public_key()))),
            r"custodians missing at positions \[4\]; keys not published",
        ),
        (with_custodians(subsets=CUSTODIANS.subsets[:-1]), "need 10 subsets of envelopes, the bid has 9"),
        (
            with_custodians(subsets=(CUSTODIANS.subsets[0], *CUSTODIANS.subsets[:-1])),
            r"subset 1 is \[0, 1, 2\], expected \[0, 1, 3\]",
        ),
        (
            with_custodians(subsets=(CUSTODIANS.subsets[1], CUSTODIANS.subsets[0], *CUSTODIANS.subsets[2:])),
            "every k-subset once, in lexicographic order",
        ),
        (
            with_custodians(
                subsets=(SubsetEnvelopes((0, 1, 2), CUSTODIANS.subsets[0].parts[:2]), *CUSTODIANS.subsets[1:])
            ),
            r"subset \[0, 1, 2\] has 2 parts, expected 3",
        ),
        (
            with_custodians(
                subsets=(
                    SubsetEnvelopes((0, 1, 2), (*CUSTODIANS.subsets[0].parts[:2], b"\x04" + bytes(112))),
                    *CUSTODIANS.subsets[1:],
                )
            ),
            r"the part of custodian 2 in subset \[0, 1, 2\]: the envelope does not start with an uncompressed P-256",
        ),
    ],
)
def test_coverage_refuses_envelopes_that_miss_a_subset_or_a_published_custodian(
    custodians: CustodianEnvelopes, complaint: str
) -> None:
    with pytest.raises(EnvelopeCoverageError, match=complaint):
        check_envelope_coverage(custodians, PUBLISHED_DER, 3)


def test_coverage_refuses_a_tender_whose_published_custodians_repeat_a_key_or_are_not_keys() -> None:
    with pytest.raises(EnvelopeCoverageError, match="published custodians are not usable: custodians 0 and 1"):
        check_envelope_coverage(CUSTODIANS, [PUBLISHED_DER[0], *PUBLISHED_DER[:4]], 3)
    with pytest.raises(EnvelopeCoverageError, match="not a fingerprint"):
        check_envelope_coverage(CUSTODIANS, [*PUBLISHED_DER[:4], "AB" * 32], 3)
    with pytest.raises(EnvelopeCoverageError, match="cannot read the public key"):
        check_envelope_coverage(CUSTODIANS, [*PUBLISHED_DER[:4], b"junk"], 3)


# --- what works -------------------------------------------------------------------------------------------------


def test_coverage_accepts_what_sealing_makes_given_keys_ders_or_fingerprints() -> None:
    check_envelope_coverage(CUSTODIANS, PUBLISHED, 3)
    check_envelope_coverage(CUSTODIANS, PUBLISHED_DER, 3)
    check_envelope_coverage(CUSTODIANS, [fingerprint(k) for k in PUBLISHED], 3)


@pytest.mark.parametrize(("n", "k"), [(1, 1), (3, 2), (5, 3), (9, 4), (9, 9)])
def test_there_is_one_subset_of_k_envelopes_for_every_k_subset_in_lexicographic_order(n: int, k: int) -> None:
    keys = [key.public_key() for key in CUSTODIAN_KEYS[:n]] + [
        STRANGER_KEY.public_key() if i == 5 else _key(i).public_key() for i in range(5, n)
    ]
    custodians = seal_file_key(FILE_KEY, IDENTITY, BIDDER_KEY.public_key(), keys, k).custodians
    assert [s.members for s in custodians.subsets] == sorted(itertools.combinations(range(n), k))
    assert len(custodians.subsets) == comb(n, k)
    assert all(len(s.parts) == k and all(len(p) == ENVELOPE_SIZE for p in s.parts) for s in custodians.subsets)
    check_envelope_coverage(custodians, keys, k)


def _key(i: int):  # type: ignore[no-untyped-def]
    from tests.sealing.helpers import fixed_key

    return fixed_key(f"extra custodian {i}")


def test_the_bidder_opens_its_own_envelope() -> None:
    assert open_bidder_envelope(ENVELOPES.bidder, IDENTITY, BIDDER_KEY) == FILE_KEY


def test_any_k_custodians_together_recover_the_file_key() -> None:
    kc = key_commitment(FILE_KEY)
    for coalition in itertools.combinations(range(5), 3):
        parts = [p for c in coalition for p in open_custodian_parts(CUSTODIANS, IDENTITY, CUSTODIAN_KEYS[c])]
        assert file_key_from_parts(CUSTODIANS, parts, kc) == FILE_KEY
        subset = next(s for s in CUSTODIANS.subsets if s.members == coalition)
        own = [p.part for p in parts if p.members == subset.members]
        assert combine_parts(own) == FILE_KEY


def test_each_subset_has_parts_of_its_own() -> None:
    everything = [p.part for c in range(5) for p in open_custodian_parts(CUSTODIANS, IDENTITY, CUSTODIAN_KEYS[c])]
    assert len(everything) == 30 == len(set(everything))


def test_split_parts_xor_to_the_key_and_a_single_part_is_the_key() -> None:
    for k in range(1, 10):
        parts = split_key(FILE_KEY, k)
        assert len(parts) == k and combine_parts(parts) == FILE_KEY
    assert split_key(FILE_KEY, 1) == (FILE_KEY,)


def test_the_commitment_is_hkdf_with_an_empty_salt_which_equals_a_zero_salt() -> None:
    expected = HKDF(hashes.SHA256(), 32, salt=b"", info=b"etender-commit-v1").derive(FILE_KEY)
    assert key_commitment(FILE_KEY) == expected
    assert HKDF(hashes.SHA256(), 32, salt=None, info=b"etender-commit-v1").derive(FILE_KEY) == expected
    verify_commitment(FILE_KEY, expected)


def test_the_info_strings_name_the_bid_and_the_recipient() -> None:
    recipient = fingerprint(BIDDER_KEY.public_key())
    assert bidder_envelope_info(IDENTITY, recipient) == (
        f"etender-envelope-v1|bidder|{IDENTITY.tender}|{IDENTITY.bid}|{IDENTITY.bidder}|{recipient}".encode()
    )
    assert (
        custodian_part_info(IDENTITY, 3, 5, (0, 2, 4), 2, "ab" * 32)
        == (
            f"etender-envelope-v1|custodian|{IDENTITY.tender}|{IDENTITY.bid}|{IDENTITY.bidder}"
            f"|3-of-5|0,2,4|2|{'ab' * 32}"
        ).encode()
    )


def test_tink_opens_our_envelopes_and_we_open_tinks() -> None:
    tink_encrypt, tink_decrypt = tink_hpke(BIDDER_KEY)
    info = bidder_envelope_info(IDENTITY, fingerprint(BIDDER_KEY.public_key()))
    assert tink_decrypt.decrypt(ENVELOPES.bidder.sealed, info) == FILE_KEY
    other_key = os.urandom(32)
    theirs = Envelopes(
        dataclasses.replace(ENVELOPES.bidder, sealed=tink_encrypt.encrypt(other_key, info)), ENVELOPES.custodians
    )
    assert open_bidder_envelope(theirs.bidder, IDENTITY, BIDDER_KEY) == other_key

    _, custodian_decrypt = tink_hpke(CUSTODIAN_KEYS[3])
    subset = CUSTODIANS.subsets[-1]  # [2, 3, 4]
    part_info = custodian_part_info(IDENTITY, 3, 5, subset.members, 3, CUSTODIANS.recipients[3])
    assert CustodianPart(subset.members, 3, custodian_decrypt.decrypt(subset.parts[1], part_info)) == (
        open_custodian_part(CUSTODIANS, IDENTITY, subset.members, CUSTODIAN_KEYS[3])
    )
