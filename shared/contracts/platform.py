"""Platform-level events that belong to no domain: used by the infrastructure's own checks."""

from __future__ import annotations

from pydantic import BaseModel

from shared.contracts import contract


@contract("platform.probe")
class Probe(BaseModel):
    """A test signal sent through outbox, broker and inbox to prove the pipe end to end."""

    sequence: int
    note: str = ""


# The closed loop's three messages without their domain (bench/shape): a report opened, its
# assignment decided, the case file's record of it. Nobody subscribes to the last one.
class ShapeMessage(BaseModel):
    report: int


@contract("platform.shape_reported")
class ShapeReported(ShapeMessage):
    pass


@contract("platform.shape_assigned")
class ShapeAssigned(ShapeMessage):
    pass


@contract("platform.shape_recorded")
class ShapeRecorded(ShapeMessage):
    pass
