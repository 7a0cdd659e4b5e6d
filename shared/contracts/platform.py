"""Platform-level events that belong to no domain: used by the infrastructure's own checks."""

from __future__ import annotations

from pydantic import BaseModel

from shared.contracts import contract


@contract("platform.probe")
class Probe(BaseModel):
    """A test signal sent through outbox, broker and inbox to prove the pipe end to end."""

    sequence: int
    note: str = ""
