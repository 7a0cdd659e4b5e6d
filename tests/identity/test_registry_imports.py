"""Registry imports are jobs: a large or hostile spreadsheet never stalls the service, files
refused for what they declare are refused before parsing with nothing written, the uploader
polls progress and downloads refused rows, and an import whose process died ends failed."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import Workbook

from services.identity import spreadsheets
from services.identity.settings import Settings
from shared.problems import PayloadTooLarge
from shared.testing.plugin import running, wait_until
from tests.identity.conftest import assert_problem, bearer, unique_id_number
from tests.identity.test_registry import IMPORTS, _csv, finished, import_file, new_grid

SHEET = "xl/worksheets/sheet1.xml"


def worker(make_token: Any, grid: str, subject: uuid.UUID | None = None) -> dict[str, str]:
    return bearer(make_token(subject=subject or uuid.uuid4(), roles=["grid_worker"],
                             regions=[grid]))


def xlsx(rows: list[list[Any]]) -> bytes:
    """A workbook as Excel would save it (write-only mode: streamed, fast)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["id_number", "name", "region_code", "household_id"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def with_sheet_xml(workbook: bytes, rewrite: Any) -> bytes:
    """The same workbook with its first sheet's XML rewritten (``rewrite(xml) -> chunks``)."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for part in source.infolist():
            if part.filename != SHEET:
                target.writestr(part, source.read(part))
                continue
            with target.open(SHEET, "w", force_zip64=True) as sheet:
                for chunk in rewrite(source.read(part)):
                    sheet.write(chunk)
    return out.getvalue()


async def jobs_by(identity_sql: Any, uploader: uuid.UUID) -> int:
    rows = await identity_sql("SELECT count(*) AS n FROM registry_imports "
                              "WHERE uploaded_by = :u", u=uploader)
    return int(rows[0]["n"])


async def people_in(identity_sql: Any, grid: str) -> int:
    rows = await identity_sql("SELECT count(*) AS n FROM registry_people "
                              "WHERE region_code = :g", g=grid)
    return int(rows[0]["n"])


async def test_an_import_reports_progress_and_its_refused_rows_as_a_masked_csv(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    grid = new_grid()
    headers = worker(make_token, grid)
    bad_id = "35062319900101123X"  # wrong check digit
    rows = [[unique_id_number(), f"郑{n}", "", "H1", grid, ""] for n in range(5)]
    rows.insert(2, [bad_id, "郑坏", "", "H1", grid, ""])
    rows.append(["=HYPERLINK(1)", "郑公式", "", "H1", grid, ""])
    async with running(identity_app(import_batch_rows=2)) as client:
        job = await import_file(client, headers, "people.csv", _csv(rows))
        csv_answer = await client.get(job["errors_url"], headers=headers)
    assert job["status"] == "succeeded", job
    assert (job["total_rows"], job["rows_done"]) == (7, 7)
    assert (job["created"], job["loaded"], job["refused"]) == (5, 5, 2)
    assert job["failure"] is None
    assert job["finished_at"]
    assert [(e["row"], e["code"]) for e in job["errors"]] == [
        (4, "id_number_checksum"), (8, "id_number_malformed")]
    assert job["errors"][0]["id_number"] == "350623********123X"
    assert csv_answer.status_code == 200
    assert csv_answer.headers["content-type"].startswith("text/csv")
    lines = csv_answer.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "row,code,detail,id_number"
    assert lines[1].startswith("4,id_number_checksum,")
    assert lines[1].endswith(
        ",350623********123X")
    assert lines[2].startswith("8,id_number_malformed,")
    assert ",'=HYPER" in lines[2]
    assert bad_id not in csv_answer.text
    assert await people_in(identity_sql, grid) == 5


async def test_only_the_uploader_and_admins_or_supervisors_in_scope_read_an_import(
    identity_app: Any, make_token: Any
) -> None:
    grid = new_grid()
    uploader = worker(make_token, grid)
    rows = [[unique_id_number(), "许一", "", "H1", grid, ""], ["123", "许二", "", "", grid, ""]]
    readers = {
        "admin": (bearer(make_token(roles=["admin"])), 200),
        "supervisor of the town": (bearer(make_token(roles=["supervisor"],
                                                     regions=[grid[:9]])), 200),
        "supervisor elsewhere": (bearer(make_token(roles=["supervisor"],
                                                   regions=["350627"])), 404),
        "another worker of the grid": (worker(make_token, grid), 404),
        "a resident": (bearer(make_token(roles=["resident"])), 404),
    }
    async with running(identity_app()) as client:
        job = await import_file(client, uploader, "people.csv", _csv(rows))
        answers = {
            name: (await client.get(f"{IMPORTS}/{job['id']}", headers=headers),
                   await client.get(job["errors_url"], headers=headers), status)
            for name, (headers, status) in readers.items()
        }
        unknown = await client.get(f"{IMPORTS}/{uuid.uuid4()}", headers=uploader)
    for name, (read, errors, status) in answers.items():
        assert (read.status_code, errors.status_code) == (status, status), name
        if status == 404:
            assert_problem(read, 404, "import_not_found")
            assert_problem(errors, 404, "import_not_found")
    assert_problem(unknown, 404, "import_not_found")


async def test_a_zip_bomb_sheet_is_refused_from_its_declared_size_before_parsing(
    identity_app: Any, make_token: Any, identity_sql: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1 MB of upload once unpacked to 315 MB of sheet XML; here 16 MB of highly repetitive
    rows (about 30 KB zipped) against a 4 MB limit."""
    grid, uploader = new_grid(), uuid.uuid4()
    row = f'<row><c t="inlineStr"><is><t>{grid}</t></is></c></row>'.encode() * 1000

    def bomb(xml: bytes) -> Any:
        head, _, tail = xml.partition(b"</sheetData>")
        yield head
        for _ in range(16 * 1024 * 1024 // len(row)):
            yield row
        yield b"</sheetData>" + tail

    data = with_sheet_xml(xlsx([[unique_id_number(), "林", grid, "H1"]]), bomb)
    assert len(data) < 200_000

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the workbook was parsed")

    monkeypatch.setattr(spreadsheets, "load_workbook", never)
    async with running(identity_app(max_import_xml_bytes=4 * 1024 * 1024)) as client:
        answer = await client.post(IMPORTS, headers=worker(make_token, grid, uploader),
                                   files={"file": ("people.xlsx", data, "application/zip")})
    assert_problem(answer, 413, "spreadsheet_too_large")
    assert answer.json()["max_uncompressed_bytes"] == 4 * 1024 * 1024
    assert await jobs_by(identity_sql, uploader) == 0
    assert await people_in(identity_sql, grid) == 0


def test_the_reported_sheet_is_refused_by_default_from_its_zip_directory_alone() -> None:
    """The sheet of the incident: 315 MB of XML declared in the zip directory of a small
    upload. The default limit refuses it from the directory, without inflating anything."""
    data = bytearray(xlsx([[unique_id_number(), "林", "350626106001001", "H1"]]))
    entry = data.index(b"PK\x01\x02")  # the central directory: one entry per part
    while data[entry + 46:entry + 46 + len(SHEET)] != SHEET.encode():
        entry = data.index(b"PK\x01\x02", entry + 4)
    data[entry + 24:entry + 28] = (315 * 1024 * 1024).to_bytes(4, "little")  # uncompressed
    with pytest.raises(PayloadTooLarge) as refused:
        spreadsheets.check_xlsx_sizes(
            bytes(data), Settings.model_fields["max_import_xml_bytes"].default)
    assert refused.value.code == "spreadsheet_too_large"
    assert refused.value.extra["uncompressed_bytes"] > 315 * 1024 * 1024


async def test_a_sheet_declaring_too_many_rows_is_refused_before_its_rows_are_read(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    grid, uploader = new_grid(), uuid.uuid4()
    small = xlsx([[unique_id_number(), "林", grid, "H1"]])
    data = with_sheet_xml(small, lambda xml: [xml.replace(
        b"<sheetData>", b'<dimension ref="A1:D3000001"/><sheetData>', 1)])
    async with running(identity_app()) as client:
        answer = await client.post(IMPORTS, headers=worker(make_token, grid, uploader),
                                   files={"file": ("people.xlsx", data, "application/zip")})
    assert_problem(answer, 413, "too_many_rows")
    assert await jobs_by(identity_sql, uploader) == 0


async def test_a_file_found_too_long_while_read_fails_its_import_and_writes_nothing(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    """A CSV declares no row count (nor does a sheet without a dimension): the rows are
    counted as they stream, and none is written unless the whole file was read."""
    grid = new_grid()
    headers = worker(make_token, grid)
    rows = [[unique_id_number(), f"蔡{n}", "", "H1", grid, ""] for n in range(6)]
    async with running(identity_app(max_import_rows=5)) as client:
        job = await import_file(client, headers, "people.csv", _csv(rows))
    assert job["status"] == "failed"
    assert job["failure"]["code"] == "too_many_rows"
    assert (job["rows_done"], job["created"]) == (0, 0)
    assert await people_in(identity_sql, grid) == 0


async def test_other_requests_are_answered_while_a_large_sheet_is_read(
    identity_app: Any, make_token: Any
) -> None:
    """The rows are read in a worker thread: /healthz, asked every 20 ms from before the
    upload until the file has been read, answers each time in a fraction of what reading
    takes (the old handler parsed on the event loop, and nothing was answered meanwhile)."""
    grid = new_grid()
    headers = worker(make_token, grid)
    # ID numbers a digit short: every row is read and validated, none needs a write.
    data = xlsx([[f"3506231990{n:07d}", "林", grid, "H1"] for n in range(20_000)])
    lags: list[float] = []
    stop = asyncio.Event()
    async with running(identity_app(max_import_rows=20_000)) as client:

        async def ping() -> None:
            while not stop.is_set():
                due = time.perf_counter() + 0.02
                await asyncio.sleep(0.02)
                assert (await client.get("/healthz")).status_code == 200
                lags.append(time.perf_counter() - due)  # late start counts: a blocked loop

        async def pinged() -> bool:
            return len(lags) >= 3

        pinger = asyncio.create_task(ping())
        await wait_until(pinged)
        started = time.perf_counter()
        accepted = await client.post(IMPORTS, headers=headers,
                                     files={"file": ("big.xlsx", data, "application/zip")})

        async def read() -> bool:
            job = (await client.get(f"{IMPORTS}/{accepted.json()['id']}",
                                    headers=headers)).json()
            return job["total_rows"] is not None

        if accepted.status_code == 202:
            await wait_until(read, within=60, interval=0.05)
        reading = time.perf_counter() - started
        stop.set()
        await pinger
        slowest = max(lags)
        assert slowest < reading / 2, (slowest, reading)
        assert accepted.status_code == 202, accepted.text
        job = await finished(client, headers, accepted.json()["id"], within=60)
    assert (job["status"], job["refused"]) == ("succeeded", 20_000), job["failure"]


async def test_an_import_whose_process_died_ends_failed_and_a_live_one_does_not(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    """A process killed mid-import leaves its job unfinished and no longer touched; any
    replica's sweeper marks it failed (import_interrupted). The rows it had committed stay."""
    grid, uploader = new_grid(), uuid.uuid4()
    dead, alive = uuid.uuid4(), uuid.uuid4()
    for job_id, quiet_for in ((dead, timedelta(hours=1)), (alive, timedelta(seconds=1))):
        await identity_sql(
            "INSERT INTO registry_imports (id, uploaded_by, scope_regions, format, status, "
            "total_rows, rows_done, created, updated, refused, heartbeat_at) VALUES (:i, :u, "
            "ARRAY[:g], 'csv', 'writing', 1000, 400, 400, 0, 0, now() - CAST(:q AS interval))",
            i=job_id, u=uploader, g=grid, q=quiet_for)
    headers = worker(make_token, grid, uploader)
    app = identity_app(import_sweep_seconds=0.1, import_stale_seconds=300)
    async with running(app) as client:
        ended = await finished(client, headers, str(dead), within=20)
        other = (await client.get(f"{IMPORTS}/{alive}", headers=headers)).json()
    assert ended["status"] == "failed"
    assert ended["failure"]["code"] == "import_interrupted"
    assert ended["rows_done"] == 400
    assert (other["status"], other["failure"]) == ("writing", None)
    await identity_sql("UPDATE registry_imports SET finished_at = now() WHERE id = :i",
                       i=alive)


async def test_an_import_cut_short_by_shutdown_says_so_and_keeps_what_it_wrote(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    grid = new_grid()
    headers = worker(make_token, grid)
    rows = [[unique_id_number(), f"陈{n}", "", "H1", grid, ""] for n in range(1000)]
    app = identity_app(import_batch_rows=5, import_drain_seconds=0)
    async with running(app) as client:
        answer = await client.post(IMPORTS, headers=headers,
                                   files={"file": ("people.csv", _csv(rows), "text/csv")})
        job_id = answer.json()["id"]

        async def writing() -> bool:
            job = (await client.get(f"{IMPORTS}/{job_id}", headers=headers)).json()
            return job["rows_done"] > 0

        await wait_until(writing, within=30)
    async with running(identity_app()) as client:
        job = (await client.get(f"{IMPORTS}/{job_id}", headers=headers)).json()
    assert job["status"] == "failed", job
    assert job["failure"]["code"] == "import_interrupted"
    assert 0 < job["rows_done"] < 1000
    assert await people_in(identity_sql, grid) == job["created"] == job["rows_done"]
