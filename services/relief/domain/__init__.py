"""The relief application lifecycle as one pure state machine, plus intake rules.
No I/O here: service.py loads the facts, asks this module, stores the answer.

Lifecycle (Fujian practice of 一键报难)::

    submitted --accept (town)--> in_review --3 approvals--> in_notice --7 days--> awaiting_approval
    submitted --reject (town, with reason)--> rejected          [stage town]
    in_review --any agency rejects--> rejected                  [stage joint_review]
    in_notice --objection upheld--> rejected                    [stage notice]
    awaiting_approval --approve (civil affairs)--> approved --first payment--> disbursing
    awaiting_approval --reject (civil affairs)--> rejected      [stage approval]
    any open status --withdraw (applicant)--> withdrawn

The joint review is 平安办 (ping_an_office), 民政局 (civil_affairs) and 农业农村局
(agriculture), each independently and in any order.

Decisions recorded here (and why):
- The town's acceptance opens the joint review at once: there is nothing between the two.
- A joint-review rejection ends the review at once; opinions not yet given are never asked
  for. The reasons are the rejecting opinions given by then (usually one).
- Minors are never publicised: when the applicant is a minor the public notice is skipped
  (no anonymised notice either: in a village an anonymised notice still identifies a child).
  The application goes straight to ``awaiting_approval``; the timeline says why.
- The notice lasts 7 calendar days (公示期7天 in the 低保审核确认办法 counts natural days); the
  approval deadline is 10 working days after the notice ends (or after the joint review,
  when the notice is skipped). Both deadlines are recorded, not enforced by refusing work.
- The notice's end needs no timer: an ``in_notice`` application whose notice has ended *is*
  awaiting approval (``effective_status``). Objections are taken only while the notice runs.
- An upheld objection rejects the application (stage ``notice``); a dismissed one only
  closes the objection. Approval is refused while any objection is open.
- Every rejection must reach the applicant within 3 working days: its deadline is recorded
  with the decision and the decision event is written in the same transaction.
- Temporary assistance (临时救助) is one-off: one payment. 低保 and 特困 are paid monthly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from services.relief import messages
from services.relief.domain.intake import ADULT_AGE as ADULT_AGE
from services.relief.domain.intake import age_on as age_on
from services.relief.domain.intake import id_number_valid as id_number_valid
from services.relief.domain.intake import is_minor as is_minor
from services.relief.domain.intake import month_start as month_start
from services.relief.domain.intake import yuan as yuan
from shared.calendar import WorkingCalendar
from shared.problems import Conflict, Forbidden, RuleViolation
from shared.regions import covers

NOTICE_DAYS = 7
APPROVAL_WORKING_DAYS = 10
REJECTION_NOTICE_WORKING_DAYS = 3


class Kind(StrEnum):
    DIBAO = "dibao"  # 低保 minimum living allowance
    TEKUN = "tekun"  # 特困供养 extreme-poverty support
    TEMPORARY = "temporary"  # 临时救助 temporary assistance


class Status(StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    IN_NOTICE = "in_notice"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    DISBURSING = "disbursing"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


PAYABLE_STATUSES = frozenset({Status.APPROVED, Status.DISBURSING})

OPEN_STATUSES = frozenset(
    {Status.SUBMITTED, Status.IN_REVIEW, Status.IN_NOTICE, Status.AWAITING_APPROVAL}
)


class Agency(StrEnum):
    """Who acts on an application. Reviewers carry it in their token (``ext.agency``)."""

    TOWN = "town"  # the town's social-affairs office: accepts applications
    PING_AN_OFFICE = "ping_an_office"  # 平安办
    CIVIL_AFFAIRS = "civil_affairs"  # 民政局: joint review, objections, approval, payment
    AGRICULTURE = "agriculture"  # 农业农村局


# Paid every month by the monthly run; temporary assistance is one payment, posted singly.
MONTHLY_KINDS = frozenset({Kind.DIBAO, Kind.TEKUN})

JOINT_REVIEWERS: tuple[Agency, ...] = (
    Agency.PING_AN_OFFICE,
    Agency.CIVIL_AFFAIRS,
    Agency.AGRICULTURE,
)


class Stage(StrEnum):
    """Where a decision was taken (carried by ``relief.application_decided``)."""

    TOWN = "town"
    JOINT_REVIEW = "joint_review"
    NOTICE = "notice"
    APPROVAL = "approval"


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"  # the town at intake, civil affairs at approval
    REVIEW = "review"
    OBJECT = "object"
    RESOLVE_OBJECTION = "resolve_objection"
    APPROVE = "approve"
    WITHDRAW = "withdraw"
    DISBURSE = "disburse"


@dataclass(frozen=True)
class Actor:
    subject: uuid.UUID
    roles: frozenset[str] = frozenset()
    regions: tuple[str, ...] = ()
    agency: Agency | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def covers(self, region_code: str) -> bool:
        return self.is_admin or any(covers(r, region_code) for r in self.regions)

    def is_reviewer_of(self, agency: Agency) -> bool:
        return "reviewer" in self.roles and self.agency == agency


@dataclass(frozen=True)
class Application:
    """The facts the machine decides on."""

    status: Status
    kind: Kind
    region_code: str
    applicant_id: uuid.UUID
    applicant_is_minor: bool = False
    # agency -> approved?  Only joint reviewers appear here.
    opinions: Mapping[Agency, bool] = field(default_factory=dict)
    notice_ends_at: datetime | None = None
    approval_due_at: datetime | None = None
    open_objections: int = 0
    payments: int = 0

    def effective_status(self, now: datetime) -> Status:
        """``in_notice`` turns into ``awaiting_approval`` when the notice ends, without a timer."""
        if (
            self.status == Status.IN_NOTICE
            and self.notice_ends_at is not None
            and now >= self.notice_ends_at
        ):
            return Status.AWAITING_APPROVAL
        return self.status

    def notice_running(self, now: datetime) -> bool:
        return self.effective_status(now) == Status.IN_NOTICE

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class Command:
    action: Action
    actor: Actor
    approve: bool | None = None  # review
    text: str | None = None  # reason, opinion, objection or resolution
    upheld: bool | None = None  # resolve_objection
    month: date | None = None  # disburse: first day of the month paid
    amount_fen: int | None = None  # disburse


@dataclass(frozen=True)
class Decision:
    """A final outcome to tell the applicant (``relief.application_decided``)."""

    outcome: Literal["approved", "rejected"]
    stage: Stage
    reasons_count: int
    decided_at: datetime
    notify_by: datetime  # the applicant must have heard by then


@dataclass(frozen=True)
class Outcome:
    application: Application
    step: str  # what the timeline records
    decision: Decision | None = None
    notice_started: bool = False
    notice_skipped: bool = False


# action -> (code, the request field that carries the text, its label in the catalog)
TEXT_REQUIRED = {
    Action.REJECT: ("reason_required", "reason", "reject_reason"),
    Action.OBJECT: ("objection_text_required", "text", "objection_text"),
    Action.RESOLVE_OBJECTION: ("resolution_required", "resolution", "resolution"),
}

# How the machine refuses (the API answers with the error as raised): the actor may not
# (403 Forbidden), the application is not in a state for it (409 Conflict), or the request
# is incomplete (422 RuleViolation, worded in Chinese for the person filling the form, with
# the request ``field`` it is about).


def missing_text(code: str, field: str, label_key: str) -> RuleViolation:
    """A required text left blank: the detail names the field's Chinese label."""
    return RuleViolation(messages.field_missing(label_key), code=code, extra={"field": field})


def _require_text(cmd: Command) -> None:
    required = TEXT_REQUIRED.get(cmd.action)
    if required and not (cmd.text and cmd.text.strip()):
        raise missing_text(*required)
    if cmd.action == Action.REVIEW:
        if cmd.approve is None:
            raise RuleViolation(messages.CHOOSE_OPINION, code="opinion_decision_required",
                                extra={"field": "approve"})
        if not (cmd.text and cmd.text.strip()):
            raise missing_text("opinion_required", "opinion", "opinion")


def _require_reviewer(app: Application, actor: Actor, *agencies: Agency) -> None:
    if not any(actor.is_reviewer_of(a) for a in agencies) and not actor.is_admin:
        names = ", ".join(a.value for a in agencies)
        raise Forbidden(f"this step is for reviewers of {names}", code="agency_required")
    if not actor.covers(app.region_code):
        raise Forbidden("this application is outside your region", code="out_of_scope")


def _illegal(action: Action, status: Status) -> Conflict:
    return Conflict(
        f"cannot {action} an application that is {status}", code="illegal_transition"
    )


def _rejected(
    app: Application, stage: Stage, reasons: int, now: datetime, calendar: WorkingCalendar
) -> tuple[Application, Decision]:
    decision = Decision(
        outcome="rejected",
        stage=stage,
        reasons_count=reasons,
        decided_at=now,
        notify_by=calendar.add_working_days(now, REJECTION_NOTICE_WORKING_DAYS),
    )
    return replace(app, status=Status.REJECTED), decision


@dataclass(frozen=True)
class _Moment:
    """What every step is decided against: the status as of ``now``, and the calendar."""

    status: Status
    now: datetime
    calendar: WorkingCalendar


def _withdraw(app: Application, cmd: Command, at: _Moment) -> Outcome:
    if cmd.actor.subject != app.applicant_id:
        raise Forbidden("only the applicant withdraws", code="not_applicant")
    if at.status not in OPEN_STATUSES:
        raise _illegal(cmd.action, at.status)
    return Outcome(replace(app, status=Status.WITHDRAWN), step="withdrawn")


def _accept(app: Application, cmd: Command, at: _Moment) -> Outcome:
    _require_reviewer(app, cmd.actor, Agency.TOWN)
    if at.status != Status.SUBMITTED:
        raise _illegal(cmd.action, at.status)
    return Outcome(replace(app, status=Status.IN_REVIEW), step="accepted")


def _reject(app: Application, cmd: Command, at: _Moment) -> Outcome:
    if at.status == Status.SUBMITTED:
        _require_reviewer(app, cmd.actor, Agency.TOWN)
        stage = Stage.TOWN
    elif at.status == Status.AWAITING_APPROVAL:
        _require_reviewer(app, cmd.actor, Agency.CIVIL_AFFAIRS)
        stage = Stage.APPROVAL
    else:
        _require_reviewer(app, cmd.actor, Agency.TOWN, Agency.CIVIL_AFFAIRS)
        raise _illegal(cmd.action, at.status)
    rejected, decision = _rejected(app, stage, 1, at.now, at.calendar)
    return Outcome(rejected, step=f"rejected_at_{stage}", decision=decision)


def _review(app: Application, cmd: Command, at: _Moment) -> Outcome:
    agency = cmd.actor.agency
    _require_reviewer(app, cmd.actor, *JOINT_REVIEWERS)
    if agency is None or agency not in JOINT_REVIEWERS:  # an admin has no agency to review for
        raise Forbidden("reviews are given by an agency", code="agency_required")
    if at.status != Status.IN_REVIEW:
        raise _illegal(cmd.action, at.status)
    if agency in app.opinions:
        raise Conflict(f"{agency} has already given its opinion", code="already_reviewed")
    opinions = {**app.opinions, agency: bool(cmd.approve)}
    reviewed = replace(app, opinions=opinions)
    if not cmd.approve:
        reasons = sum(1 for ok in opinions.values() if not ok)
        rejected, decision = _rejected(reviewed, Stage.JOINT_REVIEW, reasons, at.now, at.calendar)
        return Outcome(rejected, step=f"rejected_by_{agency}", decision=decision)
    if not all(opinions.get(a) for a in JOINT_REVIEWERS):
        return Outcome(reviewed, step=f"approved_by_{agency}")
    return _after_joint_review(reviewed, agency, now=at.now, calendar=at.calendar)


def _object(app: Application, cmd: Command, at: _Moment) -> Outcome:
    if at.status != Status.IN_NOTICE:
        raise Conflict("objections are taken during notice", code="notice_not_running")
    return Outcome(
        replace(app, open_objections=app.open_objections + 1), step="objection_recorded"
    )


def _resolve_objection(app: Application, cmd: Command, at: _Moment) -> Outcome:
    _require_reviewer(app, cmd.actor, Agency.CIVIL_AFFAIRS, Agency.TOWN)
    if app.open_objections <= 0 or at.status not in (
        Status.IN_NOTICE, Status.AWAITING_APPROVAL
    ):
        raise Conflict("there is no open objection", code="no_open_objection")
    resolved = replace(app, open_objections=app.open_objections - 1)
    if cmd.upheld:
        rejected, decision = _rejected(resolved, Stage.NOTICE, 1, at.now, at.calendar)
        return Outcome(rejected, step="objection_upheld", decision=decision)
    return Outcome(resolved, step="objection_dismissed")


def _approve(app: Application, cmd: Command, at: _Moment) -> Outcome:
    _require_reviewer(app, cmd.actor, Agency.CIVIL_AFFAIRS)
    if at.status == Status.IN_NOTICE:
        raise Conflict("the public notice has not ended yet", code="notice_running")
    if at.status != Status.AWAITING_APPROVAL:
        raise _illegal(cmd.action, at.status)
    if app.open_objections:
        raise Conflict("resolve the objections before approving", code="objections_open")
    if cmd.amount_fen is not None and (cmd.amount_fen <= 0 or app.kind not in MONTHLY_KINDS):
        raise RuleViolation(
            messages.MONTHLY_AMOUNT_INVALID, code="monthly_amount_invalid",
            extra={"field": "monthly_amount_fen"},
        )
    decision = Decision(
        outcome="approved", stage=Stage.APPROVAL, reasons_count=0, decided_at=at.now,
        notify_by=at.calendar.add_working_days(at.now, REJECTION_NOTICE_WORKING_DAYS),
    )
    return Outcome(replace(app, status=Status.APPROVED), step="approved", decision=decision)


def _disburse(app: Application, cmd: Command, at: _Moment) -> Outcome:
    _require_reviewer(app, cmd.actor, Agency.CIVIL_AFFAIRS)
    if at.status not in (Status.APPROVED, Status.DISBURSING):
        raise _illegal(cmd.action, at.status)
    if cmd.amount_fen is None or cmd.amount_fen <= 0:
        raise RuleViolation(messages.AMOUNT_INVALID, code="amount_invalid",
                            extra={"field": "amount_fen"})
    if cmd.month is None or cmd.month.day != 1:
        raise RuleViolation(messages.MONTH_INVALID, code="month_invalid",
                            extra={"field": "month"})
    if app.kind == Kind.TEMPORARY and app.payments >= 1:
        raise Conflict("temporary assistance is paid once", code="one_off_already_paid")
    return Outcome(
        replace(app, status=Status.DISBURSING, payments=app.payments + 1), step="disbursed"
    )


_STEPS: dict[Action, Callable[[Application, Command, _Moment], Outcome]] = {
    Action.WITHDRAW: _withdraw,
    Action.ACCEPT: _accept,
    Action.REJECT: _reject,
    Action.REVIEW: _review,
    Action.OBJECT: _object,
    Action.RESOLVE_OBJECTION: _resolve_objection,
    Action.APPROVE: _approve,
    Action.DISBURSE: _disburse,
}


def decide(
    app: Application, cmd: Command, *, now: datetime, calendar: WorkingCalendar
) -> Outcome:
    """Apply ``cmd`` to ``app`` at ``now``, or raise the refusal (``Forbidden``,
    ``Conflict`` or ``RuleViolation``, with its code) the API answers with."""
    _require_text(cmd)
    step = _STEPS.get(cmd.action)
    if step is None:
        raise RuleViolation(messages.UNKNOWN_ACTION, code="unknown_action")
    return step(app, cmd, _Moment(app.effective_status(now), now, calendar))


def _after_joint_review(
    app: Application, agency: Agency, *, now: datetime, calendar: WorkingCalendar
) -> Outcome:
    """All three agencies approved: public notice, or straight to approval for a minor."""
    if app.applicant_is_minor:
        due = calendar.add_working_days(now, APPROVAL_WORKING_DAYS)
        skipped = replace(
            app, status=Status.AWAITING_APPROVAL, notice_ends_at=None, approval_due_at=due
        )
        return Outcome(skipped, step="notice_skipped_minor", notice_skipped=True)
    ends = now + timedelta(days=NOTICE_DAYS)
    noticed = replace(
        app,
        status=Status.IN_NOTICE,
        notice_ends_at=ends,
        approval_due_at=calendar.add_working_days(ends, APPROVAL_WORKING_DAYS),
    )
    return Outcome(noticed, step=f"approved_by_{agency}_notice_started", notice_started=True)


def allowed_actions(app: Application, now: datetime) -> set[Action]:
    """What could still happen to ``app`` (by someone): for the console's buttons."""
    status = app.effective_status(now)
    return {
        Status.SUBMITTED: {Action.ACCEPT, Action.REJECT, Action.WITHDRAW},
        Status.IN_REVIEW: {Action.REVIEW, Action.WITHDRAW},
        Status.IN_NOTICE: {Action.OBJECT, Action.WITHDRAW}
        | ({Action.RESOLVE_OBJECTION} if app.open_objections else set()),
        Status.AWAITING_APPROVAL: {Action.WITHDRAW}
        | ({Action.RESOLVE_OBJECTION} if app.open_objections else {Action.APPROVE, Action.REJECT}),
        Status.APPROVED: {Action.DISBURSE},
        Status.DISBURSING: set() if app.kind == Kind.TEMPORARY else {Action.DISBURSE},
    }.get(status, set())
