"""The case lifecycle as one pure state machine, plus intake rules (templates, duplicates,
case numbers). No I/O here: service.py loads facts, asks this module, stores the answer.

Lifecycle (GB/T 30428 and the article's four musts)::

    reported ──assign──▶ dispatched ──accept──▶ accepted ──start──▶ in_progress
       │  ▲                 │  ▲  │               │  │                 │
     reject│             return│ assign(transfer/escalated)            submit_result
       ▼  │                 ▼  │                                       ▼
    rejected            returned ──assign (dispatcher re-dispatch)   result_submitted
                                                                      │verify
                                      in_progress ◀──verify(failed)───┤
                                                                      ▼ verify(passed)
                                    rated ◀──rate── closed ◀──close── verified
                                      └──rework (dissatisfied)──▶ in_progress

Side paths and where they live:
- *returned* (回退) is a status: the unit said "not ours"; routing queues it for the dispatcher,
  whose re-dispatch arrives as ``assign``.
- *escalated* (上报) and *transfer* are re-assignments decided by routing; they arrive as
  ``assign`` with that reason while the case is being handled, and reset it to ``dispatched``
  for the new unit.
- *extended* (延期) changes a deadline, not the status (routing owns deadlines).
- *rework* (重办) takes a rated case whose reporter was dissatisfied back to ``in_progress``.

Every action names who may take it (role) and over what (scope): members of the assigned unit,
staff whose regions cover the case, the reporter, or the system (routing's decisions and timers,
the feedback service's default rating).
"""

from __future__ import annotations

import difflib
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from services.events import messages
from shared.problems import AppError, Conflict, Forbidden, RuleViolation
from shared.regions import covers


class Status(StrEnum):
    REPORTED = "reported"
    REJECTED = "rejected"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESULT_SUBMITTED = "result_submitted"
    VERIFIED = "verified"
    CLOSED = "closed"
    RATED = "rated"
    RETURNED = "returned"


class Action(StrEnum):
    ASSIGN = "assign"
    REJECT = "reject"
    ACCEPT = "accept"
    RETURN = "return"
    START = "start"
    SUBMIT_RESULT = "submit_result"
    VERIFY = "verify"
    CLOSE = "close"
    RATE = "rate"
    REWORK = "rework"


HANDLING = frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.IN_PROGRESS})

# (action, from) -> to. ``verify`` is the one action with two outcomes: see ``_target``.
TRANSITIONS: dict[tuple[Action, Status], Status] = {
    (Action.ASSIGN, Status.REPORTED): Status.DISPATCHED,
    (Action.ASSIGN, Status.RETURNED): Status.DISPATCHED,
    (Action.ASSIGN, Status.DISPATCHED): Status.DISPATCHED,
    (Action.ASSIGN, Status.ACCEPTED): Status.DISPATCHED,
    (Action.ASSIGN, Status.IN_PROGRESS): Status.DISPATCHED,
    (Action.REJECT, Status.REPORTED): Status.REJECTED,
    (Action.REJECT, Status.RETURNED): Status.REJECTED,
    (Action.ACCEPT, Status.DISPATCHED): Status.ACCEPTED,
    (Action.RETURN, Status.DISPATCHED): Status.RETURNED,
    (Action.RETURN, Status.ACCEPTED): Status.RETURNED,
    (Action.START, Status.ACCEPTED): Status.IN_PROGRESS,
    (Action.SUBMIT_RESULT, Status.ACCEPTED): Status.RESULT_SUBMITTED,
    (Action.SUBMIT_RESULT, Status.IN_PROGRESS): Status.RESULT_SUBMITTED,
    (Action.VERIFY, Status.RESULT_SUBMITTED): Status.VERIFIED,
    (Action.CLOSE, Status.VERIFIED): Status.CLOSED,
    (Action.RATE, Status.CLOSED): Status.RATED,
    (Action.REWORK, Status.RATED): Status.IN_PROGRESS,
}

UNIT_ROLES = frozenset({"dept_staff", "dept_admin", "grid_worker"})
VERIFIER_ROLES = frozenset({"grid_worker", "dispatcher", "supervisor"})
DISPATCH_ROLES = frozenset({"dispatcher", "supervisor"})
REASON_REQUIRED = frozenset({Action.REJECT, Action.RETURN})


# The machine refuses an action with one of three errors, each with a stable ``code``: the
# actor may not (Forbidden, 403), the case is not in a state for it (Conflict, 409), or the
# request is incomplete (RuleViolation, 422).
REFUSALS: tuple[type[AppError], ...] = (Forbidden, Conflict, RuleViolation)


@dataclass(frozen=True)
class Actor:
    role: str  # the role the actor acts in ("system" for routing's and feedback's decisions)
    subject: uuid.UUID | None = None
    roles: frozenset[str] = frozenset()
    regions: tuple[str, ...] = ()
    departments: tuple[uuid.UUID, ...] = ()
    unit_id: uuid.UUID | None = None  # the unit the actor acts for, when there is one

    @property
    def is_system(self) -> bool:
        return self.role == "system"

    def covers(self, region_code: str) -> bool:
        return "admin" in self.roles or any(covers(r, region_code) for r in self.regions)


SYSTEM = Actor(role="system")


@dataclass(frozen=True)
class Case:
    """The facts the machine decides on."""

    status: Status
    region_code: str
    reporter_id: uuid.UUID | None
    category_code: str | None
    assignee_unit_id: uuid.UUID | None = None
    dispatch_trail: bool = False  # at least one assignment recorded
    result_recorded: bool = False
    open_subtasks: frozenset[uuid.UUID] = frozenset()
    rating: str | None = None


@dataclass(frozen=True)
class Command:
    action: Action
    actor: Actor
    reason: str | None = None
    passed: bool | None = None  # verify
    result: str | None = None  # submit_result
    unit_id: uuid.UUID | None = None  # assign: the new unit
    assign_reason: str | None = None  # assign: initial, redispatch, transfer, escalated
    rating: str | None = None  # rate


def allowed_actions(case: Case) -> set[Action]:
    return {action for (action, source) in TRANSITIONS if source == case.status}


def _authorise(case: Case, cmd: Command) -> None:
    actor, action = cmd.actor, cmd.action
    if action in (Action.ASSIGN, Action.REWORK):
        if not actor.is_system:
            raise Forbidden(f"{action} is decided by the platform", code="system_only")
        return
    if action in (Action.ACCEPT, Action.RETURN, Action.START, Action.SUBMIT_RESULT):
        if actor.role not in UNIT_ROLES or actor.role not in actor.roles:
            raise Forbidden(f"{action} is for the handling unit", code="role_required")
        if case.assignee_unit_id is None or case.assignee_unit_id not in actor.departments:
            raise Forbidden("this case is not assigned to your unit", code="not_assigned")
        return
    if action == Action.VERIFY:
        if actor.role not in VERIFIER_ROLES or actor.role not in actor.roles:
            raise Forbidden("verification is for grid or dispatch", code="role_required")
        if not actor.covers(case.region_code):
            raise Forbidden("this case is outside your region", code="out_of_scope")
        return
    if action in (Action.REJECT, Action.CLOSE):
        if actor.is_system and action == Action.CLOSE:
            return
        if actor.role not in DISPATCH_ROLES or actor.role not in actor.roles:
            raise Forbidden(f"{action} is for the dispatcher", code="role_required")
        if not actor.covers(case.region_code):
            raise Forbidden("this case is outside your region", code="out_of_scope")
        return
    if action == Action.RATE:
        if actor.is_system:
            return
        if actor.role != "resident" or actor.subject is None or actor.subject != case.reporter_id:
            raise Forbidden("only the reporter rates a case", code="not_reporter")
        return
    raise RuleViolation(f"unknown action {action}", code="unknown_action")


def _check_inputs(case: Case, cmd: Command) -> None:
    if cmd.action in REASON_REQUIRED and not (cmd.reason and cmd.reason.strip()):
        raise RuleViolation(f"{cmd.action} needs a reason", code="reason_required")
    if cmd.action == Action.ASSIGN and cmd.unit_id is None:
        raise RuleViolation("an assignment names its unit", code="unit_required")
    if cmd.action == Action.ASSIGN and case.status in HANDLING and cmd.assign_reason not in (
        "transfer",
        "escalated",
    ):
        raise Conflict("a case in handling is only re-assigned by transfer or escalation",
                       code="illegal_transition")
    if cmd.action == Action.SUBMIT_RESULT:
        if not (cmd.result and cmd.result.strip()):
            raise RuleViolation("a result needs its text", code="result_required")
        if case.open_subtasks:
            raise Conflict("assisting units have not all answered or timed out",
                           code="co_handling_pending")
    if cmd.action == Action.VERIFY:
        if cmd.passed is None:
            raise RuleViolation("verify says passed or not", code="verdict_required")
        if not cmd.passed and not (cmd.reason and cmd.reason.strip()):
            raise RuleViolation("a failed check says why", code="reason_required")
    if cmd.action == Action.CLOSE:
        missing = four_musts_missing(case)
        if missing:
            raise Conflict("cannot close: " + ", ".join(missing), code="four_musts_unmet")
    if cmd.action == Action.RATE and cmd.rating not in RATINGS:
        raise RuleViolation("rating must be one of " + ", ".join(RATINGS), code="rating_invalid")
    if cmd.action == Action.REWORK and case.rating != "dissatisfied":
        raise Conflict("rework follows a dissatisfied rating", code="illegal_transition")


RATINGS = ("satisfied", "basically_satisfied", "dissatisfied")


def four_musts_missing(case: Case) -> list[str]:
    """What closing still lacks: classified, dispatch trail, handling result (the fourth,
    the rating, comes after closing and completes the loop)."""
    missing = []
    if not case.category_code:
        missing.append("classification")
    if not case.dispatch_trail:
        missing.append("dispatch trail")
    if not case.result_recorded:
        missing.append("handling result")
    return missing


def _target(case: Case, cmd: Command) -> Status:
    target = TRANSITIONS.get((cmd.action, case.status))
    if target is None:
        raise Conflict(f"cannot {cmd.action} a case that is {case.status}",
                       code="illegal_transition")
    if cmd.action == Action.VERIFY and not cmd.passed:
        return Status.IN_PROGRESS
    return target


def decide(case: Case, cmd: Command) -> Case:
    """Apply ``cmd`` to ``case`` or raise one of ``REFUSALS``; the input is never changed."""
    _authorise(case, cmd)
    target = _target(case, cmd)
    _check_inputs(case, cmd)
    changes: dict[str, Any] = {"status": target}
    if cmd.action == Action.ASSIGN:
        # A new unit starts its own co-handling (also after a return: the old one lapsed).
        changes.update(assignee_unit_id=cmd.unit_id, dispatch_trail=True,
                       open_subtasks=frozenset())
    elif cmd.action == Action.RETURN:
        changes["assignee_unit_id"] = None
    elif cmd.action == Action.SUBMIT_RESULT:
        changes["result_recorded"] = True
    elif cmd.action == Action.VERIFY and not cmd.passed:
        changes["result_recorded"] = False  # the failed result must be redone
    elif cmd.action == Action.RATE:
        changes["rating"] = cmd.rating
    elif cmd.action == Action.REWORK:
        changes.update(result_recorded=False, rating=None)
    return replace(case, **changes)


# -- intake rules ------------------------------------------------------------------------------

FieldType = Literal["text", "number", "choice", "date", "phone"]
_PHONE = re.compile(r"^(1[0-9]{10}|0[0-9]{2,3}-?[0-9]{7,8})$")  # ASCII digits only


@dataclass(frozen=True)
class TemplateField:
    key: str
    label: str
    type: FieldType
    required: bool = False
    choices: tuple[str, ...] = ()
    max_length: int = 500


def _field_refused(code: str, key: str, detail: str) -> RuleViolation:
    """A template value refused: the problem names the field it is about (``field``, the key)
    and its ``detail`` names it as the reporter read it (the label, in Chinese)."""
    return RuleViolation(detail, code=code, extra={"field": key})


def validate_fields(
    template: list[TemplateField], values: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Check reporter-entered values against the category's template; return clean values.
    A refused value raises RuleViolation (422) naming the ``field``."""
    values = dict(values or {})
    known = {f.key for f in template}
    for key in values:
        if key not in known:
            raise _field_refused("template_field_unknown", key, messages.field_unknown(key))
    clean: dict[str, Any] = {}
    for spec in template:
        value = values.get(spec.key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.required:
                raise _field_refused("template_field_missing", spec.key,
                                     messages.field_missing(spec.label))
            continue
        clean[spec.key] = _coerce(spec, value)
    return clean


def _coerce(spec: TemplateField, value: Any) -> Any:
    def bad(kind: str) -> RuleViolation:
        choices = "、".join(messages.choice_label(spec.key, c) for c in spec.choices)
        detail = messages.field_invalid(spec.label, kind, max_length=spec.max_length,
                                        choices=choices)
        return _field_refused("template_field_invalid", spec.key, detail)

    if spec.type == "text":
        if not isinstance(value, str) or len(value) > spec.max_length or "\x00" in value:
            raise bad("text")
        return value.strip()
    if spec.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise bad("number")
        return value
    if spec.type == "choice":
        if value not in spec.choices:  # the code is what is stored, not the label
            raise bad("choice")
        return value
    if spec.type == "date":
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise bad("date") from None
    if spec.type == "phone":
        if not isinstance(value, str) or not _PHONE.match(value.replace(" ", "")):
            raise bad("phone")
        return value.replace(" ", "")
    raise bad("unsupported")


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:] if len(value) >= 7 else "****"


def case_number(reported_at_local: datetime, sequence: int, prefix: str = "ZZ") -> str:
    """``ZZ-20261126-000123``: the day in Asia/Shanghai and that day's sequence."""
    return f"{prefix}-{reported_at_local:%Y%m%d}-{sequence:06d}"


def _bigrams(text: str) -> set[str]:
    compact = re.sub(r"\s+", "", text.lower())
    return {compact[i : i + 2] for i in range(max(len(compact) - 1, 1))}


def similar_text(a: str, b: str, *, threshold: float = 0.5) -> bool:
    """Similar enough to hint a duplicate (Chinese text has no spaces: character bigrams)."""
    x, y = _bigrams(a), _bigrams(b)
    jaccard = len(x & y) / len(x | y) if x | y else 0.0
    return jaccard >= threshold or difflib.SequenceMatcher(None, a, b).ratio() >= 0.8
