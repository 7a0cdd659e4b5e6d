"""The web apps (staff console, grid workers' app) in real Chromium: the harness every test
in tests/web shares.

What a test gets (the contract with the console's tests):

- ``console_platform`` (session): the whole platform (every service, the partner API and the
  gateway serving the built console) listening on a real loopback socket, on real PostgreSQL
  and RabbitMQ (``DATABASE_URL``/``AMQP_URL``) with a fresh schema and queue prefix, identity
  talking to loopback stand-ins of WeChat and the real-name provider through its real HTTP
  clients, and a bootstrapped admin (``ADMIN_USERNAME``/``ADMIN_PASSWORD``). It has
  ``base_url`` ("http://127.0.0.1:<port>"), ``console_url`` (base_url + "/console/") and
  ``api``, a synchronous helper that prepares data through the public API as a test would
  (``ConsoleApi``: ``sign_in``, ``create_unit``, ``create_staff``, ``resident_signs_in``,
  ``upload``, ``resident_reports_event`` ...). It runs in a background thread of the test
  process, started once per session and stopped at its end.
- pytest-playwright's ``page``/``context``/``browser`` on Debian's ``/usr/bin/chromium``
  (Playwright's own browser download never runs), headless, zh-CN, Asia/Shanghai, 1440×900,
  with ``base_url`` set to the platform's, so ``page.goto("/console/")`` works.
- ``screenshot(page, name)`` saves ``tests/web/screenshots/<name>.png`` (git-ignored).
- ``phone(lat, lng)``: a new browser context like a grid worker's phone (390×844, touch,
  mobile, zh-CN, Asia/Shanghai), geolocation allowed and mocked at (lat, lng) (move it with
  ``context.set_geolocation``), the platform's base URL set, so ``page.goto("/grid/")``
  opens the grid workers' app (``console_platform.grid_url``); closed after the test.

Every test here skips, saying why, where /usr/bin/chromium is missing (``make browser``
installs it), unless ``EHOME_REQUIRE_BROWSER=1`` (CI), where it fails; and every test fails
when the console or the grid app is not built (``make console``, ``make grid``; ``make
test`` builds them first).

Sync Playwright and the suite's asyncio fixtures take turns in the main thread: Playwright
marks its event loop as the thread's running loop between its calls, and pytest-asyncio
refuses to run a fixture while a loop runs. So the session's asyncio fixtures this harness
needs are set up before Playwright starts (``console_platform`` is autouse here), and the
mark is lifted at the end of each phase of a console test and put back at the start of the
next one (``_playwright_loop``), and before Playwright closes the browser at the session's
end. The asyncio tests that run after the console's see no running loop. The platform's own
loop lives in its thread.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

from gateway.console import ConsoleSettings
from gateway.embedded import assemble_gateway, build_service_apps
from gateway.grid_app import GridSettings
from gateway.server import guarded_protocol
from gateway.settings import GatewaySettings
from services.identity.realname import HttpRealNameProvider
from services.identity.wechat import HttpWeChat, WebApp
from shared.auth.tokens import TokenVerifier, generate_signing_key
from shared.db.migrate import SERVICES, schema_name, upgrade
from shared.testing.live_server import serving
from shared.testing.plugin import AUDIENCE, ISSUER, PLAN_CACHE_MODE, Migrator
from tests.identity.conftest import RealNameStandIn, WeChatStandIn, unique_id_number

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "Console-admin-2026!"
STAFF_PASSWORD = "Console-staff-2026!"
VIEWPORT = {"width": 1440, "height": 900}
PHONE_VIEWPORT: ViewportSize = {"width": 390, "height": 844}
STARTED_WITHIN_SECONDS = 120
ADMIN_TOKEN_REUSE_SECONDS = 600
# Seeded reference data (Zhangzhou): a category and a grid of 漳浦县绥安社区 whose reports
# routing assigns to 绥安社区居委会 (unit_of_kind("350623100001", "community")).
DEFAULT_CATEGORY = "dispute_neighbour"
DEFAULT_REGION = "350623100001001"


def _browser_required() -> bool:
    return os.environ.get("EHOME_REQUIRE_BROWSER", "") not in ("", "0", "false")


@pytest.fixture(scope="session", autouse=True)
def _chromium_and_build() -> None:
    """Before anything starts: a browser to drive, and the web apps to drive it to."""
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM}: `make browser` installs Debian's"
        if _browser_required():
            pytest.fail(f"{reason} (EHOME_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    dist = ConsoleSettings().dist_dir
    if not (dist / "index.html").is_file():
        pytest.fail(f"the console is not built ({dist}/index.html missing): run `make console`")
    grid = GridSettings().dist_dir
    if not (grid / "index.html").is_file():
        pytest.fail(f"the grid app is not built ({grid}/index.html missing): run `make grid`")


# -- the platform ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reported:
    """A resident's report as the mini-program is answered."""

    id: str
    case_no: str
    resident_token: str


class ConsoleApi:
    """Prepares data through the public API, as the mini-program or an admin's script would.

    Synchronous (httpx), for sync Playwright tests; every call checks its status and answers
    the JSON. ``admin_token`` is the bootstrapped admin's."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self._admin_token: tuple[str, float] | None = None  # (token, reuse until)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, token: str | None = None, *, status: int = 200,
             **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.request(method, path, headers=headers, **kwargs)
        assert response.status_code == status, (
            f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    # -- staff --------------------------------------------------------------------------------

    def sign_in(self, username: str, password: str = STAFF_PASSWORD) -> str:
        pair = self.call("POST", "/api/v1/identity/staff-login",
                         json={"username": username, "password": password})
        return str(pair["access_token"])

    @property
    def admin_token(self) -> str:
        """Signed in again well before the 15-minute access token runs out."""
        if self._admin_token is None or time.monotonic() > self._admin_token[1]:
            token = self.sign_in(ADMIN_USERNAME, ADMIN_PASSWORD)
            self._admin_token = (token, time.monotonic() + ADMIN_TOKEN_REUSE_SECONDS)
        return self._admin_token[0]

    def create_unit(self, name: str, *, kind: str = "town_office", region_code: str,
                    categories: list[str] | None = None) -> str:
        """A unit of the directory (POST /api/v1/routing/units, as the admin); its id."""
        created = self.call("POST", "/api/v1/routing/units", self.admin_token, status=201,
                            json={"name": name, "kind": kind, "region_code": region_code,
                                  "categories": categories or []})
        return str(created["id"])

    def units(self, region_code: str) -> list[dict[str, Any]]:
        """The directory's units in a region (as the admin lists them)."""
        return list(self.call("GET", "/api/v1/routing/units", self.admin_token,
                              params={"region": region_code})["items"])

    def unit_of_kind(self, region_code: str, kind: str) -> str:
        [unit] = [u for u in self.units(region_code)
                  if u["kind"] == kind and u["region_code"] == region_code]
        return str(unit["id"])

    def create_staff(self, unit_id: str | None, roles: list[str], username: str | None = None,
                     password: str = STAFF_PASSWORD, regions: list[str] | None = None, *,
                     display_name: str | None = None, agency: str | None = None) -> str:
        """A staff account made by the admin (POST /api/v1/identity/staff): of ``unit_id``
        (None for dispatchers, supervisors, grid workers, reviewers ...), scoped to
        ``regions``; its username (generated when not given). Sign in with ``sign_in``."""
        username = username or f"staff-{uuid.uuid4().hex[:10]}"
        body: dict[str, Any] = {
            "username": username, "password": password, "roles": roles,
            "regions": regions or [], "departments": [unit_id] if unit_id else [],
            "display_name": display_name or username,
        }
        if agency is not None:
            body["agency"] = agency
        self.call("POST", "/api/v1/identity/staff", self.admin_token, status=201, json=body)
        return username

    # -- residents (playing the mini-program) --------------------------------------------------

    def resident_signs_in(self, openid: str | None = None, *, verified: bool = True) -> str:
        """A resident logs in through WeChat (the stand-in answers openid ``o-<code>``) and,
        when ``verified``, passes real-name verification; their access token."""
        code = openid or f"r{uuid.uuid4().hex[:12]}"
        token = self._wechat_login(code)
        if not verified:
            return token
        self.call("POST", "/api/v1/identity/me/verification", token,
                  json={"name": "张三", "id_number": unique_id_number("350623")})
        deadline = time.monotonic() + 15
        while self.call("GET", "/api/v1/identity/me", token).get("verified") is not True:
            assert time.monotonic() < deadline, "the resident was not verified within 15 s"
            time.sleep(0.2)
        return self._wechat_login(code)  # a token carrying the verified claim

    def _wechat_login(self, code: str) -> str:
        return str(self.call("POST", "/api/v1/identity/wechat-login",
                             json={"code": code})["access_token"])

    def upload(self, token: str, content: bytes, filename: str, content_type: str) -> str:
        """An attachment (photo or video) uploaded as the mini-program does; its id."""
        stored = self.call("POST", "/api/v1/events/attachments", token, status=201,
                           files={"file": (filename, content, content_type)})
        return str(stored["id"])

    def resident_reports_event(
        self, description: str = "楼上住户深夜噪音扰民，多次沟通无果", *,
        category_code: str = DEFAULT_CATEGORY, region_code: str = DEFAULT_REGION,
        address: str | None = "绥安镇中山路18号", fields: dict[str, Any] | None = None,
        location: dict[str, float] | None = None, photos: int = 0, video: bool = False,
        attachments: list[str] | None = None, resident_token: str | None = None,
    ) -> Reported:
        """A resident reports an event through the mini-program's API (retried while events
        has not yet learnt a region the test just opened); ``photos`` sample PNGs and, with
        ``video``, a playable micro-video (``SAMPLE_MP4``) attached."""
        token = resident_token or self.resident_signs_in()
        ids = list(attachments or [])
        ids += [self.upload(token, sample_png(), f"photo-{n}.png", "image/png")
                for n in range(photos)]
        if video:
            ids.append(self.upload(token, SAMPLE_MP4, "video.mp4", "video/mp4"))
        body: dict[str, Any] = {"category_code": category_code, "description": description,
                                "region_code": region_code, "address": address,
                                "fields": fields or {}, "attachments": ids}
        if location is not None:
            body["location"] = location
        deadline = time.monotonic() + 15
        while True:
            response = self.http.post("/api/v1/events", json=body,
                                      headers={"Authorization": f"Bearer {token}"})
            unknown = response.status_code == 422 and response.json().get("code") == (
                "region_unknown")
            if not unknown or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert response.status_code == 201, response.text
        created = response.json()
        return Reported(id=str(created["id"]), case_no=str(created["case_no"]),
                        resident_token=token)

    def case(self, event_id: str, token: str | None = None) -> dict[str, Any]:
        """The case as ``token`` (default: the admin) reads it."""
        return dict(self.call("GET", f"/api/v1/events/{event_id}", token or self.admin_token))

    def wait_assigned(self, event_id: str, unit_id: str | None = None) -> str:
        """Wait until routing has assigned the case (to ``unit_id``, when given); its unit."""
        def assigned() -> bool:
            unit = (self.case(event_id).get("assignee") or {}).get("unit_id")
            return unit is not None and (unit_id is None or str(unit) == unit_id)

        self.wait_until(assigned, what=f"case {event_id} assigned")
        return str(self.case(event_id)["assignee"]["unit_id"])

    def resident_rates(self, reported: Reported, rating: str = "satisfied",
                       comment: str = "处理及时，谢谢") -> None:
        """The reporter rates the closed case (once feedback has learnt it closed)."""
        def rated() -> bool:
            response = self.http.post(
                "/api/v1/feedback/ratings",
                json={"event_id": reported.id, "rating": rating, "comment": comment},
                headers={"Authorization": f"Bearer {reported.resident_token}"})
            return response.status_code == 201

        self.wait_until(rated, what=f"rating of {reported.case_no} accepted")

    def wait_until(self, predicate: Callable[[], bool], *, within: float = 15.0,
                   what: str = "condition") -> None:
        """Poll ``predicate`` (events travel through RabbitMQ) until it holds."""
        deadline = time.monotonic() + within
        while not predicate():
            assert time.monotonic() < deadline, f"{what} not met within {within} s"
            time.sleep(0.1)


# A real two-second H.264 clip (96×72, 2.7 KB) that Chromium plays, for micro-video reports:
#   ffmpeg -f lavfi -i testsrc=size=96x72:rate=10:duration=2 -c:v libx264 -profile:v baseline
#          -pix_fmt yuv420p -crf 45 -movflags +faststart sample.mp4
SAMPLE_MP4 = base64.b64decode(
    "AAAAIGZ0eXBpc29tAAACAGlzb21pc28yYXZjMW1wNDEAAAN2bW9vdgAAAGxtdmhkAAAAAAAAAAAAAAAAAAAD6AAAB9AA"
    "AQAAAQAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAgAAAqB0cmFrAAAAXHRraGQAAAADAAAAAAAAAAAAAAABAAAAAAAAB9AAAAAAAAAAAAAAAAAAAAAAAAEA"
    "AAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAABAAAAAAGAAAABIAAAAAAAkZWR0cwAAABxlbHN0AAAAAAAAAAEAAAfQ"
    "AAAAAAABAAAAAAIYbWRpYQAAACBtZGhkAAAAAAAAAAAAAAAAAAAoAAAAUABVxAAAAAAALWhkbHIAAAAAAAAAAHZpZGUA"
    "AAAAAAAAAAAAAABWaWRlb0hhbmRsZXIAAAABw21pbmYAAAAUdm1oZAAAAAEAAAAAAAAAAAAAACRkaW5mAAAAHGRyZWYA"
    "AAAAAAAAAQAAAAx1cmwgAAAAAQAAAYNzdGJsAAAAu3N0c2QAAAAAAAAAAQAAAKthdmMxAAAAAAAAAAEAAAAAAAAAAAAA"
    "AAAAAAAAAGAASABIAAAASAAAAAAAAAABFUxhdmM1OS4zNy4xMDAgbGlieDI2NAAAAAAAAAAAAAAAGP//AAAAMWF2Y0MB"
    "QsAK/+EAGGdCwArZBi/lwEQAAAMABAAAAwBQPEiZIAEABmjLgE0sgAAAABBwYXNwAAAAAQAAAAEAAAAUYnRydAAAAAAA"
    "ABxkAAAcZAAAABhzdHRzAAAAAAAAAAEAAAAUAAAEAAAAABRzdHNzAAAAAAAAAAEAAAABAAAAHHN0c2MAAAAAAAAAAQAA"
    "AAEAAAAUAAAAAQAAAGRzdHN6AAAAAAAAAAAAAAAUAAAEiQAAACgAAAAhAAAAFwAAAB0AAAAkAAAAJgAAABoAAAAkAAAA"
    "NQAAAC0AAAAsAAAAIQAAABsAAAAsAAAAGgAAACMAAAAiAAAAGAAAAB4AAAAUc3RjbwAAAAAAAAABAAADpgAAAGJ1ZHRh"
    "AAAAWm1ldGEAAAAAAAAAIWhkbHIAAAAAAAAAAG1kaXJhcHBsAAAAAAAAAAAAAAAALWlsc3QAAAAlqXRvbwAAAB1kYXRh"
    "AAAAAQAAAABMYXZmNTkuMjcuMTAwAAAACGZyZWUAAAchbWRhdAAAAnEGBf//bdxF6b3m2Ui3lizYINkj7u94MjY0IC0g"
    "Y29yZSAxNjQgcjMwOTUgYmFlZTQwMCAtIEguMjY0L01QRUctNCBBVkMgY29kZWMgLSBDb3B5bGVmdCAyMDAzLTIwMjIg"
    "LSBodHRwOi8vd3d3LnZpZGVvbGFuLm9yZy94MjY0Lmh0bWwgLSBvcHRpb25zOiBjYWJhYz0wIHJlZj0zIGRlYmxvY2s9"
    "MTowOjAgYW5hbHlzZT0weDE6MHgxMTEgbWU9aGV4IHN1Ym1lPTcgcHN5PTEgcHN5X3JkPTEuMDA6MC4wMCBtaXhlZF9y"
    "ZWY9MSBtZV9yYW5nZT0xNiBjaHJvbWFfbWU9MSB0cmVsbGlzPTEgOHg4ZGN0PTAgY3FtPTAgZGVhZHpvbmU9MjEsMTEg"
    "ZmFzdF9wc2tpcD0xIGNocm9tYV9xcF9vZmZzZXQ9LTIgdGhyZWFkcz0yIGxvb2thaGVhZF90aHJlYWRzPTEgc2xpY2Vk"
    "X3RocmVhZHM9MCBucj0wIGRlY2ltYXRlPTEgaW50ZXJsYWNlZD0wIGJsdXJheV9jb21wYXQ9MCBjb25zdHJhaW5lZF9p"
    "bnRyYT0wIGJmcmFtZXM9MCB3ZWlnaHRwPTAga2V5aW50PTI1MCBrZXlpbnRfbWluPTEwIHNjZW5lY3V0PTQwIGludHJh"
    "X3JlZnJlc2g9MCByY19sb29rYWhlYWQ9NDAgcmM9Y3JmIG1idHJlZT0xIGNyZj00NS4wIHFjb21wPTAuNjAgcXBtaW49"
    "MCBxcG1heD02OSBxcHN0ZXA9NCBpcF9yYXRpbz0xLjQwIGFxPTE6MS4wMACAAAACEGWIhH/8P+Oig/F/iTwCQlGVZawe"
    "GxAkLGyC774SD+GuG/RLw0MEAgAnBdBj8bvzwJHPBMvon34HjIoMAKYNDECBfd74WMSFiMw0AAaTBoAAgQxAze8SFiJC"
    "x/n4Bw0Lvhn3ZbhKDECAJwc6ERf13owJxUwZHLr/w9Kp8FeKeBgGQIQAC68yViQ2MAK/pGOfvv+wttDEGECBpFi6oxy+"
    "OpmX6X8tT4Op5mK/plp4WZf/+Eb3mnvP0JV9viQ7pT+Cdj8fBV3f6FT/5zHP//DVF9PT0/4fxfYcx2hKEPf/a8sN5iET"
    "G3JvBqcsc6F//whdv38UAflDDXmysexhIWFEAQiNoFUvCZCzLE9MrU8i0YG9QdoQAI2z/qA8M0tZwjgH+QNn7VcCUjsD"
    "G6Dk0O/HfiO5Wt8Lf/hh//y5y4/v4YAjogykDSOWDpDtF2DEpYvLUXfAP/4b764dkAZSDpDllZy/K3Ldt34N4/w34Zda"
    "vhhiwMJiIt+zlQTcuis5f/wGH/DQkUH74iACiAAFRcXi8HhsQeGxXOIY/oFkV8DQDAwQC/FCMv688AGKakBkfm3+P3BZ"
    "IDkiAGmBkQ0MCySMs7GWcDsFSMOwVIxWBwFQEoBrAAEDEDQRsVxXB0JiDoTEA5F8pUCzPpswuAYgQCR2govY+AIxuwIi"
    "XLFXMMA/+CuKYvgKgcAAuQ5fF5cNiPDYwAAAACRBmjj7eJ8ZleN8mV43yb6EfpdrWX/9W+rViELesR4isQJ1rWsAAAAd"
    "QZpUPhNWCJoQ5+clKvTNv9FMmvCxVY/WJltSpPAAAAATQZph8KehT/rdl/xH1+vv1GKTwAAAABlBmoHwmvDViObK/1+p"
    "UyfpeFutar16XhC4AAAAIEGaofCfoQ9eeZLZd/l/wpwQ8uFz7X6xMvZ5ULGmbfzwAAAAIkGaw8J+GzVr/6Zt68NVi1+s"
    "Y/Pb5dLvf55ePEO/4JNa/ngAAAAWQZrjwmvCX9GMul4Mq0S1f6lRP1KpPAAAACBBmwPHnZRhMlL/+cUbrYq/68d/Vq8L"
    "+bFmvKvm2u+67gAAADFBmyPCfnNoxRt3GpaqX/zzL+7b68d9VTKEcMPCdArBs5bdmQOkHL/88VzgNS4//mmgAAAAKUGb"
    "QXF+bgkznMYmbsVKrpi60zNlumvr0SlS9Et+vv0cqZf/C1eu/4QuAAAAKEGbYXCfghJmy/542kul3+EsvMgcdl93AjLI"
    "rX9vxk9vtj1z/XteEs8AAAAdQZuBcJ+CQl75Kl60y5Kt+pU/CvmzNl5tKa/fCkkAAAAXQZugnCfnJf5tT3+pkr15z9F7"
    "XhiiMngAAAAoQZvAnCfYIyXuUlXzzLfNu9eHoId7sfnxvl3X55VKZt/+elXm02vJ4AAAABZBm+DcJ+pv+jVXgjLWpZl9"
    "Sprw1XKeAAAAH0GaANwn6Ilf1MijL+WHOc6QPLpd/oxUy/+FqlF+rzwAAAAeQZogRwn55kUIz//7Dm9zKt0u//WTL68B"
    "v179UqPAAAAAFEGaQFcJ+tfrc/Vq9f/gm5srXvPAAAAAGkGaYGcJ+pk14ar4/VMvqVWrwZT2m1P/6pUe"
)


def sample_png(width: int = 320, height: int = 240, color: tuple[int, int, int] = (46, 125, 50)
               ) -> bytes:
    """A real PNG (a photo stand-in) the browser can draw."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class ConsolePlatform:
    base_url: str
    console_url: str
    api: ConsoleApi
    prefix: str  # of this platform's schemas and queues
    wechat: WeChatStandIn
    realname: RealNameStandIn

    @property
    def grid_url(self) -> str:
        """The grid workers' app."""
        return f"{self.base_url}/grid/"

    @property
    def h5_url(self) -> str:
        """The residents' web pages (opened from the WeChat official account's menu)."""
        return f"{self.base_url}/h5/"


class _PlatformThread(threading.Thread):
    """Runs the platform on its own event loop until ``stop``; ``base_url`` once serving."""

    def __init__(self, *, database_url: str, amqp_url: str, prefix: str) -> None:
        super().__init__(name="console-platform", daemon=True)
        self.database_url, self.amqp_url, self.prefix = database_url, amqp_url, prefix
        self.wechat, self.realname = WeChatStandIn(), RealNameStandIn()
        self.base_url = ""
        self.started = threading.Event()
        self.failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.failure = exc
        finally:
            self.started.set()  # wakes a waiter even when start-up failed

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    async def _main(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        for service in (*SERVICES, "partner"):
            await upgrade(self.database_url, service, schema_name(service, self.prefix),
                          plan_cache_mode=PLAN_CACHE_MODE)
        async with AsyncExitStack() as stack:
            wechat_url = await stack.enter_async_context(_aiohttp(self.wechat.app()))
            realname_url = await stack.enter_async_context(_aiohttp(self.realname.app()))
            gateway = self._gateway(wechat_url, realname_url)
            settings = GatewaySettings()
            self.base_url = await stack.enter_async_context(serving(
                gateway, lifespan="on",
                http=guarded_protocol(settings.header_timeout_seconds,
                                      settings.body_timeout_seconds)))
            self.started.set()
            await self._stopping.wait()

    def _gateway(self, wechat_url: str, realname_url: str) -> Any:
        key = generate_signing_key()
        verifier = TokenVerifier([key.public_key], issuer=ISSUER, audience=AUDIENCE)
        identity = {
            "wechat": HttpWeChat(
                base_url=wechat_url, app_id="wx-console-tests",
                app_secret="console-tests-secret", backoff_seconds=0.01,
                # The 公众号 of the residents' pages; its authorisation page is the stand-in's.
                web=WebApp(app_id="wx-h5-tests", app_secret="h5-tests-secret",
                           authorize_url=f"{wechat_url}/connect/oauth2/authorize")),
            "realname": HttpRealNameProvider(base_url=realname_url, timeout_seconds=3),
        }
        apps = build_service_apps(
            database_url=self.database_url, amqp_url=self.amqp_url, signing_key=key,
            verifier=verifier,
            settings_overrides={
                "environment": "test", "schema_prefix": self.prefix,
                "amqp_prefix": self.prefix, "outbox_poll_seconds": 0.2,
                "db_plan_cache_mode": PLAN_CACHE_MODE,
                "bootstrap_admin_password": ADMIN_PASSWORD,
                "verify_worker_poll_seconds": 0.2,
                # Cheap password hashing: the cost parameters are configuration.
                "argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1,
            },
            wiring_overrides={"identity": identity},
        )
        settings = GatewaySettings(environment="test", rate_limit_per_second=1000,
                                   rate_limit_burst=1000)
        return assemble_gateway(settings, apps, verifier)


@asynccontextmanager
async def _aiohttp(app: web.Application) -> AsyncIterator[str]:
    """A stand-in served on 127.0.0.1 at a free port; its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # started
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture(scope="session", autouse=True)
def console_platform(
    _chromium_and_build: None, database_url: str, amqp_url: str, run_prefix: str,
    migrator: Migrator,
) -> Iterator[ConsolePlatform]:
    """The whole platform on a loopback socket, once per session (see the module's text).
    Autouse, so that it and the asyncio fixtures it needs are set up before Playwright."""
    prefix = f"{run_prefix}c{uuid.uuid4().hex[:5]}"
    migrator.drop_at_end(*SERVICES, "partner", prefix=prefix)  # dropped with the run's
    thread = _PlatformThread(database_url=database_url, amqp_url=amqp_url, prefix=prefix)
    thread.start()
    if not thread.started.wait(STARTED_WITHIN_SECONDS) or thread.failure or not thread.base_url:
        thread.stop()
        raise RuntimeError(f"the console platform did not start: {thread.failure!r}")
    api = ConsoleApi(thread.base_url)
    try:
        yield ConsolePlatform(base_url=thread.base_url,
                              console_url=f"{thread.base_url}/console/", api=api,
                              prefix=prefix, wechat=thread.wechat, realname=thread.realname)
    finally:
        api.close()
        thread.stop()
        thread.join(60)
        if thread.is_alive():
            raise RuntimeError("the console platform did not stop within 60 s")
        if thread.failure is not None:
            raise RuntimeError("the console platform failed") from thread.failure


# -- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, never a downloaded one."""
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "headless": True}


@pytest.fixture(scope="session")
def base_url(console_platform: ConsolePlatform) -> str:
    """pytest-playwright gives every context this base URL: ``page.goto("/console/")``."""
    return console_platform.base_url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "locale": "zh-CN", "timezone_id": "Asia/Shanghai",
            "viewport": VIEWPORT}


@pytest.fixture(scope="session")
def browser(browser: Browser) -> Iterator[Browser]:
    """pytest-playwright's browser; at the session's end Playwright's loop mark goes back
    before pytest-playwright closes it (the session may end in a test outside this folder)."""
    yield browser
    _playwright_loop.resume()


@pytest.fixture(autouse=True)
def _delete_released_rabbit_objects() -> None:
    """The suite's per-test broker clean-up is an asyncio fixture, which cannot run while
    Playwright's loop is marked running; nothing here releases a broker before the session
    ends, when the run's objects are deleted by prefix."""


class _PlaywrightLoop:
    """Lifts and restores the main thread's running-loop mark that sync Playwright sets."""

    def __init__(self) -> None:
        self.parked: asyncio.AbstractEventLoop | None = None

    def park(self) -> None:
        # asyncio's own low-level accessors: the mark is what Playwright itself sets.
        loop = asyncio._get_running_loop()
        if loop is not None:
            self.parked = loop
            asyncio._set_running_loop(None)

    def resume(self) -> None:
        loop = self.parked
        if loop is not None and not loop.is_closed() and asyncio._get_running_loop() is None:
            asyncio._set_running_loop(loop)


_playwright_loop = _PlaywrightLoop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    return (yield from _with_playwright_loop())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _with_playwright_loop())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    return (yield from _with_playwright_loop())


def _with_playwright_loop() -> Generator[None, None, None]:
    _playwright_loop.resume()
    try:
        yield
    finally:
        _playwright_loop.park()


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """``screenshot(page, "queue")`` → tests/web/screenshots/queue.png (whole page)."""

    def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def phone(browser: Browser, base_url: str) -> Iterator[Callable[[float, float], BrowserContext]]:
    """``phone(lat, lng)``: a context like a grid worker's phone, located at (lat, lng)."""
    opened: list[BrowserContext] = []

    def open_phone(lat: float, lng: float) -> BrowserContext:
        context = browser.new_context(
            base_url=base_url, viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True,
            locale="zh-CN", timezone_id="Asia/Shanghai", permissions=["geolocation"],
            geolocation={"latitude": lat, "longitude": lng, "accuracy": 10},
            service_workers="allow")
        opened.append(context)
        return context

    yield open_phone
    for context in opened:
        context.close()
