"""The one strict JSON reader (archive/strict_json.py): what it refuses, and that its users
(the sealed-bid format, the offline verifier, the custody statement) read through it."""

from __future__ import annotations

import pytest

from archive import strict_json
from archive.strict_json import StrictJSONError


def test_a_plain_document_reads_as_json() -> None:
    assert strict_json.loads(b'{"a":[1,"\xe4\xb8\xad",null,true]}') == {"a": [1, "中", None, True]}
    assert strict_json.loads('{"price":"3050000.50"}') == {"price": "3050000.50"}


@pytest.mark.parametrize(
    ("data", "reason", "words"),
    [
        (b'{"a":1,"a":2}', "duplicate_key", "the key 'a' appears twice"),
        (b'{"a":{"b":1,"b":1}}', "duplicate_key", "the key 'b' appears twice"),
        (b'{"a":NaN}', "constant", "NaN is not JSON"),
        (b'{"a":Infinity}', "constant", "Infinity is not JSON"),
        (b"[-Infinity]", "constant", "-Infinity is not JSON"),
        (b'{"a":1.5}', "float", "the number 1.5 is not an integer"),
        (b'{"a":1e6}', "float", "the number 1e6 is not an integer"),
        (b"\xff{}", "not_utf8", "is not UTF-8"),
        (b'{"a":', "not_json", "is not JSON: Expecting value"),
        (b"[" * 100_000 + b"]" * 100_000, "too_deep", "nested too deeply"),
        (b"1" * 5000, "not_json", "Exceeds the limit"),
    ],
)
def test_a_document_that_could_mean_two_things_or_is_not_json_is_refused_with_the_reason(
    data: bytes, reason: str, words: str
) -> None:
    with pytest.raises(StrictJSONError) as refused:
        strict_json.loads(data, what="the manifest")
    assert refused.value.reason == reason
    assert words in str(refused.value)
    assert str(refused.value).startswith("the manifest ")


def test_floats_are_read_only_where_the_caller_allows_them_and_constants_never() -> None:
    assert strict_json.loads(b'{"ratio":0.5}', floats=True) == {"ratio": 0.5}
    with pytest.raises(StrictJSONError, match="NaN is not JSON"):
        strict_json.loads(b"[NaN]", floats=True)


def test_a_document_over_its_size_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(StrictJSONError, match="has 12 bytes, more than the 11 allowed") as refused:
        strict_json.loads(b"\xff" * 12, what="the statement", max_size=11)
    assert refused.value.reason == "too_large"
    assert strict_json.loads(b'"' + b"x" * 9 + b'"', max_size=11) == "x" * 9


def test_the_formats_readers_and_the_offline_verifier_refuse_through_the_one_reader() -> None:
    from archive import verify
    from tendering.sealing.jsonform import parse_canonical

    with pytest.raises(ValueError, match="the price summary is refused: the key 'a' appears twice"):
        parse_canonical(b'{"a":1,"a":1}', max_size=100, what="price summary", error=ValueError)
    with pytest.raises(verify.Refused, match=r"the receipt is not JSON the platform writes \(NaN is not JSON\)"):
        verify._json_object(b'{"a":NaN}', "the receipt")
