"""A full identity flow writes no plaintext ID number, phone, name or secret to the logs."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from shared.testing.plugin import running
from tests.identity.conftest import WeChatStandIn, admin_token, bearer, unique_id_number


class Capture(logging.Handler):
    """Keeps both the raw message (before any redaction net) and the rendered line."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("aiohttp"):
            return  # the WeChat stand-in's own access log, not the platform's
        self.lines.append(str(record.msg))
        self.lines.append(record.getMessage() if isinstance(record.msg, str) else "")
        self.lines.append(self.format(record))


async def test_a_full_flow_logs_no_personal_data(
    identity_app: Any, wechat_server: tuple[WeChatStandIn, str], make_token: Any
) -> None:
    stand_in, base = wechat_server
    phone, id_number, name = "13712345678", unique_id_number(), "欧阳测名"
    member_id, grid = unique_id_number(), f"350626106{uuid.uuid4().int % 10**6:06d}"
    code = f"c{uuid.uuid4().hex}"
    stand_in.phone_for_code = {"pc": phone}
    secret = "wechat-app-secret-never-logged"
    app = identity_app(wechat_api_base=base, wechat_app_secret=secret, log_level="DEBUG")
    root = logging.getLogger()  # after create_app: configuring logs replaces root handlers
    capture = Capture(root.handlers[0].formatter if root.handlers else None)
    previous_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        async with running(app) as client:
            pair = (await client.post("/api/v1/identity/wechat-login",
                                      json={"code": code})).json()
            me = bearer(pair["access_token"])
            await client.post("/api/v1/identity/me/phone", json={"code": "pc"}, headers=me)
            await client.post("/api/v1/identity/me/verification",
                              json={"name": name, "id_number": id_number}, headers=me)
            await client.post("/api/v1/identity/me/verification",
                              json={"name": name, "id_number": id_number[:-1]}, headers=me)
            worker = bearer(make_token(roles=["grid_worker"], regions=[grid]))
            await client.post("/api/v1/identity/registry/people", headers=worker, json={
                "id_number": member_id, "name": name, "region_code": grid,
                "address": "铜陵镇测试路8号"})
            csv = f"id_number,name,region_code\n{id_number},{name},{grid}\n1234,{name},{grid}\n"
            await client.post("/api/v1/identity/registry/imports", headers=worker,
                              files={"file": ("p.csv", csv.encode(), "text/csv")})
            admin = bearer(await admin_token(client))
            await client.post("/api/v1/identity/admin/pii-access", headers=admin, json={
                "subject_kind": "user", "subject_id": pair["user"]["id"], "field": "phone",
                "reason": "resident asked to confirm the bound phone"})
            await client.post("/api/v1/identity/refresh",
                              json={"refresh_token": pair["refresh_token"]})
    finally:
        root.removeHandler(capture)
        root.setLevel(previous_level)
    logged = "\n".join(capture.lines)
    assert "resident_verified" in logged  # the flow ran and was logged
    assert "registry_imported" in logged
    for needle in (phone, id_number, member_id, name, secret, f"SK-{code}", code,
                   "铜陵镇测试路8号", pair["refresh_token"]):
        where = logged.find(needle)
        assert where < 0, (needle[:4], logged[max(0, where - 1500):where + 50])
