"""The built console fits the gateway's CSP (script-src 'self', no 'unsafe-eval') by
construction: no inline script in index.html, no eval or Function constructor in any chunk."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.console import ConsoleSettings

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.DOTALL | re.IGNORECASE)
EVAL = re.compile(r"\beval\s*\(|\bnew\s+Function\s*\(|\bFunction\s*\(\s*['\"]")


def inline_scripts(html: str) -> list[str]:
    return [body.strip()[:80] for attrs, body in SCRIPT_TAG.findall(html)
            if "src=" not in attrs or body.strip()]


def evaluating(source: str) -> list[str]:
    return [source[max(0, m.start() - 40):m.end() + 40] for m in EVAL.finditer(source)]


def test_the_built_console_has_no_inline_script_and_no_eval() -> None:
    dist: Path = ConsoleSettings().dist_dir
    assert inline_scripts((dist / "index.html").read_text(encoding="utf-8")) == []
    chunks = sorted((dist / "assets").glob("*.js"))
    assert chunks, "the build has no script chunks"
    found = {chunk.name: hits for chunk in chunks
             if (hits := evaluating(chunk.read_text(encoding="utf-8")))}
    assert found == {}


def test_the_checks_would_notice_an_inline_script_or_an_eval() -> None:
    assert inline_scripts('<script type="module" src="/a.js"></script><script>go()</script>') \
        == ["go()"]
    assert evaluating("x=1;new Function('return this')();") != []
    assert evaluating("const evaluated = retrieval(x)") == []
