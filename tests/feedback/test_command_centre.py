"""Command-centre data: counts, daily trend, overdue list, and hotspots flagged once and
published (a community and category with at least K reports in the window)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta

from services.feedback.app import create_app
from services.feedback.service.command import HotspotWorker
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.testing.plugin import running
from tests.feedback.conftest import C1, C2, C3, COUNTY, TOWN_1, TOWN_2
from tests.feedback.helpers import outbox, publish, runtime_of, until_handled
from tests.feedback.lifecycle import SH, Spec, Unit, build


async def test_counts_trend_and_overdue_list_of_a_region(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    unit = Unit(uuid.uuid4(), "绥安镇综治中心", TOWN_1)
    never_accepted = build(Spec("n", unit, C1, date(2026, 3, 2), accept=None, result=None,
                                close_hours=None))
    no_result = build(Spec("r", unit, C2, date(2026, 3, 3), result=None, close_hours=None))
    closed = build(Spec("c", unit, C1, date(2026, 3, 3), rating="S"))
    elsewhere = build(Spec("e", unit, C3, date(2026, 3, 3), accept=None, result=None,
                           close_hours=None, category="fraud.telecom"))
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        messages = [e for c in (never_accepted, no_result, closed, elsewhere)
                    for e in c.envelopes]
        await publish(app, messages)
        await until_handled(app, len(messages))
        staff = {"Authorization": f"Bearer {make_token(roles=['dispatcher'], regions=[COUNTY])}"}
        march = {"period": "month", "date": "2026-03-01"}

        counts = (await client.get(f"/api/v1/feedback/command-centre/{COUNTY}/counts",
                                   params=march, headers=staff)).json()
        assert counts["by_status"] == {"dispatched": 2, "accepted": 1, "closed": 1}
        assert counts["by_category"] == {"dispute.neighbour": 3, "fraud.telecom": 1}
        assert counts["by_region"] == {TOWN_1: 3, TOWN_2: 1}

        trend = (await client.get(f"/api/v1/feedback/command-centre/{TOWN_1}/trend",
                                  params={"period": "range", "from": "2026-03-01",
                                          "to": "2026-03-04"}, headers=staff)).json()
        assert [(d["date"], d["reported"], d["closed"]) for d in trend["items"]] == [
            ("2026-03-01", 0, 0), ("2026-03-02", 1, 0), ("2026-03-03", 2, 1),
            ("2026-03-04", 0, 0)]

        first = (await client.get(f"/api/v1/feedback/command-centre/{TOWN_1}/overdue",
                                  params={"limit": 1}, headers=staff)).json()
        rest = (await client.get(f"/api/v1/feedback/command-centre/{TOWN_1}/overdue",
                                 params={"limit": 5, "cursor": first["next_cursor"]},
                                 headers=staff)).json()
        overdue = first["items"] + rest["items"]
        assert [(o["event_id"], o["missed"]) for o in overdue] == [
            (str(never_accepted.spec.event_id), "accept"),
            (str(no_result.spec.event_id), "resolve")]
        assert rest["next_cursor"] is None

        town = {"Authorization": f"Bearer {make_token(roles=['dispatcher'], regions=[TOWN_2])}"}
        refused = await client.get(f"/api/v1/feedback/command-centre/{TOWN_1}/overdue",
                                   headers=town)
        assert (refused.status_code, refused.json()["code"]) == (403, "out_of_scope")
        dept = {"Authorization": f"Bearer {make_token(roles=['dept_staff'], regions=[COUNTY])}"}
        assert (await client.get(f"/api/v1/feedback/command-centre/{COUNTY}/hotspots",
                                 headers=dept)).status_code == 403


async def test_a_community_with_k_reports_of_a_category_is_flagged_once(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    now = datetime(2026, 3, 31, 12, tzinfo=SH)

    def reports(region: str, category: str, days_ago: list[int]) -> list[Spec]:
        return [Spec(f"h{uuid.uuid4().hex[:4]}", None, region,
                     (now - timedelta(days=d)).date(), reported_only=True, category=category)
                for d in days_ago]

    specs = (
        reports(C1, "dispute.property", [1, 3, 8, 15, 29])  # 5 within 30 days: flagged
        + reports(C1, "dispute.neighbour", [1, 2, 3, 4])  # 4: below K
        + reports(C2, "dispute.property", [2, 10, 20, 45, 60])  # 3 within the window
    )
    cases = [build(s) for s in specs]
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        messages = [e for c in cases for e in c.envelopes]
        await publish(app, messages)
        await until_handled(app, len(messages))
        runtime = runtime_of(app)
        worker = HotspotWorker(new_uow=runtime.uow, settings=feedback_settings,
                               clock=lambda: now)
        [flagged] = await worker.run_once()
        assert (flagged.region_code, flagged.category_code, flagged.report_count) == (
            C1, "dispute.property", 5)
        assert await worker.run_once() == []  # flagged once, not on every pass
        [published] = await outbox(app, "feedback.hotspot_flagged")
        assert published["threshold"] == 5
        assert published["window_days"] == 30
        staff = {"Authorization": f"Bearer {make_token(roles=['supervisor'], regions=[TOWN_1])}"}
        listed = (await client.get(f"/api/v1/feedback/command-centre/{TOWN_1}/hotspots",
                                   headers=staff)).json()["items"]
        assert [(h["region_code"], h["category_code"], h["report_count"]) for h in listed] == [
            (C1, "dispute.property", 5)]

        later = HotspotWorker(new_uow=runtime.uow, settings=feedback_settings,
                              clock=lambda: now + timedelta(days=10))
        assert await later.run_once() == []  # the oldest reports left the window
        listed = (await client.get(f"/api/v1/feedback/command-centre/{TOWN_1}/hotspots",
                                   headers=staff)).json()["items"]
        assert listed == []
