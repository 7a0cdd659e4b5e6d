"""What the residents' pages cost a phone: the first screen's JavaScript and CSS, gzipped, and
the time until the report form can be used on a slow 3G connection. Printed (run with -s) for
the closing note; the size is held to the 150 KB budget."""

from __future__ import annotations

import gzip
import re
import uuid
from collections.abc import Callable

from playwright.sync_api import BrowserContext, Page, Response, expect

from tests.web.conftest import ConsolePlatform
from tests.web.h5.conftest import authorises_in_wechat

FIRST_SCREEN_BUDGET_KB = 150
KB = 1024
# Chrome DevTools' "Slow 3G": 400 kbit/s (≈50 KB/s) each way; its round trip was 400 ms in the
# older preset and is 2000 ms in newer Chrome. Both are measured.
SLOW_3G_THROUGHPUT = 50 * KB
SLOW_3G_LATENCIES_MS = (400, 2000)
FORM_READY = "[data-test=report-form][data-ready=true]"


def scripts_and_styles(page: Page, path: str) -> dict[str, bytes]:
    """The JavaScript and CSS files the page at ``path`` loads, by URL, with their bodies."""
    seen: list[Response] = []

    def record(response: Response) -> None:
        seen.append(response)

    page.on("response", record)
    page.goto(path, wait_until="networkidle")
    page.remove_listener("response", record)
    return {r.url: r.body() for r in seen
            if re.search(r"/h5/assets/[^?]+\.(js|css)$", r.url) and r.ok}


def gzipped_kb(files: dict[str, bytes]) -> float:
    return sum(len(gzip.compress(body, compresslevel=9)) for body in files.values()) / KB


def ready_after_ms(page: Page, latency_ms: int) -> float:
    """Opens the report form anew (nothing cached) on an emulated slow 3G link: milliseconds
    from the navigation's start until the form is usable (categories in, submit enabled)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": latency_ms,
        "downloadThroughput": SLOW_3G_THROUGHPUT, "uploadThroughput": SLOW_3G_THROUGHPUT})
    try:
        page.goto("/h5/report", wait_until="commit")
        expect(page.locator(FORM_READY)).to_be_visible(timeout=120_000)
        expect(page.locator("[data-test=report-submit]")).to_be_enabled()
        return float(page.evaluate("performance.now()"))
    finally:
        cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        cdp.detach()


def test_the_first_screen_is_light_and_the_report_form_is_usable_on_slow_3g(
    wechat_phone: Callable[[], BrowserContext], console_platform: ConsolePlatform,
) -> None:
    page = wechat_phone().new_page()
    first_screen = scripts_and_styles(page, "/h5/")
    expect(page.locator("[data-test=home-report]")).to_be_visible()
    size_kb = gzipped_kb(first_screen)
    raw_kb = sum(len(body) for body in first_screen.values()) / KB
    print(f"\n[h5] first screen (/h5/): {len(first_screen)} JS/CSS files, {raw_kb:.1f} KB raw, "
          f"{size_kb:.1f} KB gzipped (level 9); budget {FIRST_SCREEN_BUDGET_KB} KB")

    page.locator("[data-test=home-report]").click()
    authorises_in_wechat(page, f"h5{uuid.uuid4().hex[:10]}")
    expect(page.locator(FORM_READY)).to_be_visible()
    report_kb = gzipped_kb(scripts_and_styles(page, "/h5/report"))
    print(f"[h5] report form (/h5/report, signed in): {report_kb:.1f} KB gzipped JS/CSS")
    for latency in SLOW_3G_LATENCIES_MS:
        ms = ready_after_ms(page, latency)
        print(f"[h5] report form usable after {ms:.0f} ms on Slow 3G (Chromium CDP "
              f"Network.emulateNetworkConditions: latency {latency} ms, down/up "
              f"{SLOW_3G_THROUGHPUT // KB} KB/s, cache disabled)")
    assert size_kb <= FIRST_SCREEN_BUDGET_KB
