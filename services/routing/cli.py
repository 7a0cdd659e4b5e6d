"""Operator commands of the routing service.

``python -m services.routing.cli mask-free-text [--batch-size N]`` masks the phone and ID
numbers in free texts stored before they were masked on the way in, keeping each original
encrypted (service/text_backfill.py). Run it once after migrating to 0005, with the service's
own settings (its PII keys); running it again changes nothing.
"""

from __future__ import annotations

import sys

from services.routing.service.text_backfill import mask_stored_texts
from services.routing.settings import Settings
from shared.cli import BatchCommand, run_batch_commands, with_service_database


async def mask_free_text(*, batch_size: int, settings: Settings | None = None) -> int:
    settings = settings or Settings()
    count = await with_service_database(settings, lambda make_uow: mask_stored_texts(
        make_uow, settings.pii_cipher(), batch_size=batch_size))
    print(f"masked: {count.extensions} extension reasons, {count.subtasks} sub-tasks, "
          f"{count.notes} assignment notes, {count.override_notes} calendar notes")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_batch_commands("python -m services.routing.cli", {
        "mask-free-text": BatchCommand("mask phone and ID numbers in texts stored earlier",
                                       lambda size: mask_free_text(batch_size=size)),
    }, argv)


if __name__ == "__main__":
    sys.exit(main())
