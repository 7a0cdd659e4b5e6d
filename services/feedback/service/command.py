"""Command-centre data (指挥中心): counts, daily trend, overdue list, hotspots (主动治理)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from services.feedback import scoring
from services.feedback.service.scorecards import region_like
from services.feedback.settings import Settings
from services.feedback.store import command as store
from shared.auth.principal import Principal
from shared.contracts.feedback import HotspotFlagged
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.periodic import PeriodicWorker
from shared.regions import region_level

log = get_logger(__name__)


async def counts(
    *, uow: UnitOfWork, principal: Principal, region_code: str, start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    principal.require_region(region_code)
    async with uow:
        return await store.counts(
            uow, region_like=region_like(region_code), start=start, end=end,
            child_length=scoring.child_prefix_length(region_level(region_code)),
        )


async def trend(
    *, uow: UnitOfWork, principal: Principal, region_code: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    principal.require_region(region_code)
    async with uow:
        found = await store.daily_trend(uow, region_like=region_like(region_code),
                                        start=start, end=end, tz="Asia/Shanghai")
    days: list[dict[str, Any]] = []
    day = start.astimezone(scoring.SHANGHAI).date()
    last = (end - timedelta(microseconds=1)).astimezone(scoring.SHANGHAI).date()
    while day <= last:
        figures = found.get(day.isoformat(), {"reported": 0, "closed": 0})
        days.append({"date": day, **figures})
        day += timedelta(days=1)
    return days


async def overdue(
    *, uow: UnitOfWork, principal: Principal, region_code: str, limit: int,
    cursor: str | None, now: datetime | None = None,
) -> tuple[list[Any], str | None]:
    principal.require_region(region_code)
    after = decode_moment_cursor(cursor)
    async with uow:
        rows = await store.overdue(uow, region_like=region_like(region_code),
                                   now=now or datetime.now(UTC), limit=limit + 1, after=after)
    return page_of(rows, limit, lambda r: moment_cursor(r.missed_deadline, r.event_id))


async def hotspots(*, uow: UnitOfWork, principal: Principal, region_code: str) -> list[Any]:
    principal.require_region(region_code)
    async with uow:
        return await store.active_hotspots(uow, region_like=region_like(region_code))


async def detect_hotspots(
    *, uow: UnitOfWork, threshold: int, window_days: int, now: datetime
) -> list[HotspotFlagged]:
    """Flag every (community, category) with at least ``threshold`` reports in the last
    ``window_days`` that is not flagged yet, publishing ``feedback.hotspot_flagged`` once;
    stand down the ones that fell below. Safe in every replica: the partial unique index on
    active hotspots lets one insert win."""
    since = now - timedelta(days=window_days)
    flagged: list[HotspotFlagged] = []
    async with uow:
        candidates = await store.hotspot_candidates(
            uow, since=since, until=now, threshold=threshold)
        counts = {(c.region_code, c.category_code): int(c.n) for c in candidates}
        await store.refresh_active(uow, keep=set(counts), counts=counts)
        for c in candidates:
            hotspot_id = uuid.uuid4()
            inserted = await store.flag_hotspot(uow, {
                "id": hotspot_id, "region_code": c.region_code,
                "category_code": c.category_code, "report_count": int(c.n),
                "window_start": since, "flagged_at": now, "active": True,
            })
            if not inserted:
                continue
            event = HotspotFlagged(
                hotspot_id=hotspot_id, region_code=c.region_code,
                category_code=c.category_code, report_count=int(c.n), threshold=threshold,
                window_days=window_days, window_start=since, flagged_at=now,
                sample_event_ids=sorted(c.event_ids, key=str)[:10],
            )
            await uow.emit("feedback.hotspot_flagged", event)
            flagged.append(event)
    for event in flagged:
        log.info("hotspot_flagged", region_code=event.region_code,
                 category_code=event.category_code, reports=event.report_count)
    return flagged


class HotspotWorker:
    """A worker (start/stop) on a :class:`PeriodicWorker`; a failed pass is retried by the
    next, which sees the same reports again."""

    def __init__(self, *, new_uow: Callable[[], UnitOfWork], settings: Settings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._new_uow, self._settings, self._clock = new_uow, settings, clock
        self._loop = PeriodicWorker("feedback-hotspots", self._tick,
                                    settings.hotspot_poll_seconds)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _tick(self) -> None:
        await self.run_once()

    async def run_once(self) -> list[HotspotFlagged]:
        return await detect_hotspots(
            uow=self._new_uow(), threshold=self._settings.hotspot_threshold,
            window_days=self._settings.hotspot_window_days, now=self._clock())
