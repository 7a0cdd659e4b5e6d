"""GB 11643 resident ID rules and PII masking/encryption (pure functions)."""

from __future__ import annotations

from datetime import date

import pytest

from services.identity.domain import check_digit, parse_id_number, parse_phone, rate
from shared.pii import PiiCipher, PiiError, mask_id_number, mask_phone
from shared.problems import RuleViolation
from tests.identity.conftest import make_id_number

TODAY = date(2026, 11, 26)


def test_the_check_digit_follows_gb_11643() -> None:
    # Published example: 11010519491231002X.
    assert check_digit("11010519491231002") == "X"
    assert parse_id_number("11010519491231002x", today=TODAY).value == "11010519491231002X"


@pytest.mark.parametrize("prefix", ["350681", "350625", "350623"])
def test_retired_region_prefixes_are_accepted(prefix: str) -> None:
    parsed = parse_id_number(make_id_number(prefix), today=TODAY)
    assert parsed.region_prefix == prefix


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("35062319900101123", "id_number_malformed"),
        ("3506231990010112345", "id_number_malformed"),
        ("35062319900101123A", "id_number_malformed"),
        ("000000199001011234", "id_number_region"),
        ("350623199002301234", "id_number_birth_date"),
        ("350623209901011234", "id_number_birth_date"),
    ],
)
def test_malformed_id_numbers_are_refused_with_a_reason(raw: str, code: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_id_number(raw, today=TODAY)
    assert caught.value.code == code


def full_width(digits: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in digits)


def test_an_id_number_or_phone_in_full_width_digits_is_refused_not_a_second_spelling() -> None:
    good = make_id_number()
    mixed = good[:6] + full_width(good[6:])  # int() reads ３ as 3: the check digit still holds
    with pytest.raises(RuleViolation) as id_number:
        parse_id_number(mixed, today=TODAY)
    with pytest.raises(RuleViolation) as phone:
        parse_phone("138" + full_width("12345678"))
    assert id_number.value.code == "id_number_malformed"
    assert phone.value.code == "phone_invalid"


def test_a_wrong_check_digit_is_refused() -> None:
    good = make_id_number()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(RuleViolation) as caught:
        parse_id_number(bad, today=TODAY)
    assert caught.value.code == "id_number_checksum"


def test_gender_and_minor_status_come_from_the_number() -> None:
    woman = parse_id_number(make_id_number(male=False), today=TODAY)
    child = parse_id_number(make_id_number(born=date(2015, 6, 1)), today=TODAY)
    assert woman.gender == "female"
    assert child.is_minor_on(TODAY)
    assert not woman.is_minor_on(TODAY)


def test_masks_hide_the_middle() -> None:
    assert mask_id_number("350623199001011234") == "350623********1234"
    assert mask_phone("13812341234") == "138****1234"


def test_ciphertexts_name_their_key_and_survive_rotation() -> None:
    old = PiiCipher({"k1": "one"}, active_kid="k1", index_secret="ix")
    sealed = old.encrypt("13812341234", context="phone")
    assert sealed.startswith("k1:")
    assert "13812341234" not in sealed
    rotated = PiiCipher({"k2": "two", "k1": "one"}, active_kid="k2", index_secret="ix")
    assert rotated.decrypt(sealed, context="phone") == "13812341234"
    assert rotated.needs_rotation(sealed)
    assert rotated.encrypt("x", context="phone").startswith("k2:")
    assert old.blind_index("a", context="phone") == rotated.blind_index("a", context="phone")
    with pytest.raises(PiiError):
        rotated.decrypt(sealed, context="id_number")  # bound to its column


def test_rates_round_like_the_report() -> None:
    assert str(rate(97_483, 228_235)) == "42.71"
    assert str(rate(211_654, 228_235)) == "92.73"
    assert rate(1, 0) is None
