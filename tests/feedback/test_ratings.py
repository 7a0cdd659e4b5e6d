"""Ratings: only the reporter, once per closure; dissatisfied asks for rework; closures left
unrated get the default rating, exactly once even with several workers at it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date, timedelta

from services.feedback.app import create_app
from services.feedback.service.timers import DefaultRatingWorker
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.testing.plugin import running
from tests.feedback.conftest import C1
from tests.feedback.helpers import outbox, publish, runtime_of, sql, until_handled
from tests.feedback.lifecycle import Spec, Unit, build

UNIT = Unit(uuid.uuid4(), "漳浦县绥安镇综治中心", "350623100")


def _closed_case(day: date = date(2026, 3, 2), **kw: object) -> Spec:
    return Spec(f"case-{uuid.uuid4().hex[:4]}", UNIT, C1, day, **kw)  # type: ignore[arg-type]  # Spec's options


async def test_only_the_reporter_rates_and_only_once_per_closure(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    closed, still_open = build(_closed_case()), build(_closed_case(close_hours=None))
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        messages = closed.envelopes + still_open.envelopes
        await publish(app, messages)
        await until_handled(app, len(messages))
        reporter = make_token(subject=closed.spec.reporter_id)
        body = {"event_id": str(closed.spec.event_id), "rating": "satisfied", "comment": "很好"}

        other = await client.post("/api/v1/feedback/ratings", json=body,
                                  headers={"Authorization": f"Bearer {make_token()}"})
        assert (other.status_code, other.json()["code"]) == (403, "not_reporter")
        staff = make_token(roles=["dispatcher"], regions=["350623"])
        as_staff = await client.post("/api/v1/feedback/ratings", json=body,
                                     headers={"Authorization": f"Bearer {staff}"})
        assert (as_staff.status_code, as_staff.json()["code"]) == (403, "role_required")

        first = await client.post("/api/v1/feedback/ratings", json=body,
                                  headers={"Authorization": f"Bearer {reporter}"})
        assert first.status_code == 201, first.text
        assert first.json()["closure_seq"] == 1
        assert not first.json()["rework_requested"]
        again = await client.post("/api/v1/feedback/ratings", json=body,
                                  headers={"Authorization": f"Bearer {reporter}"})
        assert (again.status_code, again.json()["code"]) == (409, "already_rated")

        open_body = {"event_id": str(still_open.spec.event_id), "rating": "satisfied"}
        not_closed = await client.post(
            "/api/v1/feedback/ratings", json=open_body,
            headers={"Authorization": f"Bearer {make_token(subject=still_open.spec.reporter_id)}"})
        assert (not_closed.status_code, not_closed.json()["code"]) == (409, "not_closed")
        unknown = await client.post(
            "/api/v1/feedback/ratings", json={"event_id": str(uuid.uuid4()), "rating": "satisfied"},
            headers={"Authorization": f"Bearer {reporter}"})
        assert (unknown.status_code, unknown.json()["code"]) == (404, "event_not_found")
        bad = await client.post("/api/v1/feedback/ratings",
                                json={**body, "rating": "meh"},
                                headers={"Authorization": f"Bearer {reporter}"})
        assert bad.status_code == 422

        rated = await outbox(app, "feedback.event_rated")
        assert [(r["event_id"], r["rating"], r["default_applied"], r["comment_present"])
                for r in rated] == [(str(closed.spec.event_id), "satisfied", False, True)]
        assert "很好" not in str(rated)  # comments never leave the service
        assert await outbox(app, "feedback.rework_requested") == []
        summary = await sql(app, "SELECT status, closed_loop FROM case_summaries "
                            "WHERE event_id = :e", e=closed.spec.event_id)
        assert [tuple(summary[0])] == [("rated", True)]


async def test_a_retried_rating_with_the_same_idempotency_key_answers_the_same(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    case = build(_closed_case())
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        await publish(app, case.envelopes)
        await until_handled(app, len(case.envelopes))
        headers = {"Authorization": f"Bearer {make_token(subject=case.spec.reporter_id)}",
                   "Idempotency-Key": "rate-once-123"}
        body = {"event_id": str(case.spec.event_id), "rating": "basically_satisfied"}
        first = await client.post("/api/v1/feedback/ratings", json=body, headers=headers)
        second = await client.post("/api/v1/feedback/ratings", json=body, headers=headers)
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert len(await outbox(app, "feedback.event_rated")) == 1


async def test_dissatisfied_asks_the_unit_for_rework_and_reopens_the_case(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    case = build(_closed_case())
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        await publish(app, case.envelopes)
        await until_handled(app, len(case.envelopes))
        answer = await client.post(
            "/api/v1/feedback/ratings",
            json={"event_id": str(case.spec.event_id), "rating": "dissatisfied"},
            headers={"Authorization": f"Bearer {make_token(subject=case.spec.reporter_id)}"})
        assert answer.status_code == 201
        assert answer.json()["rework_requested"]
        [rework] = await outbox(app, "feedback.rework_requested")
        assert rework["unit_id"] == str(UNIT.unit_id)
        assert rework["closure_seq"] == 1
        [rated] = await outbox(app, "feedback.event_rated")
        assert rated["rework"] is True
        [row] = await sql(app, "SELECT status, is_closed, closed_loop, rework_count "
                          "FROM case_summaries WHERE event_id = :e", e=case.spec.event_id)
        assert tuple(row) == ("rework_requested", False, False, 1)
        again = await client.post(
            "/api/v1/feedback/ratings",
            json={"event_id": str(case.spec.event_id), "rating": "satisfied"},
            headers={"Authorization": f"Bearer {make_token(subject=case.spec.reporter_id)}"})
        assert (again.status_code, again.json()["code"]) == (409, "already_rated")


async def test_closures_left_unrated_get_the_default_rating_once_across_replicas(
    feedback_settings: Settings, token_verifier: TokenVerifier
) -> None:
    cases = [build(_closed_case()) for _ in range(6)]
    fresh = build(_closed_case(day=date(2026, 3, 9)))  # closed a week later: not due yet
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app):
        messages = [e for c in [*cases, fresh] for e in c.envelopes]
        await publish(app, messages)
        await until_handled(app, len(messages))
        now = cases[0].closures[0] + timedelta(days=7, hours=1)
        runtime = runtime_of(app)
        settings = feedback_settings.model_copy(update={"default_rating_after_days": 7})
        replicas = [
            DefaultRatingWorker(new_uow=runtime.uow, settings=settings,
                                clock=lambda: now)
            for _ in range(3)
        ]
        applied = await asyncio.gather(*(w.run_once() for w in replicas))
        again = await asyncio.gather(*(w.run_once() for w in replicas))
        assert sum(applied) == 6
        assert sum(again) == 0
        rated = await outbox(app, "feedback.event_rated")
        assert sorted(r["event_id"] for r in rated) == sorted(str(c.spec.event_id) for c in cases)
        assert all(r["default_applied"] and r["rating"] == "satisfied" for r in rated)
        rows = await sql(app, "SELECT rating, rating_default, closed_loop FROM case_summaries "
                         "WHERE event_id = :e", e=cases[0].spec.event_id)
        assert [tuple(rows[0])] == [("satisfied", True, True)]
        [fresh_row] = await sql(app, "SELECT rating FROM case_summaries WHERE event_id = :e",
                                e=fresh.spec.event_id)
        assert fresh_row.rating is None


async def test_sensitive_cases_without_a_reporter_on_the_bus_cannot_be_rated_by_anyone(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    case = build(_closed_case())
    for envelope in case.envelopes:  # what events publishes for organised-crime tips
        envelope.payload["reporter_id"] = None
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        await publish(app, case.envelopes)
        await until_handled(app, len(case.envelopes))
        answer = await client.post(
            "/api/v1/feedback/ratings",
            json={"event_id": str(case.spec.event_id), "rating": "satisfied"},
            headers={"Authorization": f"Bearer {make_token(subject=case.spec.reporter_id)}"})
        assert (answer.status_code, answer.json()["code"]) == (403, "reporter_unknown")
        assert await sql(app, "SELECT id FROM notifications") == []



async def test_a_comment_the_database_cannot_store_is_refused_and_nothing_is_rated(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    """A NUL in the comment is 422 ``validation_error`` (not a 500), and the closure can
    still be rated afterwards."""
    case = build(_closed_case())
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        await publish(app, case.envelopes)
        await until_handled(app, len(case.envelopes))
        headers = {"Authorization": f"Bearer {make_token(subject=case.spec.reporter_id)}"}
        body = {"event_id": str(case.spec.event_id), "rating": "satisfied"}
        refused = await client.post("/api/v1/feedback/ratings",
                                    json={**body, "comment": "很好\x00"}, headers=headers)
        assert (refused.status_code, refused.json()["code"]) == (422, "validation_error")
        assert await outbox(app, "feedback.event_rated") == []
        rated = await client.post("/api/v1/feedback/ratings", json=body, headers=headers)
        assert rated.status_code == 201, rated.text
