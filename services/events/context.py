"""The events service's collaborators, built once by ``create_app`` and set as the runtime's
``context``: routes reach it through ``api.Context``, nothing by string key."""

from __future__ import annotations

from dataclasses import dataclass

from services.events.service import Clock, utc_now
from services.events.settings import Settings
from services.events.storage import AttachmentStorage, LocalDirStorage, S3Storage
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
        storage=storage or storage_from(settings),
        clock=clock or utc_now,
    )


def storage_from(settings: Settings) -> AttachmentStorage:
    """The attachment store EHOME_EVENTS_STORAGE names: a local directory or an S3 bucket."""
    if settings.storage == "s3":
        return S3Storage.connect(
            endpoint_url=settings.s3_endpoint_url, bucket=settings.s3_bucket,
            region=settings.s3_region, access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key, prefix=settings.s3_prefix,
        )
    return LocalDirStorage(settings.attachment_dir)
