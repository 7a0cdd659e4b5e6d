"""The detector of phone and ID numbers typed into free text (shared.pii): every generated
mobile, landline and resident ID number embedded in Chinese text is found and masked, in the
ways people type them (separators, +86, full-width digits); ordinary numbers are left alone."""

from __future__ import annotations

import re
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.pii import (
    find_personal_numbers,
    id_check_digit,
    mask_id_number,
    mask_personal_numbers,
)

# Chinese words and punctuation with no digits: the text around a number.
_CHINESE = st.text(
    alphabet=st.sampled_from("请联系我的电话号码是身份证住在小区楼下有人吵架谢谢，。：；！？、 "),
    max_size=12,
)
_FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


@st.composite
def mobiles(draw: st.DrawFn) -> str:
    return "1" + draw(st.sampled_from("3456789")) + draw(_digits(9))


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from("123456789")) + draw(_digits(5))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 12, 31)))
    first17 = f"{region}{born:%Y%m%d}{draw(_digits(3))}"
    return first17 + id_check_digit(first17)


@st.composite
def landlines(draw: st.DrawFn) -> tuple[str, str]:
    area = draw(st.sampled_from(["010", "021", "0596", "0591", "0755"]))
    local = draw(st.sampled_from("23456789")) + draw(_digits(draw(st.sampled_from([6, 7]))))
    return area, local


def _typed(draw: st.DrawFn, groups: list[str]) -> str:
    separator = draw(st.sampled_from(["", " ", "-", "－", "　"]))
    typed = separator.join(groups)
    return typed.translate(_FULL_WIDTH) if draw(st.booleans()) else typed


def _assert_gone(masked: str, number: str) -> None:
    """The whole number appears nowhere, however the remaining digits are read."""
    folded = re.sub(r"[^0-9X]", "", masked.translate(str.maketrans("０１２３４５６７８９Ｘ",
                                                                    "0123456789X")))
    assert number not in folded


@settings(max_examples=300, deadline=None)
@given(before=_CHINESE, after=_CHINESE, number=mobiles(), data=st.data())
def test_a_mobile_number_in_chinese_text_is_masked(before: str, after: str, number: str,
                                                    data: st.DataObject) -> None:
    layout = data.draw(st.sampled_from([[number], [number[:3], number[3:7], number[7:]]]))
    prefix = data.draw(st.sampled_from(["", "+86 ", "+86-", "0086", "86"]))
    text = f"{before}{prefix}{_typed(data.draw, layout)}{after}"
    spans = find_personal_numbers(text)
    assert [(s.kind, s.number) for s in spans] == [("mobile", number)]
    masked = mask_personal_numbers(text)
    assert f"{number[:3]}****{number[-4:]}" in masked
    assert masked.startswith(before)
    assert masked.endswith(after)
    _assert_gone(masked, number)


@settings(max_examples=300, deadline=None)
@given(before=_CHINESE, after=_CHINESE, number=id_numbers(), data=st.data())
def test_an_id_number_in_chinese_text_is_masked(before: str, after: str, number: str,
                                                data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        number = number[:17] + str((int(number[17]) + 1) % 10) if number[17] != "X" \
            else number[:17] + "0"  # a mistyped check digit is still someone's ID
    layout = data.draw(st.sampled_from([[number], [number[:6], number[6:14], number[14:]]]))
    text = f"{before}{_typed(data.draw, layout)}{after}"
    spans = find_personal_numbers(text)
    assert [(s.kind, s.number) for s in spans] == [("id_number", number)]
    assert spans[0].check_digit_ok == (id_check_digit(number[:17]) == number[17])
    masked = mask_personal_numbers(text)
    assert mask_id_number(number) in masked
    _assert_gone(masked, number)


@settings(max_examples=200, deadline=None)
@given(before=_CHINESE, after=_CHINESE, data=st.data())
def test_an_old_fifteen_digit_id_number_is_masked(before: str, after: str,
                                                  data: st.DataObject) -> None:
    born = data.draw(st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)))
    number = "350623" + f"{born:%y%m%d}" + data.draw(_digits(3))
    text = f"{before}{_typed(data.draw, [number])}{after}"
    assert [(s.kind, s.number) for s in find_personal_numbers(text)] == [("id_number", number)]
    _assert_gone(mask_personal_numbers(text), number)


@settings(max_examples=200, deadline=None)
@given(before=_CHINESE, after=_CHINESE, landline=landlines(), data=st.data())
def test_a_landline_with_its_area_code_is_masked(before: str, after: str,
                                                 landline: tuple[str, str],
                                                 data: st.DataObject) -> None:
    area, local = landline
    typed = data.draw(st.sampled_from([f"{area}{local}", f"{area}-{local}", f"({area}){local}",
                                       f"{area} {local}"]))
    text = f"{before}{typed}{after}"
    assert [(s.kind, s.number) for s in find_personal_numbers(text)] \
        == [("landline", area + local)]
    _assert_gone(mask_personal_numbers(text), area + local)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80))
def test_masking_never_lengthens_a_text_and_masking_twice_changes_nothing(text: str) -> None:
    masked = mask_personal_numbers(text)
    assert len(masked) <= len(text)
    assert mask_personal_numbers(masked) == masked


@settings(max_examples=200, deadline=None)
@given(before=_CHINESE, number=st.integers(min_value=0, max_value=999_999),
       cents=st.integers(min_value=0, max_value=99))
def test_amounts_and_short_numbers_are_left_alone(before: str, number: int, cents: int) -> None:
    text = f"{before}损失{number}.{cents:02d}元，第{number}号，{number}户"
    assert mask_personal_numbers(text) == text


def test_realistic_numbers_that_are_not_personal_stay_untouched() -> None:
    for text in [
        "2026-12-06 下午3点，3栋2单元501室楼道堆放杂物",
        "案件编号 ZZ-20261126-000123，金额12345.67元",
        "快递单号 SF1234567890，订单号 202612061234567890",
        "坐标 24.512345,117.654321，建于2008年，共32层",
        "银行卡 6222 1381 2345 6789 012 被盗刷",
        "时间 14:30-16:00，温度 -5 度，占地 1200 平方米",
    ]:
        assert find_personal_numbers(text) == [], text


def test_numbers_people_type_are_masked_as_elsewhere() -> None:
    assert mask_personal_numbers("电话：138-1234-5678，身份证350623199001011234") \
        == "电话：138****5678，身份证350623********1234"
    assert mask_personal_numbers("请回电 +86 139 0000 1111") == "请回电 139****1111"
    assert mask_personal_numbers("手机１３９００００１１１１") == "手机139****1111"
    assert mask_personal_numbers("座机（0596）2345678 或 0596-23456789") \
        == "座机0596***5678 或 0596****6789"
    assert mask_personal_numbers("11010519491231002x 号") == "110105********002X 号"
    # Other scripts' digits are digits too (int() reads them; so does the detector).
    assert mask_personal_numbers("١٣٨١٢٣٤٥٦٧٨") == "138****5678"


def test_a_long_run_of_digit_groups_is_read_in_linear_time() -> None:
    text = "1 " * 2000 + "13812345678"
    assert mask_personal_numbers(text).endswith("138****5678")
