"""The case state machine, driven by random action sequences (hypothesis)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.events.domain import (
    HANDLING,
    REFUSALS,
    SYSTEM,
    TRANSITIONS,
    Action,
    Actor,
    Case,
    Command,
    Status,
    allowed_actions,
    decide,
    four_musts_missing,
)

REGION = "350626106001"
UNIT_A, UNIT_B, OUTSIDE_UNIT = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
REPORTER = uuid.uuid4()

ACTORS = {
    "system": SYSTEM,
    "reporter": Actor(role="resident", subject=REPORTER, roles=frozenset({"resident"})),
    "other_resident": Actor(role="resident", subject=uuid.uuid4(), roles=frozenset({"resident"})),
    "unit_a": Actor(role="dept_staff", roles=frozenset({"dept_staff"}), departments=(UNIT_A,)),
    "unit_b": Actor(role="dept_staff", roles=frozenset({"dept_staff"}), departments=(UNIT_B,)),
    "outsider": Actor(
        role="dept_staff", roles=frozenset({"dept_staff"}), departments=(OUTSIDE_UNIT,)
    ),
    "grid_worker": Actor(
        role="grid_worker", roles=frozenset({"grid_worker"}), regions=(REGION + "001",)
    ),
    "own_grid_worker": Actor(
        role="grid_worker", roles=frozenset({"grid_worker"}), regions=("350626106",)
    ),
    "dispatcher": Actor(role="dispatcher", roles=frozenset({"dispatcher"}), regions=("350626",)),
    "far_dispatcher": Actor(
        role="dispatcher", roles=frozenset({"dispatcher"}), regions=("350623",)
    ),
}
NEVER_SUCCEEDS = {"other_resident", "outsider", "grid_worker", "far_dispatcher"}

# Who would plausibly take each action: drawn most of the time, so random sequences get deep
# into the lifecycle; any actor at all the rest of the time, so refusals are exercised too.
LIKELY_ACTORS = {
    Action.ASSIGN: ["system"],
    Action.REJECT: ["dispatcher"],
    Action.ACCEPT: ["unit_a", "unit_b"],
    Action.RETURN: ["unit_a", "unit_b"],
    Action.START: ["unit_a", "unit_b"],
    Action.SUBMIT_RESULT: ["unit_a", "unit_b"],
    Action.VERIFY: ["own_grid_worker", "dispatcher"],
    Action.CLOSE: ["system", "dispatcher"],
    Action.RATE: ["reporter", "system"],
    Action.REWORK: ["system"],
}


def draw_command(data: st.DataObject, case: Case) -> tuple[str, Command]:
    """Mostly an action the current status allows, by a plausible actor; sometimes anything
    by anyone, so refusals are exercised as much as progress."""
    legal = sorted(allowed_actions(case))
    if legal and data.draw(st.integers(0, 9)) < 8:
        action = data.draw(st.sampled_from(legal))
        actor = data.draw(st.sampled_from(LIKELY_ACTORS[action]))
    else:
        action = data.draw(st.sampled_from(list(Action)))
        actor = data.draw(st.sampled_from(sorted(ACTORS)))
    with_text = data.draw(st.integers(0, 9)) > 0
    return actor, Command(
        action=action,
        actor=ACTORS[actor],
        reason="because" if with_text else None,
        result="done" if with_text else None,
        passed=data.draw(st.sampled_from([True, True, False, None])),
        unit_id=data.draw(st.sampled_from([UNIT_A, UNIT_B, None])),
        assign_reason=data.draw(st.sampled_from(
            ["initial", "redispatch", "transfer", "escalated", None])),
        rating=data.draw(st.sampled_from(
            ["satisfied", "basically_satisfied", "dissatisfied", "great", None])),
    )


def new_case() -> Case:
    return Case(
        status=Status.REPORTED, region_code=REGION, reporter_id=REPORTER, category_code="fraud"
    )


@settings(max_examples=250, deadline=None)
@given(st.data(), st.integers(1, 40))
def test_no_action_sequence_reaches_an_invalid_state(data: st.DataObject, length: int) -> None:
    case = new_case()
    kinds: set[type[Exception]] = set()
    reached: set[Status] = {case.status}
    for _ in range(length):
        actor_name, cmd = draw_command(data, case)
        try:
            after = decide(case, cmd)
        except REFUSALS as refusal:
            kinds.add(type(refusal))
            continue
        assert actor_name not in NEVER_SUCCEEDS, f"{actor_name} may not {cmd.action}"
        legal = TRANSITIONS.get((cmd.action, case.status))
        assert legal is not None, f"{cmd.action} from {case.status} is not in the table"
        if cmd.action == Action.VERIFY and cmd.passed is False:
            assert after.status == Status.IN_PROGRESS
        else:
            assert after.status == legal
        if after.status in (Status.CLOSED, Status.RATED):
            assert four_musts_missing(after) == []
        if after.status in HANDLING:
            assert after.assignee_unit_id is not None
        if cmd.action == Action.REJECT or case.status == Status.REJECTED:
            assert after.status == Status.REJECTED
        case = after
        reached.add(case.status)
    # Forbidden (403), Conflict (409) or RuleViolation (422): never another error.
    assert kinds <= set(REFUSALS)
    REACHED.update(reached)


REACHED: set[Status] = set()


def test_the_random_sequences_above_reached_every_status() -> None:
    """Guards the property test itself: random walks that never left ``reported`` would
    prove nothing."""
    if not REACHED:  # run on its own (-k): walk first
        test_no_action_sequence_reaches_an_invalid_state()
    assert set(Status) <= REACHED


def _through(case: Case, *steps: Command) -> Case:
    for step in steps:
        case = decide(case, step)
    return case


def test_the_happy_path_reaches_rated() -> None:
    unit = ACTORS["unit_a"]
    case = _through(
        new_case(),
        Command(Action.ASSIGN, SYSTEM, unit_id=UNIT_A, assign_reason="initial"),
        Command(Action.ACCEPT, unit),
        Command(Action.START, unit),
        Command(Action.SUBMIT_RESULT, unit, result="fixed"),
        Command(Action.VERIFY, ACTORS["own_grid_worker"], passed=True),
        Command(Action.CLOSE, SYSTEM),
        Command(Action.RATE, ACTORS["reporter"], rating="satisfied"),
    )
    assert case.status == Status.RATED


def test_a_result_cannot_be_submitted_while_assisting_units_are_open() -> None:
    case = _through(
        new_case(), Command(Action.ASSIGN, SYSTEM, unit_id=UNIT_A, assign_reason="initial")
    )
    case = Case(**{**case.__dict__, "open_subtasks": frozenset({uuid.uuid4()})})
    case = decide(case, Command(Action.ACCEPT, ACTORS["unit_a"]))
    with pytest.raises(REFUSALS) as refused:
        decide(case, Command(Action.SUBMIT_RESULT, ACTORS["unit_a"], result="joint"))
    assert refused.value.code == "co_handling_pending"


def test_closing_without_a_result_is_refused_by_the_four_musts() -> None:
    case = Case(
        status=Status.VERIFIED, region_code=REGION, reporter_id=REPORTER, category_code="fraud",
        assignee_unit_id=UNIT_A, dispatch_trail=True, result_recorded=False,
    )
    with pytest.raises(REFUSALS) as refused:
        decide(case, Command(Action.CLOSE, SYSTEM))
    assert refused.value.code == "four_musts_unmet"


def test_a_dissatisfied_rating_sends_the_case_back_to_work() -> None:
    case = Case(
        status=Status.CLOSED, region_code=REGION, reporter_id=REPORTER, category_code="fraud",
        assignee_unit_id=UNIT_A, dispatch_trail=True, result_recorded=True,
    )
    case = decide(case, Command(Action.RATE, ACTORS["reporter"], rating="dissatisfied"))
    case = decide(case, Command(Action.REWORK, SYSTEM))
    assert case.status == Status.IN_PROGRESS
    assert not case.result_recorded
