"""Canonical JSON: one spelling per value, and refusal of values with more than one."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive import merkle
from archive.canonical import (
    canonical_json,
    checkpoint_body,
    format_timestamp,
    ledger_entry_bytes,
    ledger_entry_bytes_with_data_json,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def test_it_sorts_keys_by_utf16_code_units_and_writes_no_spaces() -> None:
    # U+1F600 sorts before U+FB01 in UTF-16 (a surrogate, 0xD83D < 0xFB01), after it in code points.
    assert canonical_json({"\ufb01": 1, "\U0001f600": 2, "b": [True, None], "a": "€"}) == (
        '{"a":"€","b":[true,null],"\U0001f600":2,"\ufb01":1}'.encode()
    )


def test_it_keeps_the_text_of_choices_members_and_accepts_tuples() -> None:
    from accounts.models import KeyPurpose

    assert canonical_json({"purpose": KeyPurpose.SIGNING, "pair": (1, 2)}) == b'{"pair":[1,2],"purpose":"signing"}'


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ({"price": 1.5}, r"\$\.price: float"),
        ({"price": 2.0}, r"\$\.price: float"),
        ({"items": [{"n": float("nan")}]}, r"\$\.items\[0\]\.n: float"),
        ({"price": Decimal("1.50")}, "Decimal is not a JSON type"),
        ({"digest": b"\x00"}, "bytes are not JSON"),
        ({"at": dt.datetime(2026, 3, 2, tzinfo=dt.UTC)}, "convert it to an ISO 8601 string"),
        ({"on": dt.date(2026, 3, 2)}, "convert it to an ISO 8601 string"),
        ({1: "one"}, "keys must be strings"),
        ({"ids": {1, 2}}, "set is not a JSON type"),
    ],
)
def test_it_refuses_values_that_are_not_plain_json(value: object, complaint: str) -> None:
    with pytest.raises(TypeError, match=complaint):
        canonical_json(value)


def test_it_refuses_integers_beyond_what_every_json_reader_keeps_exactly() -> None:
    assert canonical_json(2**53 - 1) == b"9007199254740991"
    with pytest.raises(ValueError, match="decimal string"):
        canonical_json({"amount": 2**53})


def test_it_refuses_lone_surrogates() -> None:
    with pytest.raises(ValueError, match="cannot canonicalize"):
        canonical_json({"text": "\ud800"})


@given(json_values)
def test_canonical_bytes_are_a_fixed_point(value: object) -> None:
    import json

    once = canonical_json(value)
    assert canonical_json(json.loads(once)) == once


def test_timestamps_have_one_spelling_per_instant() -> None:
    beijing = dt.timezone(dt.timedelta(hours=8))
    assert format_timestamp(dt.datetime(2026, 3, 2, 9, 0, tzinfo=beijing)) == "2026-03-02T01:00:00.000000Z"
    assert format_timestamp(dt.datetime(2026, 3, 2, 1, 0, 0, 5, tzinfo=dt.UTC)) == "2026-03-02T01:00:00.000005Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(dt.datetime(2026, 3, 2, 1, 0))


def test_the_entry_bytes_are_exactly_as_documented() -> None:
    """The worked example of docs/ledger.md: other implementations must get the same bytes and hashes."""
    entry = ledger_entry_bytes(
        seq=1,
        case="tender:42",
        action="tendering.tender.published",
        actor_id=7,
        actor="agent",
        recorded_at="2026-03-02T01:00:00.000000Z",
        data={"title": "瑞金市道路改造", "budget": "1250000.00"},
        prev="0" * 64,
    )
    assert (
        entry
        == (
            '{"action":"tendering.tender.published","actor":"agent","actor_id":7,"case":"tender:42",'
            '"data":{"budget":"1250000.00","title":"瑞金市道路改造"},'
            '"prev":"0000000000000000000000000000000000000000000000000000000000000000",'
            '"recorded_at":"2026-03-02T01:00:00.000000Z","seq":1}'
        ).encode()
    )
    assert hashlib.sha256(entry).hexdigest() == "7dd3e69f2138dd69e8b1de2d18b258216454a24f327876cb7305826a8e1ef318"
    assert merkle.leaf_hash(entry).hex() == "dc8a59693cf54b693731b3d6cada56ec77c1f8b39a9614e9bc867dbed28db43e"


def test_the_checkpoint_body_is_exactly_as_documented() -> None:
    body = checkpoint_body(tree_size=3, root="ab" * 32, created_at="2026-03-02T01:00:00.000000Z")
    assert (
        body
        == (
            '{"created_at":"2026-03-02T01:00:00.000000Z","root":"' + "ab" * 32 + '",'
            '"tree_size":3,"type":"etender-ledger-checkpoint-v1"}'
        ).encode()
    )


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(data=st.dictionaries(st.text(max_size=8), _json_values, max_size=6), case=st.text(min_size=1, max_size=20))
def test_splicing_canonical_data_gives_the_same_entry_bytes(data: dict, case: str) -> None:
    fields = {
        "seq": 7,
        "case": case,
        "action": "tendering.bid.submitted",
        "actor_id": 3,
        "actor": "bidder",
        "recorded_at": "2026-03-02T01:00:00.000000Z",
        "prev": "0" * 64,
    }
    assert ledger_entry_bytes_with_data_json(**fields, data_json=canonical_json(data)) == ledger_entry_bytes(
        **fields, data=data
    )
