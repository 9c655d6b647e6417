"""The unified social credit code (统一社会信用代码, GB 32100-2015).

18 characters from a 31-character alphabet (digits and capitals without I, O,
Z, S, V): registration authority (1), organization category (1), administrative
division (6 digits), organization code (9), check character (1). Framework-free.

The check character (GB 32100-2015 §5): with value(c) the index of c in
ALPHABET and weight(i) = 3^i mod 31 for i = 0..16,

    check_value = 31 − (Σ value(code[i]) · weight(i) mod 31), and 31 becomes 0
    code[17]    = ALPHABET[check_value]

A code is checked in this order, the first broken rule being the refusal:
18 characters; every character in ALPHABET (capitals only); characters 3 to 8
digits; the check character. docs/sealed-bid-format.md §1 says the same, and
docs/sealed-bid-vectors/identity.json has codes to accept and to refuse.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}


class InvalidCreditCode(ValueError):
    """The code is malformed; ``str(exc)`` says what is wrong."""


def check_character(first17: str) -> str:
    total = sum(_VALUE[ch] * weight for ch, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalize(code: str) -> str:
    return code.strip().upper()


def validate(code: str) -> str:
    """Return the normalized code or raise InvalidCreditCode with the reason."""
    value = normalize(code)
    if len(value) != 18:
        raise InvalidCreditCode(f"must have 18 characters, got {len(value)}")
    bad = sorted({ch for ch in value if ch not in _VALUE})
    if bad:
        raise InvalidCreditCode(f"contains characters not allowed in a credit code: {''.join(bad)}")
    if not value[2:8].isdigit():
        raise InvalidCreditCode("characters 3 to 8 (the administrative division) must be digits")
    expected = check_character(value[:17])
    if value[17] != expected:
        raise InvalidCreditCode(f"wrong check character: expected {expected}, got {value[17]}")
    return value


def make(first17: str) -> str:
    """Complete 17 characters with their check character (demo data and tests)."""
    return first17 + check_character(first17)
