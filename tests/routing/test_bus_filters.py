"""What routing's consumer lets through to a transaction."""

from __future__ import annotations

import pytest

from services.routing.handlers import not_our_own_decision
from shared.contracts.events import ASSIGNMENT_ACTIONS
from shared.messaging.envelope import Envelope


def _status_change(action: str) -> Envelope:
    return Envelope(
        event_type="events.event_status_changed", version=1, producer="events",
        correlation_id="c", payload={"action": action},
    )


@pytest.mark.parametrize("action", sorted(ASSIGNMENT_ACTIONS.values()))
def test_the_echo_of_routings_own_assignment_is_declined(action: str) -> None:
    assert not not_our_own_decision(_status_change(action))


@pytest.mark.parametrize("action", ["accept", "return", "submit_result", "verify", "close",
                                    "reject", "rework", "rate"])
def test_a_step_taken_by_staff_or_residents_is_handled(action: str) -> None:
    assert not_our_own_decision(_status_change(action))
