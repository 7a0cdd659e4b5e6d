"""The relief state machine: every path by example, then random command sequences (hypothesis)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.relief.domain import (
    JOINT_REVIEWERS,
    OPEN_STATUSES,
    Action,
    Actor,
    Agency,
    Application,
    Command,
    Kind,
    Stage,
    Status,
    allowed_actions,
    decide,
    id_number_valid,
    is_minor,
    month_start,
    yuan,
)
from shared.calendar import WorkingCalendar
from shared.problems import AppError, Conflict, Forbidden, RuleViolation

CAL = WorkingCalendar()
REGION = "350623100001"
APPLICANT = uuid.uuid4()
# Tuesday 2026-11-24 10:00 Shanghai
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def reviewer(agency: Agency, region: str = "350623") -> Actor:
    return Actor(uuid.uuid4(), frozenset({"reviewer"}), (region,), agency)


TOWN = reviewer(Agency.TOWN, "350623100")
PING_AN = reviewer(Agency.PING_AN_OFFICE)
CIVIL = reviewer(Agency.CIVIL_AFFAIRS)
AGRI = reviewer(Agency.AGRICULTURE)
BY_AGENCY = {Agency.PING_AN_OFFICE: PING_AN, Agency.CIVIL_AFFAIRS: CIVIL, Agency.AGRICULTURE: AGRI}
APPLICANT_ACTOR = Actor(APPLICANT, frozenset({"resident"}))
NEIGHBOUR = Actor(uuid.uuid4(), frozenset({"resident"}))


def new_app(*, minor: bool = False, kind: Kind = Kind.DIBAO) -> Application:
    return Application(
        status=Status.SUBMITTED, kind=kind, region_code=REGION, applicant_id=APPLICANT,
        applicant_is_minor=minor,
    )


def run(app: Application, *commands: Command, now: datetime = T0) -> Application:
    for cmd in commands:
        app = decide(app, cmd, now=now, calendar=CAL).application
    return app


def review(agency: Agency, approve: bool = True) -> Command:
    return Command(Action.REVIEW, BY_AGENCY[agency], approve=approve, text="家中确有困难")


ACCEPT = Command(Action.ACCEPT, TOWN)


def refusal(app: Application, cmd: Command, now: datetime = T0) -> AppError:
    with pytest.raises(AppError) as caught:
        decide(app, cmd, now=now, calendar=CAL)
    return caught.value


def test_three_approvals_in_any_order_start_a_seven_day_notice() -> None:
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        app = run(new_app(), ACCEPT)
        outcomes = []
        for index in order:
            outcome = decide(app, review(JOINT_REVIEWERS[index]), now=T0, calendar=CAL)
            outcomes.append(outcome)
            app = outcome.application
        assert [o.notice_started for o in outcomes] == [False, False, True]
        assert app.status == Status.IN_NOTICE
        assert app.notice_ends_at == T0 + timedelta(days=7)
        # 10 working days after 2026-12-01 10:00 Shanghai: 2026-12-15 10:00
        assert app.approval_due_at == datetime(2026, 12, 15, 2, 0, tzinfo=UTC)


def test_any_single_rejection_ends_the_joint_review_with_its_reasons() -> None:
    for agency in JOINT_REVIEWERS:
        app = run(new_app(), ACCEPT, review(Agency.AGRICULTURE) if agency != Agency.AGRICULTURE
                  else review(Agency.PING_AN_OFFICE))
        outcome = decide(app, review(agency, approve=False), now=T0, calendar=CAL)
        assert outcome.application.status == Status.REJECTED
        assert outcome.decision is not None
        assert outcome.decision.stage == Stage.JOINT_REVIEW
        assert outcome.decision.reasons_count == 1
        left = [a for a in JOINT_REVIEWERS if a not in outcome.application.opinions]
        assert refusal(outcome.application, review(left[0])).code == "illegal_transition"


def test_rejection_must_reach_the_applicant_within_three_working_days() -> None:
    friday_evening = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # 18:00 Shanghai, Friday
    outcome = decide(
        new_app(), Command(Action.REJECT, TOWN, text="不符合条件"), now=friday_evening,
        calendar=CAL,
    )
    assert outcome.decision is not None
    assert outcome.decision.stage == Stage.TOWN
    # counted from Monday's opening: Thursday 2026-12-03 08:30 Shanghai
    assert outcome.decision.notify_by == datetime(2026, 12, 3, 0, 30, tzinfo=UTC)


def test_town_rejection_needs_a_reason() -> None:
    assert refusal(new_app(), Command(Action.REJECT, TOWN, text="  ")).code == "reason_required"


def test_an_agency_reviews_once_and_only_for_itself() -> None:
    app = run(new_app(), ACCEPT, review(Agency.CIVIL_AFFAIRS))
    assert refusal(app, review(Agency.CIVIL_AFFAIRS)).code == "already_reviewed"
    assert refusal(app, Command(Action.REVIEW, TOWN, approve=True, text="ok")).code == (
        "agency_required"
    )
    far = Actor(uuid.uuid4(), frozenset({"reviewer"}), ("350624",), Agency.AGRICULTURE)
    assert refusal(app, Command(Action.REVIEW, far, approve=True, text="ok")).code == (
        "out_of_scope"
    )
    assert refusal(app, Command(Action.REVIEW, AGRI, approve=True)).code == "opinion_required"


def test_minor_applicant_is_never_publicised_and_waits_for_approval() -> None:
    app = run(new_app(minor=True), ACCEPT, review(Agency.CIVIL_AFFAIRS), review(Agency.AGRICULTURE))
    outcome = decide(app, review(Agency.PING_AN_OFFICE), now=T0, calendar=CAL)
    assert outcome.notice_skipped
    assert not outcome.notice_started
    assert outcome.application.status == Status.AWAITING_APPROVAL
    assert outcome.application.notice_ends_at is None
    assert refusal(outcome.application, Command(Action.OBJECT, NEIGHBOUR, text="x")).code == (
        "notice_not_running"
    )
    approved = run(outcome.application, Command(Action.APPROVE, CIVIL))
    assert approved.status == Status.APPROVED


def noticed() -> Application:
    return run(new_app(), ACCEPT, *(review(a) for a in JOINT_REVIEWERS))


def test_approval_waits_for_the_end_of_the_notice() -> None:
    app = noticed()
    assert refusal(app, Command(Action.APPROVE, CIVIL)).code == "notice_running"
    after = T0 + timedelta(days=7)
    assert app.effective_status(after) == Status.AWAITING_APPROVAL
    outcome = decide(app, Command(Action.APPROVE, CIVIL), now=after, calendar=CAL)
    assert outcome.application.status == Status.APPROVED
    assert outcome.decision is not None
    assert outcome.decision.outcome == "approved"


def test_an_objection_blocks_approval_until_it_is_resolved() -> None:
    app = run(noticed(), Command(Action.OBJECT, NEIGHBOUR, text="他家有车"))
    after = T0 + timedelta(days=8)
    assert refusal(app, Command(Action.APPROVE, CIVIL), after).code == "objections_open"
    assert refusal(app, Command(Action.OBJECT, NEIGHBOUR, text="late"), after).code == (
        "notice_not_running"
    )
    dismissed = run(
        app, Command(Action.RESOLVE_OBJECTION, CIVIL, upheld=False, text="核实无车"), now=after
    )
    assert run(dismissed, Command(Action.APPROVE, CIVIL), now=after).status == Status.APPROVED


def test_an_upheld_objection_rejects_the_application_at_notice() -> None:
    app = run(noticed(), Command(Action.OBJECT, NEIGHBOUR, text="他家有车"))
    outcome = decide(
        app, Command(Action.RESOLVE_OBJECTION, CIVIL, upheld=True, text="核实有车"), now=T0,
        calendar=CAL,
    )
    assert outcome.application.status == Status.REJECTED
    assert outcome.decision is not None
    assert outcome.decision.stage == Stage.NOTICE


def test_civil_affairs_may_reject_at_approval() -> None:
    app = run(noticed(), Command(Action.REJECT, CIVIL, text="收入超标"), now=T0 + timedelta(days=7))
    assert app.status == Status.REJECTED
    assert refusal(noticed(), Command(Action.REJECT, CIVIL, text="x")).code == "illegal_transition"


def test_temporary_assistance_is_paid_once_and_dibao_monthly() -> None:
    after = T0 + timedelta(days=7)
    pay = Command(Action.DISBURSE, CIVIL, month=date(2026, 12, 1), amount_fen=80000)
    for kind, second_ok in ((Kind.DIBAO, True), (Kind.TEMPORARY, False)):
        app = run(new_app(kind=kind), ACCEPT, *(review(a) for a in JOINT_REVIEWERS))
        app = run(app, Command(Action.APPROVE, CIVIL), pay, now=after)
        assert app.status == Status.DISBURSING
        if second_ok:
            assert run(app, pay, now=after).payments == 2
        else:
            assert refusal(app, pay, after).code == "one_off_already_paid"
    approved = run(noticed(), Command(Action.APPROVE, CIVIL), now=after)
    bad = Command(Action.DISBURSE, CIVIL, month=date(2026, 12, 1), amount_fen=0)
    assert refusal(approved, bad, after).code == "amount_invalid"


def test_only_the_applicant_withdraws_an_open_application() -> None:
    app = run(new_app(), ACCEPT)
    assert refusal(app, Command(Action.WITHDRAW, NEIGHBOUR)).code == "not_applicant"
    assert run(app, Command(Action.WITHDRAW, APPLICANT_ACTOR)).status == Status.WITHDRAWN


def test_intake_rules() -> None:
    assert id_number_valid("11010519491231002X")
    assert not id_number_valid("110105194912310021")
    assert is_minor(date(2010, 5, 1), date(2026, 4, 30))
    assert not is_minor(date(2008, 4, 30), date(2026, 4, 30))
    assert month_start("2026-11") == date(2026, 11, 1)
    with pytest.raises(ValueError, match="month"):
        month_start("2026-13")
    assert yuan(739_800_000) == "7398000.00"
    assert yuan(5) == "0.05"


# -- random sequences ------------------------------------------------------------------------

ACTORS = {
    "town": TOWN,
    "ping_an": PING_AN,
    "civil": CIVIL,
    "agri": AGRI,
    "applicant": APPLICANT_ACTOR,
    "neighbour": NEIGHBOUR,
    "far_civil": reviewer(Agency.CIVIL_AFFAIRS, "350624"),
    "resident_reviewer_claim": Actor(uuid.uuid4(), frozenset({"resident"}), ("350623",),
                                     Agency.CIVIL_AFFAIRS),
}
NEVER_DECIDES = {"far_civil", "resident_reviewer_claim"}

commands = st.tuples(
    st.sampled_from(sorted(ACTORS)),
    st.sampled_from(list(Action)),
    st.booleans(),
    st.booleans(),
    st.integers(min_value=0, max_value=10),  # days later
)


@settings(max_examples=400, deadline=None)
@given(st.lists(commands, max_size=14), st.booleans(), st.sampled_from(list(Kind)))
def test_random_sequences_keep_every_invariant(
    steps: list[tuple[str, Action, bool, bool, int]], minor: bool, kind: Kind
) -> None:
    app = new_app(minor=minor, kind=kind)
    now = T0
    decisions = 0
    for actor_name, action, flag, with_text, later in steps:
        now += timedelta(days=later)
        cmd = Command(
            action, ACTORS[actor_name], approve=flag, upheld=flag,
            text="理由" if with_text else None, month=date(2026, 12, 1), amount_fen=50000,
        )
        before = app
        try:
            outcome = decide(app, cmd, now=now, calendar=CAL)
        except (Forbidden, Conflict, RuleViolation):
            # The machine refuses only as forbidden (403), illegal (409) or invalid (422).
            continue
        assert actor_name not in NEVER_DECIDES
        app = outcome.application
        # Final states never move (a disbursing application only takes payments).
        assert before.status not in (Status.REJECTED, Status.WITHDRAWN)
        if outcome.decision is not None:
            decisions += 1
            assert outcome.decision.notify_by >= now
        # The notice happens only after three approvals, and never for a minor.
        if app.status == Status.IN_NOTICE:
            assert not minor
            assert all(app.opinions.get(a) for a in JOINT_REVIEWERS)
        if app.status in (Status.APPROVED, Status.DISBURSING):
            assert all(app.opinions.get(a) for a in JOINT_REVIEWERS)
            assert app.open_objections == 0
            assert before.effective_status(now) in (
                Status.AWAITING_APPROVAL, Status.APPROVED, Status.DISBURSING
            )
        if app.status == Status.DISBURSING and kind == Kind.TEMPORARY:
            assert app.payments == 1
        assert app.open_objections >= 0
        assert action in allowed_actions(before, now)
    # An application is decided at most once (approved, or rejected, never both or twice).
    assert decisions <= 1
    assert (app.status in OPEN_STATUSES) == app.is_open
