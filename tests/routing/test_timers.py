"""Timers in the database: several scanners never fire one twice, and a crash or restart never
loses one. The routing app runs with its own scanner off; the tests drive scanners by hand."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from services.routing import service, store
from services.routing.app import create_app
from services.routing.context import RoutingContext
from services.routing.seed import unit_id
from services.routing.service import timers as timers_module
from services.routing.settings import Settings
from shared.auth import Principal
from shared.calendar import SHANGHAI, WorkingCalendar
from shared.contracts.events import EventStatusChanged
from shared.problems import Forbidden
from shared.testing.plugin import Migrator, running
from shared.web.runtime import ServiceRuntime

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)
UNIT = unit_id("350626106001", "community")


@pytest.fixture
async def runtime(
    migrator: Migrator, run_prefix: str, service_settings: Callable[..., Any]
) -> AsyncIterator[ServiceRuntime]:
    prefix = f"{run_prefix}{uuid.uuid4().hex[:6]}"
    await migrator.ensure("routing", prefix=prefix)
    settings = service_settings(Settings, schema_prefix=prefix, run_timer_scanner=False,
                                run_relay=False, run_consumers=False)
    app = create_app(settings)
    async with running(app):
        yield app.state.runtime


async def _seed_due_timers(runtime: ServiceRuntime, count: int, *, at: datetime) -> None:
    """``count`` cases, each with one reminder due at ``at``."""
    uow = runtime.uow()
    async with uow:
        for i in range(count):
            event_id = uuid.uuid4()
            await store.insert_assignment(uow, {
                "event_id": event_id, "case_no": f"ZZ-20261125-{i:06d}",
                "category_code": "dispute_tenancy", "major_risk": "social_conflict",
                "urgency": "normal", "region_code": "350626106001001", "status": "dispatched",
                "unit_id": UNIT, "seq": 1, "queued": False, "updated_at": T0,
            })
            await store.add_timers(uow, [{
                "event_id": event_id, "kind": "accept", "fraction": 0.5, "fire_at": at,
                "deadline": at + timedelta(hours=4), "unit_id": UNIT, "subtask_id": None,
                "seq": 1,
            }])


async def _count(runtime: ServiceRuntime, sql: str) -> int:
    uow = runtime.uow()
    async with uow:
        return int((await uow.connection.execute(text(sql))).scalar_one())


def _scanner(runtime: ServiceRuntime, now: datetime, batch: int = 7) -> service.TimerScanner:
    return service.TimerScanner(runtime.uow, clock=lambda: now, cal=WorkingCalendar(),
                                fractions=[0.5, 0.8], interval=0.05, batch=batch)


async def test_two_scanner_replicas_fire_every_timer_exactly_once(
    runtime: ServiceRuntime,
) -> None:
    await _seed_due_timers(runtime, 60, at=T0)
    replicas = [_scanner(runtime, T0 + timedelta(minutes=1)) for _ in range(3)]
    fired = await asyncio.gather(*(r.scan_once() for r in replicas))
    assert sum(fired) == 60
    assert await _count(runtime, "SELECT count(*) FROM timers WHERE fired_at IS NULL") == 0
    warnings = await _count(
        runtime, "SELECT count(*) FROM outbox WHERE event_type = 'routing.deadline_warning'")
    assert warnings == 60
    distinct = await _count(runtime, "SELECT count(DISTINCT envelope->'payload'->>'event_id') "
                                     "FROM outbox WHERE event_type = 'routing.deadline_warning'")
    assert distinct == 60


async def test_a_timer_not_yet_due_waits_and_a_restart_fires_what_fell_due_meanwhile(
    runtime: ServiceRuntime,
) -> None:
    await _seed_due_timers(runtime, 5, at=T0)
    await _seed_due_timers(runtime, 5, at=T0 + timedelta(hours=2))
    first = _scanner(runtime, T0 + timedelta(minutes=1))
    first.start()
    await asyncio.sleep(0.3)
    await first.stop()
    assert first.fired_total == 5
    # "Restarted" two hours later: only the other five fire; the first five never again.
    second = _scanner(runtime, T0 + timedelta(hours=3))
    second.start()
    await asyncio.sleep(0.3)
    await second.stop()
    assert second.fired_total == 5
    warnings = await _count(
        runtime, "SELECT count(*) FROM outbox WHERE event_type = 'routing.deadline_warning'")
    assert warnings == 10


async def test_a_scanner_that_crashes_mid_batch_loses_nothing(
    runtime: ServiceRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed_due_timers(runtime, 10, at=T0)
    real_fire = timers_module._fire
    calls = {"n": 0}

    async def crash_on_the_fourth(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise ConnectionError("the process died here")
        await real_fire(*args, **kwargs)

    monkeypatch.setattr(timers_module, "_fire", crash_on_the_fourth)
    with pytest.raises(ConnectionError):
        await _scanner(runtime, T0 + timedelta(minutes=1), batch=10).scan_once()
    assert await _count(runtime, "SELECT count(*) FROM timers WHERE fired_at IS NOT NULL") == 0
    assert await _count(runtime, "SELECT count(*) FROM outbox") == 0

    monkeypatch.setattr(timers_module, "_fire", real_fire)
    assert await _scanner(runtime, T0 + timedelta(minutes=1)).scan_once() == 10
    assert await _count(runtime, "SELECT count(*) FROM outbox") == 10


async def test_a_timer_of_a_superseded_assignment_fires_nothing(runtime: ServiceRuntime) -> None:
    await _seed_due_timers(runtime, 1, at=T0)
    uow = runtime.uow()
    async with uow:
        await uow.connection.execute(text("UPDATE assignments SET seq = 2"))
    assert await _scanner(runtime, T0 + timedelta(minutes=1)).scan_once() == 1
    assert await _count(runtime, "SELECT count(*) FROM outbox") == 0


async def test_a_units_work_queue_shows_overdue_cases_first(runtime: ServiceRuntime) -> None:
    now = T0 + timedelta(days=2)
    uow = runtime.uow()
    due = {"soon": now + timedelta(hours=1), "overdue": now - timedelta(hours=3),
           "later": now + timedelta(days=3), "long_overdue": now - timedelta(days=1)}
    ids = {}
    async with uow:
        for name, deadline in due.items():
            ids[name] = uuid.uuid4()
            await store.insert_assignment(uow, {
                "event_id": ids[name], "case_no": f"ZZ-{name}", "category_code": "x",
                "major_risk": "social_conflict", "urgency": "normal",
                "region_code": "350626106001", "status": "accepted", "unit_id": UNIT,
                "seq": 1, "queued": False, "accept_by": T0, "resolve_by": deadline,
                "updated_at": T0,
            })
    member = Principal(subject=uuid.uuid4(), roles=frozenset({"dept_staff"}),
                       departments=(UNIT,), kind="staff")
    rows = await service.work_queue(runtime.uow(), principal=member, unit_id=UNIT, now=now,
                                    limit=10)
    order = [r["event_id"] for r in rows if r["event_id"] in ids.values()]
    assert order == [ids["long_overdue"], ids["overdue"], ids["soon"], ids["later"]]
    outsider = Principal(subject=uuid.uuid4(), roles=frozenset({"dept_staff"}),
                         departments=(uuid.uuid4(),), kind="staff")
    with pytest.raises(Forbidden):
        await service.work_queue(runtime.uow(), principal=outsider, unit_id=UNIT, now=now,
                                 limit=10)


async def test_a_status_change_handled_after_a_later_one_does_not_undo_its_clock(
    runtime: ServiceRuntime,
) -> None:
    await _seed_due_timers(runtime, 1, at=T0 + timedelta(days=5))
    uow = runtime.uow()
    async with uow:
        event_id = (await uow.connection.execute(text("SELECT event_id FROM assignments"))
                    ).scalar_one()

    def change(step: int, action: str, to_status: str) -> EventStatusChanged:
        return EventStatusChanged(
            event_id=event_id, case_no="ZZ-1", category_code="dispute_tenancy",
            region_code="350626106001001", from_status="x", to_status=to_status,
            action=action, actor_role="grid_worker", at=T0, step=step)

    # The failed check (step 11) is handled before the result it judged (step 10).
    for message in (change(11, "verify", "in_progress"),
                    change(10, "submit_result", "result_submitted")):
        uow = runtime.uow()
        async with uow:
            await service.on_status_changed(uow, message, now=T0, cal=WorkingCalendar(),
                                            fractions=[0.5])
    live = await _count(runtime, "SELECT count(*) FROM timers WHERE kind = 'resolve' "
                                 "AND cancelled_at IS NULL")
    assert live == 2  # the new resolve clock: a reminder and the deadline
    status = await _count(runtime, "SELECT count(*) FROM assignments "
                                   "WHERE status = 'in_progress' AND status_step = 11")
    assert status == 1


OTHER_UNIT = unit_id("350626106002", "community")


async def _transferred_case(runtime: ServiceRuntime) -> uuid.UUID:
    """A case of UNIT, transferred by UNIT's staff to OTHER_UNIT (routing has not yet heard
    of anything UNIT did in the events service just before)."""
    await _seed_due_timers(runtime, 1, at=T0 + timedelta(days=5))
    uow = runtime.uow()
    async with uow:
        event_id = (await uow.connection.execute(text("SELECT event_id FROM assignments"))
                    ).scalar_one()
    staff = Principal(subject=uuid.uuid4(), roles=frozenset({"dept_staff"}),
                      departments=(UNIT,), kind="staff")
    await service.transfer(runtime.uow(), principal=staff, event_id=event_id,
                           unit_id=OTHER_UNIT, reason="不属于本社区", now=T0,
                           cal=WorkingCalendar(), fractions=[0.5],
                           pii=runtime.context_as(RoutingContext).pii)
    return event_id


@pytest.mark.parametrize(("action", "to_status"), [("accept", "accepted"),
                                                   ("start", "in_progress"),
                                                   ("return", "returned")])
async def test_a_step_the_old_unit_took_just_before_a_transfer_leaves_the_new_units_clocks(
    runtime: ServiceRuntime, action: str, to_status: str,
) -> None:
    """Events applies the old unit's step, then the transfer (the case is dispatched to the
    new unit there); routing must not read that step as the new unit's."""
    event_id = await _transferred_case(runtime)
    late = EventStatusChanged(
        event_id=event_id, case_no="ZZ-1", category_code="dispute_tenancy",
        region_code="350626106001001", from_status="dispatched", to_status=to_status,
        action=action, actor_role="dept_staff", actor_unit_id=UNIT, at=T0, step=7)
    uow = runtime.uow()
    async with uow:
        await service.on_status_changed(uow, late, now=T0, cal=WorkingCalendar(),
                                        fractions=[0.5])
    kept = await _count(runtime, f"SELECT count(*) FROM assignments WHERE status = 'dispatched'"
                                 f" AND unit_id = '{OTHER_UNIT}' AND NOT queued")
    assert kept == 1
    live = await _count(runtime, "SELECT count(*) FROM timers WHERE kind = 'accept' AND "
                                 f"unit_id = '{OTHER_UNIT}' AND cancelled_at IS NULL")
    assert live == 2  # the new unit's accept clock: a reminder and the deadline
    # The new unit's own accept is the one that stops it.
    own = late.model_copy(update={"action": "accept", "to_status": "accepted",
                                  "actor_unit_id": OTHER_UNIT, "step": 9})
    uow = runtime.uow()
    async with uow:
        await service.on_status_changed(uow, own, now=T0, cal=WorkingCalendar(),
                                        fractions=[0.5])
    assert await _count(runtime, "SELECT count(*) FROM assignments WHERE status = 'accepted'"
                                 " AND status_step = 9") == 1
    assert await _count(runtime, "SELECT count(*) FROM timers WHERE kind = 'accept' AND "
                                 "cancelled_at IS NULL") == 0


async def test_a_supervisor_sees_their_regions_supervisions_behind_a_busy_county(
    runtime: ServiceRuntime,
) -> None:
    """The list was the newest supervisions city-wide, filtered by region afterwards: a quiet
    county's supervisor saw nothing once five pages of another county's were newer."""
    uow = runtime.uow()
    quiet_case = uuid.uuid4()
    async with uow:
        for n, region in enumerate(["350623100001"] + ["350626106001"] * 12):
            event_id = quiet_case if n == 0 else uuid.uuid4()
            await store.insert_assignment(uow, {
                "event_id": event_id, "case_no": f"ZZ-S{n}", "category_code": "x",
                "major_risk": "social_conflict", "urgency": "normal", "region_code": region,
                "status": "dispatched", "unit_id": UNIT, "seq": 1, "queued": False,
                "updated_at": T0})
            await store.insert_supervision(uow, {
                "id": uuid.uuid4(), "event_id": event_id, "unit_id": UNIT, "kind": "accept",
                "deadline": T0, "supervisor_region_code": region[:9], "auto_escalated": False,
                "created_at": T0 + timedelta(minutes=n)})
    quiet = Principal(subject=uuid.uuid4(), roles=frozenset({"supervisor"}),
                      regions=("350623",), kind="staff")
    rows = await service.supervisions(runtime.uow(), principal=quiet, limit=2)
    assert [r["event_id"] for r in rows] == [quiet_case]
    busy = Principal(subject=uuid.uuid4(), roles=frozenset({"supervisor"}),
                     regions=("350626",), kind="staff")
    assert len(await service.supervisions(runtime.uow(), principal=busy, limit=2)) == 2


async def test_a_scanner_does_not_wait_on_a_case_an_action_holds_and_fires_it_next_pass(
    runtime: ServiceRuntime,
) -> None:
    """The scanner holds its batch's timers while it locks each case; an action holding the
    case and then touching its timers (transfer, escalation) made a lock cycle that
    PostgreSQL broke by failing one of them (a 500 to the department). The scanner now leaves
    a case someone holds for its next pass."""
    await _seed_due_timers(runtime, 2, at=T0)
    uow = runtime.uow()
    async with uow:
        held = (await uow.connection.execute(text(
            "SELECT event_id FROM assignments ORDER BY case_no LIMIT 1"))).scalar_one()
    action = runtime.uow()
    async with action:
        await store.get_assignment(action, held)  # an action's lock on the case
        fired = await asyncio.wait_for(
            _scanner(runtime, T0 + timedelta(minutes=1)).scan_once(), timeout=5)
        assert fired == 1  # the other case's reminder
    assert await _count(runtime, "SELECT count(*) FROM timers WHERE fired_at IS NULL "
                                 f"AND event_id = '{held}'") == 1
    assert await _scanner(runtime, T0 + timedelta(minutes=2)).scan_once() == 1
    assert await _count(runtime, "SELECT count(*) FROM timers WHERE fired_at IS NULL") == 0
    assert await _count(runtime, "SELECT count(*) FROM outbox "
                                 "WHERE event_type = 'routing.deadline_warning'") == 2
