"""The console loads in Chromium from the gateway, under its CSP, without a single error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import ConsoleMessage, Page

from tests.web.conftest import ConsolePlatform

# Recorded by the page itself: a violation the browser only reports as an event is caught too.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


def test_the_console_loads_from_the_gateway_without_errors_or_csp_violations(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path]
) -> None:
    errors: list[str] = []
    page.on("console", lambda m: _record_error(errors, m))
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.add_init_script(RECORD_CSP_VIOLATIONS)

    answer = page.goto(console_platform.console_url, wait_until="networkidle")

    assert answer is not None
    assert answer.status == 200
    assert "script-src 'self';" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    # The app drew something of its own into the page (its root is not left empty).
    page.wait_for_function("document.body.innerText.trim().length > 0")
    screenshot(page, "console-first-page")
    assert page.evaluate("window.__cspViolations") == []
    assert errors == []


def test_the_browser_refuses_a_script_the_console_did_not_ship(
    page: Page, console_platform: ConsolePlatform
) -> None:
    """The policy is in force, not only sent: an injected inline script does not run, and
    the violation is reported as the first test listens for it."""
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.goto(console_platform.console_url, wait_until="networkidle")
    page.evaluate("""() => {
      const script = document.createElement('script');
      script.textContent = 'window.__injected = true';
      document.body.appendChild(script);
    }""")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__injected === undefined")
    assert page.evaluate("window.__cspViolations")[0].startswith("script-src")


def test_a_deep_link_opens_the_console_and_its_scripts_are_cached_for_good(
    console_platform: ConsolePlatform,
) -> None:
    """What the browser is served for a bookmarked case page, asked without a browser."""
    with httpx.Client(base_url=console_platform.base_url) as client:
        page = client.get("/console/cases/00000000-0000-0000-0000-000000000000")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-cache"
        scripts = [part.split('"', 1)[0] for part in page.text.split('src="')[1:]]
        assert scripts, "index.html loads no script"
        for src in scripts:
            script = client.get(src)
            assert script.status_code == 200, src
            assert script.headers["content-type"] == "text/javascript; charset=utf-8"
            assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert script.headers["content-encoding"] == "gzip"  # httpx asks for it


def _record_error(errors: list[str], message: ConsoleMessage) -> None:
    # Chromium asks for /favicon.ico by itself when a page names no icon; not the console's.
    if message.type == "error" and not message.location.get("url", "").endswith(
            "/favicon.ico"):
        errors.append(f"console: {message.text} ({message.location.get('url')})")
