"""Registry of integration-event schemas. Each producer declares its events in
``shared/contracts/<producer>.py``; consumers validate payloads against the same models."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

PRODUCERS = ("identity", "events", "routing", "feedback", "relief", "booking", "platform")

M = TypeVar("M", bound=type[BaseModel])


# A contract's topic: a word appended to an event's routing key, from its payload (JSON), so a
# consumer can leave a kind of these events unbound instead of receiving and declining them.
Topic = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True)
class Contract:
    event_type: str
    version: int
    model: type[BaseModel]
    topic: Topic | None = None

    @property
    def producer(self) -> str:
        return self.event_type.split(".", 1)[0]


_REGISTRY: dict[tuple[str, int], Contract] = {}


class UnknownContract(LookupError):
    pass


def contract(
    event_type: str, *, version: int = 1, topic: Topic | None = None
) -> Callable[[M], M]:
    """Class decorator: register a payload model as ``event_type`` version ``version``.
    ``topic``: see ``Topic``; the routing key is ``<type>.v<version>[.<topic>]``."""
    producer, _, name = event_type.partition(".")
    if producer not in PRODUCERS or not name:
        raise ValueError(f"event type {event_type!r} must be '<producer>.<event>'")

    def register(model: M) -> M:
        key = (event_type, version)
        existing = _REGISTRY.get(key)
        if existing is not None and existing.model is not model:
            raise ValueError(f"contract {event_type} v{version} is declared twice")
        _REGISTRY[key] = Contract(event_type, version, model, topic)
        return model

    return register


@functools.cache
def load_all() -> None:
    """Import every producer's contracts once (``get`` runs on every emit: import_module of an
    already imported module still costs a lookup and a lock per producer)."""
    for producer in PRODUCERS:
        importlib.import_module(f"shared.contracts.{producer}")


def get(event_type: str, version: int | None = None) -> Contract:
    load_all()
    if version is None:
        versions = [v for (t, v) in _REGISTRY if t == event_type]
        if not versions:
            raise UnknownContract(event_type)
        version = max(versions)
    try:
        return _REGISTRY[(event_type, version)]
    except KeyError:
        raise UnknownContract(f"{event_type} v{version}") from None


def validate_payload(
    event_type: str, version: int | None, payload: Any
) -> tuple[int, dict[str, Any]]:
    """Validate a payload (model or mapping) against its contract; return version and JSON."""
    found = get(event_type, version)
    if isinstance(payload, BaseModel):
        if not isinstance(payload, found.model):
            raise TypeError(f"{event_type} expects {found.model.__name__}")
        model = payload
    else:
        model = found.model.model_validate(payload)
    return found.version, model.model_dump(mode="json")


def topic_of(event_type: str, version: int, body: dict[str, Any]) -> str | None:
    """The topic of an event with this (validated, JSON) payload, if its contract has one."""
    topic = get(event_type, version).topic
    return topic(body) if topic is not None else None

