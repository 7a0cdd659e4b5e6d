"""Operator commands of a service (``python -m services.<name>.cli <command>``): the argument
parsing and the database a command runs against. What a command does is the service's."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.db.batches import MakeUow
from shared.db.database import Database
from shared.db.uow import UnitOfWork
from shared.settings import ServiceSettings

Result = TypeVar("Result")


@dataclass(frozen=True)
class BatchCommand:
    """A command that works through stored rows ``--batch-size`` at a time; ``run`` takes
    the batch size and returns the exit status."""

    help: str
    run: Callable[[int], Coroutine[Any, Any, int]]


def run_batch_commands(
    prog: str, commands: Mapping[str, BatchCommand], argv: list[str] | None = None
) -> int:
    """Parse ``argv`` (the process's arguments when None) and run the command it names."""
    parser = argparse.ArgumentParser(prog=prog)
    named = parser.add_subparsers(dest="command", required=True)
    for name, command in commands.items():
        named.add_parser(name, help=command.help).add_argument(
            "--batch-size", type=int, default=500)
    args = parser.parse_args(argv)
    return asyncio.run(commands[args.command].run(args.batch_size))


async def with_service_database(
    settings: ServiceSettings, job: Callable[[MakeUow], Awaitable[Result]]
) -> Result:
    """Run ``job`` with units of work on the service's own database (its schema, its name as
    the outbox producer); the connections are closed after, whatever happens."""
    database = Database(settings)
    try:
        return await job(lambda: UnitOfWork(database, producer=settings.service_name))
    finally:
        await database.dispose()
