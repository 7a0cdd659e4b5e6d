"""Operator commands of the identity service.

``python -m services.identity.cli import-registry FILE [--region CODE] [--batch-size N]``
loads a CSV or XLSX population-registry file with a progress bar, through the same rules and
writes as the API import (each batch commits on its own; bad rows are listed by number).

``python -m services.identity.cli republish-staff [--batch-size N]`` publishes every staff
account's directory entry again (``identity.staff_directory_changed``, through the outbox the
running service relays): the backfill for accounts made before the directory was published.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from tqdm import tqdm

from services.identity.context import build_context
from services.identity.realname import SandboxRealNameProvider
from services.identity.service.directory import republish_all
from services.identity.service.registry import prepare_import, write_entries
from services.identity.settings import Settings
from services.identity.spreadsheets import detect_format, read_rows
from services.identity.wechat import SandboxWeChat
from shared.auth.tokens import generate_signing_key
from shared.db.database import Database
from shared.db.uow import UnitOfWork
from shared.problems import AppError
from shared.regions import covers


async def import_registry(name: str, data: bytes, *, region: str | None, batch_size: int,
                          settings: Settings | None = None) -> int:
    settings = settings or Settings()
    try:
        rows = read_rows(data, detect_format(name, None, data[:4]),
                         max_rows=max(settings.max_import_rows, 10_000_000))
    except AppError as problem:
        print(f"{name}: {problem.code}: {problem.detail}", file=sys.stderr)
        return 2
    # Signing and WeChat play no part in an import; the sandboxes keep it offline.
    ctx = build_context(settings, generate_signing_key(), wechat=SandboxWeChat(),
                        realname=SandboxRealNameProvider())
    prepared = prepare_import(
        rows, today=ctx.today(), may_enter=lambda code: region is None or covers(region, code)
    )
    database = Database(settings)
    created = updated = 0
    try:
        with tqdm(total=prepared.total_rows, unit="row", desc=name) as bar:
            bar.update(len(prepared.errors))
            for start in range(0, len(prepared.entries), batch_size):
                batch = prepared.entries[start:start + batch_size]
                made, changed = await write_entries(
                    make_uow=lambda: UnitOfWork(database, producer="identity"), ctx=ctx,
                    entries=batch, entered_by=None,
                )
                created, updated = created + made, updated + changed
                bar.update(len(batch))
    finally:
        await database.dispose()
    for error in prepared.errors:
        print(f"row {error.row}: {error.code}: {error.detail}", file=sys.stderr)
    print(f"{prepared.total_rows} rows: {created} created, {updated} updated, "
          f"{len(prepared.errors)} refused")
    return 1 if prepared.errors else 0


async def republish_staff(*, batch_size: int, settings: Settings | None = None) -> int:
    database = Database(settings or Settings())
    try:
        total = await republish_all(lambda: UnitOfWork(database, producer="identity"),
                                    batch_size=batch_size)
    finally:
        await database.dispose()
    print(f"{total} staff accounts republished")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.identity.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    importer = commands.add_parser("import-registry", help="load a CSV/XLSX registry file")
    importer.add_argument("file", type=Path)
    importer.add_argument("--region", help="refuse rows outside this region code")
    importer.add_argument("--batch-size", type=int, default=500)
    republisher = commands.add_parser(
        "republish-staff", help="publish every staff account's directory entry again")
    republisher.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args(argv)
    if args.command == "republish-staff":
        return asyncio.run(republish_staff(batch_size=args.batch_size))
    if args.command == "import-registry":
        data = args.file.read_bytes()
        return asyncio.run(import_registry(args.file.name, data, region=args.region,
                                           batch_size=args.batch_size))
    return 2


if __name__ == "__main__":
    sys.exit(main())
