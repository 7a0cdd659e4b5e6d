"""The events service's collaborators, built once by ``create_app`` and set as the runtime's
``context``: routes reach it through ``api.Context``, nothing by string key."""

from __future__ import annotations

from dataclasses import dataclass

from services.events.service import Clock, utc_now
from services.events.settings import Settings
from services.events.storage import AttachmentStorage, LocalDirStorage
from shared.contracts.events import ReporterSeal
from shared.pii import PiiCipher


@dataclass(frozen=True)
class EventsContext:
    settings: Settings
    pii: PiiCipher
    # Seals a sensitive tip's reporter for the feedback service (shared.contracts.events).
    reporter_seal: ReporterSeal
    storage: AttachmentStorage
    clock: Clock = utc_now  # tests move time with their own


def build_context(
    settings: Settings, *, clock: Clock | None = None, storage: AttachmentStorage | None = None
) -> EventsContext:
    """The context from settings; ``clock`` and ``storage`` replace the defaults (tests)."""
    return EventsContext(
        settings=settings,
        pii=settings.pii_cipher(),
        reporter_seal=ReporterSeal(settings.reporter_seal_keys,
                                   active_kid=settings.reporter_seal_active_key_id),
        storage=storage or LocalDirStorage(settings.attachment_dir),
        clock=clock or utc_now,
    )
