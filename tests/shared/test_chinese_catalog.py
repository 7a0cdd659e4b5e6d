"""The one message catalog (shared/i18n/zh_CN.py) is Simplified Chinese throughout: a text
added in English (for relief, booking or anything else) fails here, as does a label table
whose keys are not codes. The walk the services' Chinese-texts tests run over their answers
catches an English label."""

from __future__ import annotations

import re
from typing import Any, get_args

import pytest

from shared.contracts.routing import UnitLevel
from shared.i18n import zh_CN
from shared.regions import LEVELS
from tests.shared.chinese import CHINESE, CODE, assert_worded_in_chinese

# Catalog texts that are rightly not Chinese: a brand name, and the notice kinds (codes)
# that a resident notice's words are paired with.
NOT_CHINESE = frozenset({"QQ"})
KIND_CODES = re.compile(r"CASE_NOTICE_STEPS\['\w+'\]\[0\]|CASE_CLOSED_STEP\[0\]")
PLACEHOLDER = re.compile(r"\{\w+\}")


def _texts(value: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _texts(v, f"{where}[{k!r}]")]
    if isinstance(value, (tuple, list)):
        return [t for i, v in enumerate(value) for t in _texts(v, f"{where}[{i}]")]
    return []


def _catalog() -> dict[str, Any]:
    return {name: value for name, value in vars(zh_CN).items()
            if name.isupper() and not name.startswith("_")}


def test_every_text_of_the_catalog_is_chinese() -> None:
    texts = [t for name, value in _catalog().items() for t in _texts(value, name)]
    assert len(texts) > 150
    english = [
        (where, text) for where, text in texts
        if not CHINESE.search(text) and text not in NOT_CHINESE
        and not KIND_CODES.fullmatch(where)
        # a pattern of placeholders and Chinese punctuation ("{label}：{why}")
        and re.search(r"[A-Za-z]", PLACEHOLDER.sub("", text))
    ]
    assert english == []


def test_every_label_table_is_keyed_by_codes() -> None:
    tables = {name: value for name, value in _catalog().items() if isinstance(value, dict)}
    assert {"RELIEF_STATUS_LABELS", "BOOKING_STATUS_LABELS", "STATUS_LABELS"} <= set(tables)
    for name, table in tables.items():
        for key in table:
            # An agency's step titles are keyed by a pattern of codes ("approved_by_{agency}").
            assert CODE.fullmatch(key.replace("{agency}", "x")), (name, key)


def test_relief_and_booking_texts_are_in_the_catalog() -> None:
    names = set(_catalog())
    for prefix in ("RELIEF_", "BOOKING_"):
        assert len([n for n in names if n.startswith(prefix)]) >= 8, prefix


def test_staff_notice_texts_and_the_region_levels_are_in_the_catalog() -> None:
    names = set(_catalog())
    assert len([n for n in names if n.startswith("STAFF_NOTICE_")]) >= 8
    # One table names every level: of a region (shared.regions) and of a unit (routing's).
    assert set(zh_CN.REGION_LEVEL_LABELS) == set(LEVELS)
    assert set(get_args(UnitLevel)) <= set(zh_CN.REGION_LEVEL_LABELS)


def test_the_answer_walk_catches_an_english_label() -> None:
    assert assert_worded_in_chinese({"items": [{"status_label": "已预约", "note": None}],
                                     "action_labels": {"accept": "受理"}}) == 2
    with pytest.raises(AssertionError, match="status_label"):
        assert_worded_in_chinese({"items": [{"status_label": "confirmed"}]})
    with pytest.raises(AssertionError, match="action_labels"):
        assert_worded_in_chinese({"action_labels": {"accept": "accept"}})
    with pytest.raises(AssertionError, match="note"):
        assert_worded_in_chinese({"steps": [{"note": "public notice until 2026-03-09"}]})
