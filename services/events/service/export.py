"""The staff case search as a download, streamed: rows come over a server-side cursor in
batches. CSV leaves batch by batch, so an export of any size holds one batch. XLSX is a zip
written at its end: openpyxl's write-only workbook spools the rows to a temporary file as
they come (in a worker thread, off the event loop), and the saved file is then sent in
chunks; memory holds one batch either way."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook

from services.events.schemas import EventSearch
from services.events.store.search import stream_cases
from shared.auth import Principal
from shared.db.uow import UnitOfWork

from .queries import can_see
from .search import case_filter, staff_scope

COLUMNS = ("case_no", "status", "category_code", "urgency", "region_code", "address",
           "description", "assignee_unit_name", "channel", "rating", "reported_at",
           "resolve_by", "closed_at")
BATCH = 1000
# Spreadsheet programs run a cell that starts like a formula; a leading quote keeps it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(rows: Sequence[Any]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([_cell(row[c]) for c in COLUMNS] for row in rows)
    return buffer.getvalue().encode()


def export_csv(uow: UnitOfWork, *, principal: Principal, search: EventSearch,
               now: datetime) -> AsyncIterator[bytes]:
    """Checks the caller and the filters now (so a refusal is a problem answer, not a broken
    download), then returns the body: a UTF-8 BOM (spreadsheets then read Chinese right), the
    header, and the rows in the search's order."""
    scope = staff_scope(principal)
    filters = case_filter(search, principal)

    async def body() -> AsyncIterator[bytes]:
        yield "\ufeff".encode() + _csv([dict(zip(COLUMNS, COLUMNS, strict=True))])
        async with uow:
            async for rows in stream_cases(uow, scope=scope, search=filters, now=now,
                                           sort=search.sort, batch=BATCH):
                yield _csv([r for r in rows if can_see(principal, r)])

    return body()


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 64 * 1024


def _write_rows(sheet: Any, rows: Sequence[Any]) -> None:
    for row in rows:
        sheet.append([_cell(row[c]) for c in COLUMNS])


def export_xlsx(uow: UnitOfWork, *, principal: Principal, search: EventSearch,
                now: datetime) -> AsyncIterator[bytes]:
    """As :func:`export_csv`, one worksheet with the header row; sent once it is written."""
    scope = staff_scope(principal)
    filters = case_filter(search, principal)

    async def body() -> AsyncIterator[bytes]:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("cases")
        sheet.append(list(COLUMNS))
        async with uow:
            async for rows in stream_cases(uow, scope=scope, search=filters, now=now,
                                           sort=search.sort, batch=BATCH):
                visible = [r for r in rows if can_see(principal, r)]
                await asyncio.to_thread(_write_rows, sheet, visible)
        handle, path = tempfile.mkstemp(suffix=".xlsx")
        os.close(handle)
        try:
            await asyncio.to_thread(workbook.save, path)
            async for chunk in _file_chunks(path):
                yield chunk
        finally:
            os.unlink(path)

    return body()


async def _file_chunks(path: str) -> AsyncIterator[bytes]:
    file = await asyncio.to_thread(open, path, "rb")
    try:
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk
    finally:
        file.close()
