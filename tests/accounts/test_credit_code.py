import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts import credit_code
from accounts.models import Organization, OrganizationKind

REAL_CODES = ["91350100M000100Y43", "91110000600037341L", "911100001000079554"]


@pytest.mark.parametrize("code", REAL_CODES)
def test_it_accepts_real_credit_codes(code):
    assert credit_code.validate(code) == code


def test_it_accepts_lower_case_and_surrounding_spaces():
    assert credit_code.validate(" 91350100m000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100Y433", "18 characters"),
        ("91350100M000100Y44", "wrong check character"),
        ("91350100M00010OY43", "not allowed"),  # letter O is not in the alphabet
        ("913501A0M000100Y43", "administrative division"),
        ("", "18 characters"),
    ],
)
def test_it_refuses_malformed_codes_with_the_reason(code, reason):
    with pytest.raises(credit_code.InvalidCreditCode, match=reason):
        credit_code.validate(code)


@given(st.text(alphabet=credit_code.ALPHABET, min_size=17, max_size=17).filter(lambda s: s[2:8].isdigit()))
def test_every_completed_code_validates_and_any_other_check_character_fails(first17):
    code = credit_code.make(first17)
    assert credit_code.validate(code) == code
    for other in credit_code.ALPHABET:
        if other != code[-1]:
            with pytest.raises(credit_code.InvalidCreditCode):
                credit_code.validate(first17 + other)


@pytest.mark.django_db
def test_a_bidder_organization_needs_a_valid_credit_code():
    from django.core.exceptions import ValidationError

    org = Organization(name="无代码公司", kind=OrganizationKind.BIDDER)
    with pytest.raises(ValidationError):
        org.full_clean()
    org.credit_code = "91350100M000100Y44"
    with pytest.raises(ValidationError, match="check character"):
        org.full_clean()
    org.credit_code = "91350100M000100Y43"
    org.full_clean()
