"""A grid task given to a worker (#19) reaches that worker alone: in their staff inbox, in
Chinese, with numbers in the task's title masked, and on their WeChat when they bound one;
a redelivered message adds nothing, and nobody else — a colleague, their manager — sees it.
Over RabbitMQ, the grid messages reach feedback's queues and count in the worker's figures."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from httpx import AsyncClient

from services.feedback import messages
from services.feedback.app import create_app
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.contracts.identity import StaffDirectoryChanged
from shared.contracts.routing import GridTaskAssigned, GridTaskKind
from shared.messaging.envelope import Envelope
from shared.messaging.rabbit import RabbitBroker
from shared.testing.plugin import running, wait_until
from tests.feedback.conftest import TOWN_1
from tests.feedback.grid_work_fixture import (
    EXPECTED_W1,
    G1,
    G2,
    MANAGER,
    W1,
    W2,
    march_grid_work,
)
from tests.feedback.grid_work_fixture import envelope as grid_envelope
from tests.feedback.helpers import publish, sql, until_handled

NOTICES = "/api/v1/feedback/staff-notices"
AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
DUE = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai


def assigned(worker: uuid.UUID, grid: str, *, kind: str = "assigned", reason: str = "new",
             title: str = "走访独居老人", event_id: uuid.UUID | None = None,
             task_id: uuid.UUID | None = None) -> Envelope:
    return grid_envelope("routing.grid_task_assigned", GridTaskAssigned(
        task_id=task_id or uuid.uuid4(), kind=kind, title=title,  # type: ignore[arg-type]
        grid_code=grid, worker_id=worker, due_at=DUE, reason=reason,  # type: ignore[arg-type]
        event_id=event_id, assigned_by=None if kind == "verification" else MANAGER, at=AT))


def bound(worker: uuid.UUID) -> Envelope:
    return grid_envelope("identity.staff_directory_changed", StaffDirectoryChanged(
        staff_id=worker, unit_ids=[], roles=["grid_worker"], regions=[G1], active=True,
        wechat_bound=True, version=1, changed_at=AT - timedelta(days=1), cause="wechat_bound"))


async def inbox(client: AsyncClient, token: str) -> list[dict[str, Any]]:
    answer = await client.get(NOTICES, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


async def test_a_grid_task_reaches_its_worker_alone_once(
    feedback_settings: Settings, token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> None:
    case_id, task_id = uuid.uuid4(), uuid.uuid4()
    messages = [
        assigned(W1, G1, title="走访独居老人，联系人13812345678", task_id=task_id),
        assigned(W1, G1, kind="verification", title="核查案件 ZZ-20260302-000001",
                 event_id=case_id),
        assigned(W2, G2, reason="handover", title="排查出租屋消防隐患"),
    ]
    app = create_app(feedback_settings, verifier=token_verifier)
    w1 = make_token(subject=W1, roles=["grid_worker"], regions=[G1])
    w2 = make_token(subject=W2, roles=["grid_worker"], regions=[G2])
    colleague = make_token(roles=["grid_worker"], regions=[G1])
    managers = [make_token(roles=["dispatcher"], regions=[TOWN_1]),
                make_token(roles=["supervisor"], regions=[TOWN_1]),
                make_token(roles=["admin"])]
    async with running(app) as client:
        await publish(app, [bound(W1)])
        await until_handled(app, 1)
        await publish(app, messages + messages)
        await until_handled(app, 1 + 2 * len(messages))

        mine = {n["title"]: n for n in await inbox(client, w1)}
        assert set(mine) == {"新的网格任务", "新的核查任务"}
        task = mine["新的网格任务"]
        assert task["kind"] == "grid_task"
        assert task["grid_task_id"] == str(task_id)
        assert task["event_id"] is None
        assert task["region_code"] == G1
        assert task["body"] == "走访独居老人，联系人138****5678，请于2026-03-06 17:00前完成。"
        assert "13812345678" not in str(mine)
        assert mine["新的核查任务"]["event_id"] == str(case_id)

        [handed] = await inbox(client, w2)
        assert handed["title"] == "工作移交"
        assert handed["body"].startswith("排查出租屋消防隐患（离岗网格员移交给您）")
        assert await inbox(client, colleague) == []
        for manager in managers:
            assert await inbox(client, manager) == []

        # Their own read marks; a colleague cannot mark it: it is not theirs to know of.
        path = f"{NOTICES}/{task['id']}/read"
        refused = await client.post(path, headers={"Authorization": f"Bearer {colleague}"})
        assert refused.status_code == 404
        read = await client.post(path, headers={"Authorization": f"Bearer {w1}"})
        assert read.status_code == 200
        count = await client.get(f"{NOTICES}/unread-count",
                                 headers={"Authorization": f"Bearer {w1}"})
        assert count.json() == {"unread": 1}

        # WeChat: one delivery per notice to W1, who bound one; none to W2, who did not.
        queued = await sql(app, "SELECT user_id, title FROM notifications "
                                "WHERE staff_notice_id IS NOT NULL")
        assert sorted((r.user_id, r.title) for r in queued) == sorted(
            [(W1, "新的网格任务"), (W1, "新的核查任务")])


async def test_grid_work_and_tasks_arrive_over_rabbitmq(
    feedback_settings: Settings, amqp_url: str, token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> None:
    settings = feedback_settings.model_copy(update={"broker": "rabbitmq", "amqp_url": amqp_url})
    producers = RabbitBroker(amqp_url, prefix=settings.amqp_prefix, publish_timeout=5,
                             name="routing-identity-events")
    await producers.connect()
    w1 = make_token(subject=W1, roles=["grid_worker"], regions=[G1])
    try:
        app = create_app(settings, verifier=token_verifier)
        async with running(app) as client:
            for message in [*march_grid_work(), assigned(W1, G1)]:
                await producers.publish(message.routing_key, message.to_bytes(),
                                        message_id=str(message.event_id))

            async def counted() -> bool:
                mine = await client.get("/api/v1/feedback/grid-scorecards/me",
                                        params={"month": "2026-03"},
                                        headers={"Authorization": f"Bearer {w1}"})
                figures = mine.json()["worker"]["figures"]
                return all(figures[k] == v for k, v in EXPECTED_W1.items())

            async def told() -> bool:
                return bool(await inbox(client, w1))

            await wait_until(counted, within=20)
            await wait_until(told, within=20)
            [notice] = await inbox(client, w1)
            assert notice["title"] == "新的网格任务"
    finally:
        await asyncio.wait_for(producers.close(), timeout=10)


def test_every_kind_and_reason_of_a_grid_task_is_worded_in_chinese() -> None:
    reasons = get_args(GridTaskAssigned.model_fields["reason"].annotation)
    assert set(reasons) == {"new", "handover", "reassigned"}
    seen: set[str] = set()
    for kind in get_args(GridTaskKind):
        for reason in reasons:
            title, body = messages.grid_task_notice(kind, reason, "走访独居老人", DUE)
            assert "走访独居老人" in body
            assert "2026-03-06 17:00" in body
            seen.add(title)
    # A new task and a new verification differ; a handover and a reassignment say so.
    assert {"新的网格任务", "新的核查任务", "工作移交", "任务改派"} == seen
