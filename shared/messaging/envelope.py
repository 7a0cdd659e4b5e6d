"""The envelope every integration event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

M = TypeVar("M", bound=BaseModel)


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str  # "<producer>.<event>", e.g. "events.event_reported"
    version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str
    correlation_id: str | None = None
    payload: dict[str, Any]

    @property
    def routing_key(self) -> str:
        """The type's key; an event whose contract has a topic is published under
        ``<routing_key>.<topic>`` (see ``publish_key``)."""
        return routing_key(self.event_type, self.version)

    def payload_as(self, model: type[M]) -> M:
        return model.model_validate(self.payload)

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, body: bytes) -> Envelope:
        return cls.model_validate(orjson.loads(body))


def routing_key(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}"


def publish_key(envelope: Envelope, topic: str | None) -> str:
    return envelope.routing_key if topic is None else f"{envelope.routing_key}.{topic}"


def every_topic(key: str) -> str:
    """The binding that takes an event type's messages whatever their topic (``#`` is zero or
    more words)."""
    return f"{key}.#"
