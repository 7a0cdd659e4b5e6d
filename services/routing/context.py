"""The routing service's collaborators, built once by ``create_app`` and set as
``runtime.context`` at start-up: clock, base working calendar, reminder fractions, the PII
cipher that keeps what staff type, and the co-handling default."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

from services.routing.service import Clock
from services.routing.settings import Settings
from shared.calendar import WorkingCalendar
from shared.pii import PiiCipher


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RoutingContext:
    # An aware datetime; tests inject one that they move instead of waiting.
    clock: Clock
    # The configured office hours; each decision adds the override table (service.calendar).
    calendar: WorkingCalendar
    reminder_fractions: list[float]
    # Keeps the originals of what staff type (services/routing/service/originals.py).
    pii: PiiCipher
    co_handling_default_hours: float
    # Working days a grid worker has for a case's on-site verification (service/workforce).
    grid_verification_due_days: int = 1


def working_calendar(settings: Settings) -> WorkingCalendar:
    windows = []
    for window in settings.working_windows:
        start, _, end = window.partition("-")
        windows.append((time.fromisoformat(start.strip()), time.fromisoformat(end.strip())))
    return WorkingCalendar(windows=windows)


def build_context(settings: Settings, clock: Clock | None = None) -> RoutingContext:
    """A malformed PII keyring or working window fails here, at start, not at first use."""
    return RoutingContext(
        clock=clock or utc_now,
        calendar=working_calendar(settings),
        reminder_fractions=list(settings.reminder_fractions),
        pii=settings.pii_cipher(),
        co_handling_default_hours=settings.co_handling_default_hours,
        grid_verification_due_days=settings.grid_verification_due_days,
    )
