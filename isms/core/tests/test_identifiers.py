"""The check digits of Taiwanese ID numbers and company tax IDs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isms.core.validators import national_id_ok, tax_id_ok


@pytest.mark.parametrize("value", ["A123456789", "F131104093", "a123456789", "A800000014"])
def test_valid_id_numbers(value):
    assert national_id_ok(value)


@pytest.mark.parametrize(
    "value", ["A123456780", "A323456789", "I12345678", "1234567890", "AA23456789", "", None]
)
def test_invalid_id_numbers(value):
    assert not national_id_ok(value)


@given(st.from_regex(r"[A-Z][12][0-9]{8}", fullmatch=True))
def test_exactly_one_check_digit_fits(value):
    fits = [d for d in "0123456789" if national_id_ok(value[:9] + d)]
    assert len(fits) == 1


@pytest.mark.parametrize("value", ["04595257", "22099131", "12345675", "10458575"])
def test_valid_tax_ids(value):
    assert tax_id_ok(value)


@pytest.mark.parametrize("value", ["04595258", "1234567", "123456789", "abcdefgh", "", None])
def test_invalid_tax_ids(value):
    assert not tax_id_ok(value)
