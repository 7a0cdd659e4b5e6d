"""Operator commands of the routing service.

``python -m services.routing.cli mask-free-text [--batch-size N]`` masks the phone and ID
numbers in free texts stored before they were masked on the way in, keeping each original
encrypted (service/text_backfill.py). Run it once after migrating to 0005, with the service's
own settings (its PII keys); running it again changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.routing.service.text_backfill import mask_stored_texts
from services.routing.settings import Settings
from shared.db.database import Database
from shared.db.uow import UnitOfWork


async def mask_free_text(*, batch_size: int, settings: Settings | None = None) -> int:
    settings = settings or Settings()
    database = Database(settings)
    try:
        count = await mask_stored_texts(lambda: UnitOfWork(database, producer="routing"),
                                        settings.pii_cipher(), batch_size=batch_size)
    finally:
        await database.dispose()
    print(f"masked: {count.extensions} extension reasons, {count.subtasks} sub-tasks, "
          f"{count.notes} assignment notes, {count.override_notes} calendar notes")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.routing.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    masker = commands.add_parser("mask-free-text",
                                 help="mask phone and ID numbers in texts stored earlier")
    masker.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args(argv)
    if args.command == "mask-free-text":
        return asyncio.run(mask_free_text(batch_size=args.batch_size))
    return 2


if __name__ == "__main__":
    sys.exit(main())
