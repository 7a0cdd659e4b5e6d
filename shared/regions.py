"""Region codes (GB/T 2260 and below) as the scope unit. Code-shape rules only; the region tree
itself (names, which codes exist) belongs to the routing service.

- 6 digits: province (``350000``), city (``350600``) or county (``350623``)
- 9 digits: town (``350623100``); 12 digits: village/community; 15 digits: grid.
"""

from __future__ import annotations

import re
from typing import Literal

RegionLevel = Literal["province", "city", "county", "town", "community", "grid"]
LEVELS: tuple[RegionLevel, ...] = ("province", "city", "county", "town", "community", "grid")
# ASCII digits only (``\d`` also takes full-width and other scripts' digits), and the whole
# string (``$`` would also accept a trailing newline).
_CODE = re.compile(r"[0-9]{6}(?:[0-9]{3}(?:[0-9]{3}(?:[0-9]{3})?)?)?")


def is_region_code(code: str) -> bool:
    return bool(_CODE.fullmatch(code)) and not code.startswith("00")


_LEVEL_BY_LENGTH: dict[int, RegionLevel] = {9: "town", 12: "community", 15: "grid"}


def region_level(code: str) -> RegionLevel:
    if not is_region_code(code):
        raise ValueError(f"not a region code: {code!r}")
    if len(code) == 6:
        if code.endswith("0000"):
            return "province"
        if code.endswith("00"):
            return "city"
        return "county"
    return _LEVEL_BY_LENGTH[len(code)]


def descendant_prefix(code: str) -> str:
    """The code stem every region inside ``code`` starts with (city 350600 → 3506)."""
    level = region_level(code)
    if level == "province":
        return code[:2]
    if level == "city":
        return code[:4]
    return code


def covers(ancestor: str, code: str) -> bool:
    """True when ``code`` is ``ancestor`` or lies inside it."""
    if not (is_region_code(ancestor) and is_region_code(code)):
        return False
    return code.startswith(descendant_prefix(ancestor))


def parent(code: str) -> str | None:
    level = region_level(code)
    if level == "province":
        return None
    if level == "city":
        return code[:2] + "0000"
    if level == "county":
        return code[:4] + "00"
    return code[:-3]


def ancestors(code: str) -> list[str]:
    """From the code itself up to its province."""
    chain = [code]
    while (up := parent(chain[-1])) is not None:
        chain.append(up)
    return chain
