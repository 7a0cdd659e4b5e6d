"""What reaches routing's consumer, and what it lets through to a transaction."""

from __future__ import annotations

import pytest

from gateway.partner.handlers import SUBSCRIPTIONS as PARTNER
from services.feedback.handlers import SUBSCRIPTIONS as FEEDBACK
from services.routing.handlers import SUBSCRIPTIONS as ROUTING
from services.routing.handlers import not_our_own_decision
from shared import contracts
from shared.contracts.events import ASSIGNMENT_ACTIONS
from shared.messaging.envelope import Envelope, publish_key
from shared.messaging.memory import topic_matches


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


def _queues_taking(routing_key: str) -> set[str]:
    """Which consumers' queues a status change published under ``routing_key`` reaches."""
    consumers = {"routing": ROUTING, "feedback": FEEDBACK, "partner": PARTNER}
    return {
        name for name, subscriptions in consumers.items()
        if any(sub.event_type == "events.event_status_changed"
               and topic_matches(sub.routing_key, routing_key) for sub in subscriptions)
    }


def _published_under(action: str) -> str:
    payload = {"action": action}
    topic = contracts.topic_of("events.event_status_changed", 1, payload)
    return publish_key(_status_change(action), topic)


@pytest.mark.parametrize("action", sorted(ASSIGNMENT_ACTIONS.values()))
def test_routings_own_assignment_steps_never_reach_its_queue_but_reach_the_others(
    action: str,
) -> None:
    key = _published_under(action)
    assert key == "events.event_status_changed.v1.assignment"
    assert _queues_taking(key) == {"feedback", "partner"}


@pytest.mark.parametrize("action", ["accept", "return", "submit_result", "verify", "close",
                                    "reject", "rework", "rate"])
def test_every_other_step_reaches_routing_feedback_and_partners(action: str) -> None:
    key = _published_under(action)
    assert key == "events.event_status_changed.v1"
    assert _queues_taking(key) == {"routing", "feedback", "partner"}
