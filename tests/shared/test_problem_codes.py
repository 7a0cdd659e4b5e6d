"""One vocabulary of problem codes: every code the source raises is listed, with its meaning,
in shared/problem_codes.py, and every listed code is raised somewhere."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from shared.problem_codes import PROBLEM_CODES

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("shared", "services", "gateway")
CATALOG = ROOT / "shared" / "problem_codes.py"
# Calls whose second positional argument is a code: problem_response(status, code, detail).
CODE_SECOND = frozenset({"problem_response", "problem_body", "_problem", "problem"})
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def _source_files() -> Iterator[Path]:
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" not in path.parts and path != CATALOG:
                yield path


def _called_name(call: ast.Call) -> str | None:
    return getattr(call.func, "id", None) or getattr(call.func, "attr", None)


def _codes_in(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                yield str(keyword.value.value)
        if _called_name(node) in CODE_SECOND and len(node.args) > 1:
            argument = node.args[1]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                yield argument.value


def _raised_codes() -> dict[str, list[str]]:
    raised: dict[str, list[str]] = {}
    for path in _source_files():
        for code in _codes_in(ast.parse(path.read_text(encoding="utf-8"))):
            raised.setdefault(code, []).append(str(path.relative_to(ROOT)))
    return raised


def _string_literals() -> set[str]:
    literals: set[str] = set()
    for path in _source_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.add(node.value)
    return literals


def test_every_code_the_services_raise_is_listed_with_its_meaning() -> None:
    unlisted = {code: paths for code, paths in _raised_codes().items()
                if code not in PROBLEM_CODES}
    assert unlisted == {}, "add these to shared/problem_codes.py"


def test_every_listed_code_is_raised_somewhere() -> None:
    literals = _string_literals()
    assert sorted(code for code in PROBLEM_CODES if code not in literals) == []


def test_codes_are_snake_case_and_each_has_a_meaning() -> None:
    assert [code for code in PROBLEM_CODES if not SNAKE.match(code)] == []
    assert [code for code, meaning in PROBLEM_CODES.items() if not meaning.strip()] == []


def test_the_retired_spellings_are_gone() -> None:
    retired = {"invalid_cursor", "bad_region_code", "region_code_invalid", "bad_window",
               "bad_slot", "invalid_pickup_code", "invalid_credentials"}
    assert sorted(retired & (set(_raised_codes()) | set(PROBLEM_CODES))) == []
