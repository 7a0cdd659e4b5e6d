"""What the Chinese-texts tests share: a walk over an API answer that checks every label
(``*_label``, ``title``, ``note``, ``text`` and a refusal's ``detail``) reads Chinese."""

from __future__ import annotations

import re
from typing import Any

CHINESE = re.compile(r"[\u4e00-\u9fff]")
CODE = re.compile(r"[a-z_]+")
WORDED = ("_label", "_labels", "detail", "title", "note", "text")


def assert_worded_in_chinese(answer: Any, path: str = "") -> int:
    """Every worded value in ``answer``, however deep, is Chinese (a ``*_labels`` mapping:
    each of its values); answers how many were checked, so a test also sees there were some."""
    checked = 0
    if isinstance(answer, dict):
        for key, value in answer.items():
            if not (isinstance(key, str) and key.endswith(WORDED)) or value is None:
                checked += assert_worded_in_chinese(value, f"{path}.{key}")
                continue
            texts = list(value.values()) if isinstance(value, dict) else [value]
            for text in texts:
                assert isinstance(text, str), f"{path}.{key} is {text!r}"
                assert CHINESE.search(text), f"{path}.{key} reads {text!r}"
            checked += len(texts)
    elif isinstance(answer, list):
        for index, item in enumerate(answer):
            checked += assert_worded_in_chinese(item, f"{path}[{index}]")
    return checked
