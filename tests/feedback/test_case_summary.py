"""The case summary is a function of the set of facts: any arrival order, any duplicates."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from services.feedback import domain
from services.feedback.service.projection import CALENDAR, fact_from_envelope
from tests.feedback.conftest import march_fixture

MARCH = march_fixture()
CASES = {
    c.spec.name: [fact_from_envelope(e) for e in c.envelopes] + c.ratings for c in MARCH.cases
}


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(CASES)), seed=st.integers(0, 2**32 - 1))
def test_summary_does_not_depend_on_arrival_order_or_duplicates(name: str, seed: int) -> None:
    facts = CASES[name]
    event_id = facts[0].event_id
    expected = domain.summarize(event_id, facts, CALENDAR)
    rng = random.Random(seed)
    shuffled = facts + rng.sample(facts, k=len(facts) // 2)
    rng.shuffle(shuffled)
    assert domain.summarize(event_id, shuffled, CALENDAR) == expected


def test_a_rating_seen_before_its_closure_counts_once_the_closure_arrives() -> None:
    facts = CASES["A1"]
    event_id = facts[0].event_id
    rating = [f for f in facts if f.kind == domain.RATED]
    without_closure = [f for f in facts if f.kind != domain.CLOSED]
    early = domain.summarize(event_id, without_closure, CALENDAR)
    assert (early.rating, early.is_closed, early.closed_loop) == (None, False, False)
    complete = domain.summarize(event_id, without_closure + [
        f for f in facts if f.kind == domain.CLOSED], CALENDAR)
    assert (complete.rating, complete.is_closed, complete.closed_loop) == (
        "satisfied", True, True)
    assert rating


def test_a_late_assignment_of_a_lower_sequence_does_not_replace_the_current_unit() -> None:
    facts = CASES["A2"]
    event_id = facts[0].event_id
    assigned = next(f for f in facts if f.kind == domain.ASSIGNED)
    stale = domain.Fact(
        message_id=assigned.message_id.__class__(int=assigned.message_id.int ^ 1),
        event_id=event_id, kind=domain.ASSIGNED, at=assigned.at,
        data={**assigned.data, "seq": 0,
              "unit": {**assigned.data["unit"], "unit_id": str(MARCH.unit_b.unit_id)}},
    )
    summary = domain.summarize(event_id, [*facts, stale], CALENDAR)
    assert summary.unit_id == MARCH.unit_a.unit_id
