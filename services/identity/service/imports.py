"""Registry imports as jobs. The upload is checked for what it declares (sizes, header) and
answered at once; the rows are read off the event loop, validated whole, and only then written
in batches, each batch committing its rows and the job's progress together. The uploader polls
the job and downloads its refused rows as CSV.

If the process dies mid-import, the rows of committed batches stay written and the job stops
being touched; any replica's sweeper then marks it failed (``import_interrupted``). Uploading
the file again is safe: rows already written are updated, not duplicated."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import RowMapping

from services.identity import domain
from services.identity.context import IdentityContext
from services.identity.schemas import ImportFailure, ImportJobRead, ImportRowError
from services.identity.service.accounts import ID_NUMBER
from services.identity.service.registry import (
    ENTRY_ROLES,
    PreparedImport,
    prepare_import,
    registered_elsewhere,
    upsert_entry,
)
from services.identity.spreadsheets import check_readable, read_rows
from services.identity.store import imports as store
from services.identity.store import registry as registry_store
from shared.auth.principal import Principal, Role
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.periodic import PeriodicWorker
from shared.pii import mask_id_number
from shared.problems import AppError, Forbidden, NotFound
from shared.web.runtime import ServiceRuntime

log = get_logger(__name__)
INTERRUPTED = ("the import stopped with the server running it; the rows counted as done are "
               "written; upload the file again (rows already written are updated, not "
               "duplicated)")
FAILED = ("the import stopped on an internal error; the rows counted as done are written; "
          "upload the file again")


@dataclass
class ReadImport:
    """A file read and validated whole: the rows to write, and the refused ones as stored."""

    prepared: PreparedImport
    refused: list[dict[str, Any]]
    masked_ids: dict[int, str | None]


def masked_id(value: str | None) -> str | None:
    masked = mask_id_number(value or None)
    return masked[:32] if masked else None


def _read(data: bytes, fmt: str, ctx: IdentityContext, actor: Principal) -> ReadImport:
    """CPU-bound: runs in a worker thread."""
    settings = ctx.settings
    rows = read_rows(data, fmt, max_rows=settings.max_import_rows,
                     max_xml_bytes=settings.max_import_xml_bytes)
    prepared = prepare_import(rows, today=ctx.today(), may_enter=actor.covers_region)
    masked = {row.number: masked_id(row.values.get("id_number")) for row in rows}
    refused = [{"row": e.row, "code": e.code, "detail": e.detail,
                "id_number_masked": masked[e.row]} for e in prepared.errors]
    return ReadImport(prepared, refused, masked)


class ImportRunner:
    """Runs the imports this process accepted, a few at a time; touches them while they run
    (their heartbeat) and, stopping, lets them finish for a while before interrupting them."""

    def __init__(self, runtime: ServiceRuntime, ctx: IdentityContext) -> None:
        self._make_uow = runtime.uow
        self._ctx = ctx
        self._slots = asyncio.Semaphore(ctx.settings.import_concurrency)
        self._jobs: dict[uuid.UUID, asyncio.Task[None]] = {}
        beat = ctx.settings.import_heartbeat_seconds
        # A failed beat is retried at the same pace (no backoff): the stale time spans only
        # a few beats.
        self._heartbeat = PeriodicWorker("registry-import-heartbeat", self._beat,
                                         lambda: beat, max_backoff=beat)

    def start(self) -> None:
        self._heartbeat.start()

    async def stop(self) -> None:
        jobs = list(self._jobs.values())
        if jobs:
            await asyncio.wait(jobs, timeout=self._ctx.settings.import_drain_seconds)
        await self._heartbeat.stop()
        for task in jobs:
            if not task.done():
                task.cancel()  # once: an interrupted job then records why before it ends
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def submit(self, *, actor: Principal, data: bytes, fmt: str) -> uuid.UUID:
        """Refuse what the file declares wrongly (nothing written), else queue it."""
        actor.require_role(*ENTRY_ROLES)
        settings = self._ctx.settings
        await asyncio.to_thread(check_readable, data, fmt, max_rows=settings.max_import_rows,
                                max_xml_bytes=settings.max_import_xml_bytes)
        import_id = uuid.uuid4()
        uow = self._make_uow()
        async with uow:
            await store.create(uow, import_id=import_id, uploaded_by=actor.subject,
                               scope_regions=actor.regions, fmt=fmt)
        job = asyncio.create_task(self._run(import_id, actor, data, fmt),
                                  name=f"registry-import-{import_id}")
        self._jobs[import_id] = job
        job.add_done_callback(lambda _: self._jobs.pop(import_id, None))
        return import_id

    async def _run(self, import_id: uuid.UUID, actor: Principal, data: bytes, fmt: str) -> None:
        try:
            async with self._slots:
                await self._set(import_id, status="reading")
                read = await asyncio.to_thread(_read, data, fmt, self._ctx, actor)
                del data
                await self._write(import_id, actor, read)
                await self._finish(import_id, status="succeeded")
        except AppError as problem:  # the file turned out bad while read: nothing written
            await self._finish(import_id, status="failed", failure_code=problem.code,
                               failure_detail=problem.detail)
        except asyncio.CancelledError:
            await asyncio.shield(self._finish(import_id, status="failed",
                                              failure_code="import_interrupted",
                                              failure_detail=INTERRUPTED))
            raise
        except Exception as exc:
            log.exception("registry_import_failed", import_id=str(import_id),
                          error=type(exc).__name__)
            await self._finish(import_id, status="failed", failure_code="import_failed",
                               failure_detail=FAILED)

    async def _write(self, import_id: uuid.UUID, actor: Principal, read: ReadImport) -> None:
        prepared = read.prepared
        uow = self._make_uow()
        async with uow:
            await store.set_state(uow, import_id, status="writing",
                                  total_rows=prepared.total_rows)
            await store.record_errors(uow, import_id, read.refused)
            await store.advance(uow, import_id, rows=len(read.refused),
                                refused=len(read.refused))
        size = self._ctx.settings.import_batch_rows
        for start in range(0, len(prepared.entries), size):
            await self._write_batch(import_id, actor, prepared.entries[start:start + size],
                                    read.masked_ids)
        log.info("registry_imported", import_id=str(import_id), rows=prepared.total_rows,
                 by=str(actor.subject))

    async def _write_batch(self, import_id: uuid.UUID, actor: Principal,
                           batch: Sequence[tuple[int, domain.RegistryEntry]],
                           masked_ids: dict[int, str | None]) -> None:
        try:
            await self._write_rows(import_id, actor, batch, masked_ids)
        except Forbidden:
            # A person moved out of the uploader's scope between the check and the write
            # (the write checks under the row lock): settle this batch one row at a time.
            for item in batch:
                try:
                    await self._write_rows(import_id, actor, [item], masked_ids)
                except Forbidden as problem:
                    await self._refuse(import_id, item[0], problem, masked_ids)

    async def _write_rows(self, import_id: uuid.UUID, actor: Principal,
                          items: Sequence[tuple[int, domain.RegistryEntry]],
                          masked_ids: dict[int, str | None]) -> None:
        """Write rows and count them in one transaction. Rows naming someone registered
        outside the uploader's scope are refused."""
        pii = self._ctx.pii
        indexes = [pii.blind_index(e.id_number.value, context=ID_NUMBER) for _, e in items]
        uow = self._make_uow()
        async with uow:
            registered = await registry_store.regions_by_id_index(uow,
                                                                  sorted(set(indexes)))
            refused: list[dict[str, Any]] = []
            created = updated = 0
            for (number, entry), index in zip(items, indexes, strict=True):
                region = registered.get(index)
                if region is not None and not actor.covers_region(region):
                    refused.append(_refusal(number, registered_elsewhere(), masked_ids))
                    continue
                _, was_created = await upsert_entry(uow, self._ctx, entry, actor.subject,
                                                    actor.covers_region)
                created += was_created
                updated += not was_created
            await store.record_errors(uow, import_id, refused)
            await store.advance(uow, import_id, rows=len(items), created=created,
                                updated=updated, refused=len(refused))

    async def _refuse(self, import_id: uuid.UUID, number: int, problem: AppError,
                      masked_ids: dict[int, str | None]) -> None:
        uow = self._make_uow()
        async with uow:
            await store.record_errors(uow, import_id,
                                      [_refusal(number, problem, masked_ids)])
            await store.advance(uow, import_id, rows=1, refused=1)

    async def _set(self, import_id: uuid.UUID, **values: Any) -> None:
        uow = self._make_uow()
        async with uow:
            await store.set_state(uow, import_id, **values)

    async def _finish(self, import_id: uuid.UUID, **values: Any) -> None:
        try:
            uow = self._make_uow()
            async with uow:
                await store.finish(uow, import_id, **values)
        except Exception as exc:  # database away: the sweeper marks it once it is back
            log.warning("registry_import_not_finished", import_id=str(import_id),
                        error=type(exc).__name__)

    async def _beat(self) -> None:
        """Touch the running imports (no transaction while there are none)."""
        if not self._jobs:
            return
        uow = self._make_uow()
        async with uow:
            await store.touch(uow, list(self._jobs))


def _refusal(number: int, problem: AppError, masked_ids: dict[int, str | None]
             ) -> dict[str, Any]:
    return {"row": number, "code": problem.code, "detail": problem.detail,
            "id_number_masked": masked_ids.get(number)}


def abandoned_import_sweeper(runtime: ServiceRuntime) -> PeriodicWorker:
    """Runtime worker: marks failed the unfinished imports whose process stopped touching
    them (it died). Every replica runs one; the UPDATE is idempotent."""
    settings = runtime.context_as(IdentityContext).settings

    async def sweep() -> None:
        uow = runtime.uow()
        async with uow:
            failed = await store.fail_abandoned(
                uow, stale_seconds=settings.import_stale_seconds, detail=INTERRUPTED)
        if failed:
            log.warning("registry_imports_interrupted", count=len(failed))

    return PeriodicWorker("registry-import-sweep", sweep, lambda: settings.import_sweep_seconds)


async def start_imports(app: FastAPI, runtime: ServiceRuntime) -> None:
    """Start hook: the runner every process needs to accept uploads (API-only pods too).
    Stopped with the workers, before the relay, so a draining import's events go out."""
    ctx = runtime.context_as(IdentityContext)
    runner = ImportRunner(runtime, ctx)
    runner.start()
    ctx.imports = runner
    runtime.workers.append(runner)


async def submit(ctx: IdentityContext, *, actor: Principal, data: bytes, fmt: str) -> uuid.UUID:
    """Queue an upload on this process's runner (see :meth:`ImportRunner.submit`)."""
    if ctx.imports is None:
        raise RuntimeError("registry imports are not started (start_imports sets them up)")
    return await ctx.imports.submit(actor=actor, data=data, fmt=fmt)


# -- reading a job ---------------------------------------------------------------------------

ERRORS_SHOWN = 100
IMPORTS_PATH = "/api/v1/identity/registry/imports"


def may_read(actor: Principal, job: RowMapping) -> bool:
    """The uploader, admins, and supervisors whose scope covers all of the uploader's."""
    if actor.subject == job["uploaded_by"] or Role.ADMIN in actor.roles:
        return True
    regions = job["scope_regions"]
    return (Role.SUPERVISOR in actor.roles and bool(regions)
            and all(actor.covers_region(r) for r in regions))


async def _readable(uow: UnitOfWork, actor: Principal, import_id: uuid.UUID) -> RowMapping:
    job = await store.get(uow, import_id)
    if job is None or not may_read(actor, job):
        # Someone else's import is as unknown as one that does not exist.
        raise NotFound("no such import", code="import_not_found")
    return job


async def read_import(*, uow: UnitOfWork, actor: Principal, import_id: uuid.UUID
                      ) -> ImportJobRead:
    async with uow:
        job = await _readable(uow, actor, import_id)
        errors = await store.errors_of(uow, import_id, limit=ERRORS_SHOWN)
    failure = (ImportFailure(code=job["failure_code"], detail=job["failure_detail"] or "")
               if job["failure_code"] else None)
    return ImportJobRead(
        id=job["id"], status=job["status"], format=job["format"],
        uploaded_by=job["uploaded_by"], total_rows=job["total_rows"],
        rows_done=job["rows_done"], loaded=job["created"] + job["updated"],
        created=job["created"], updated=job["updated"], refused=job["refused"],
        errors=[ImportRowError(row=e["row"], code=e["code"], detail=e["detail"],
                               id_number=e["id_number_masked"]) for e in errors],
        errors_url=f"{IMPORTS_PATH}/{import_id}/errors.csv", failure=failure,
        created_at=job["created_at"], updated_at=job["updated_at"],
        finished_at=job["finished_at"],
    )


async def errors_csv(*, uow: UnitOfWork, actor: Principal, import_id: uuid.UUID) -> str:
    """Every refused row so far: row, code, detail, the ID number masked. With a BOM, so
    Excel (what grid workers open it with) reads it as UTF-8."""
    async with uow:
        await _readable(uow, actor, import_id)
        errors = await store.errors_of(uow, import_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "code", "detail", "id_number"])
    for e in errors:
        writer.writerow([e["row"], e["code"], e["detail"],
                         _no_formula(e["id_number_masked"] or "")])
    return "\ufeff" + out.getvalue()


def _no_formula(value: str) -> str:
    """A cell typed as ``=HYPERLINK(...)`` must not come back as a formula in Excel."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
