"""The disbursement ledger: a month is paid once per recipient however often the posting is
retried, and totals per region and period give yuan paid and person-times — reproducing the
article's 漳浦县 figures (7,398,000 yuan, 144,000 person-times) from a seeded ledger."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.relief.app import create_app
from services.relief.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.settings import ServiceSettings
from shared.testing.plugin import Migrator, running
from tests.relief.conftest import INTERNAL_KEY, ReliefWorld
from tests.relief.flows import (
    BASE,
    approve,
    auth,
    disburse,
    expect,
    get,
    review,
    submit,
    through_joint_review,
)


async def approved_application(world: ReliefWorld, *, kind: str = "dibao") -> tuple[str, str]:
    user_id, token = world.resident()
    app_id = (await submit(world.client, token, kind=kind))["id"]
    await through_joint_review(world.client, world.staff, app_id)
    world.clock.advance(timedelta(days=7, seconds=1))
    expect(await approve(world.client, world.staff, app_id), 200)
    return app_id, user_id


async def ledger_rows(world: ReliefWorld, app_id: str) -> int:
    return int(await world.scalar(
        "SELECT count(*) FROM disbursements WHERE application_id = :i", i=uuid.UUID(app_id)
    ))


async def disbursed_events(world: ReliefWorld, app_id: str) -> int:
    return int(await world.scalar(
        "SELECT count(*) FROM outbox WHERE event_type = 'relief.disbursed' "
        "AND envelope->'payload'->>'application_id' = :i", i=app_id,
    ))


async def test_a_disbursement_posted_twice_is_recorded_once(world: ReliefWorld) -> None:
    app_id, user_id = await approved_application(world)
    key = f"pay-{uuid.uuid4().hex}"
    first = await disburse(world.client, world.staff, app_id, month="2026-12",
                           amount_fen=80_000, key=key)
    assert first.status_code == 201
    assert first.json()["amount_yuan"] == "800.00"
    assert first.json()["recipient_user_id"] == user_id
    replay = await disburse(world.client, world.staff, app_id, month="2026-12",
                            amount_fen=80_000, key=key)
    assert replay.status_code == 201
    assert replay.json() == first.json()
    retried_without_key = await disburse(world.client, world.staff, app_id, month="2026-12",
                                         amount_fen=80_000)
    assert retried_without_key.status_code == 200
    assert retried_without_key.json()["id"] == first.json()["id"]
    assert retried_without_key.json()["already_posted"] is True
    other_amount = await disburse(world.client, world.staff, app_id, month="2026-12",
                                  amount_fen=90_000)
    assert other_amount.status_code == 409
    assert other_amount.json()["code"] == "already_disbursed"
    assert await ledger_rows(world, app_id) == 1
    assert await disbursed_events(world, app_id) == 1

    next_month = await disburse(world.client, world.staff, app_id, month="2027-01",
                                amount_fen=80_000)
    assert next_month.status_code == 201
    assert await ledger_rows(world, app_id) == 2
    read = await get(world.client, world.staff.civil_affairs, app_id)
    assert read["status"] == "disbursing"
    assert read["payments"] == 2


async def test_simultaneous_postings_of_one_month_pay_once(world: ReliefWorld) -> None:
    app_id, _ = await approved_application(world)
    responses = await asyncio.gather(*(
        disburse(world.client, world.staff, app_id, month="2026-12", amount_fen=60_000,
                 key=f"pay-{uuid.uuid4().hex}")
        for _ in range(5)
    ))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await ledger_rows(world, app_id) == 1
    assert await disbursed_events(world, app_id) == 1


async def test_temporary_assistance_is_paid_once(world: ReliefWorld) -> None:
    app_id, _ = await approved_application(world, kind="temporary")
    assert (await disburse(world.client, world.staff, app_id, month="2026-12",
                           amount_fen=200_000)).status_code == 201
    again = await disburse(world.client, world.staff, app_id, month="2027-01",
                           amount_fen=200_000)
    assert again.status_code == 409
    assert again.json()["code"] == "one_off_already_paid"
    assert await ledger_rows(world, app_id) == 1


async def test_bad_postings_are_refused_with_a_code_and_nothing_is_written(
    world: ReliefWorld,
) -> None:
    app_id, _ = await approved_application(world)
    _, token = world.resident()
    pending = (await submit(world.client, token))["id"]
    cases = [
        (app_id, "2026-13", 80_000, world.staff.civil_affairs, 422, "validation_error"),
        (app_id, "2026-12", 0, world.staff.civil_affairs, 422, "validation_error"),
        (app_id, "2026-12", 80_000, world.staff.agriculture, 403, "agency_required"),
        (pending, "2026-12", 80_000, world.staff.civil_affairs, 409, "illegal_transition"),
        (str(uuid.uuid4()), "2026-12", 80_000, world.staff.civil_affairs, 404,
         "application_not_found"),
    ]
    for target, month, amount, token_used, status, code in cases:
        response = await world.client.post(
            f"{BASE}/disbursements",
            json={"application_id": target, "month": month, "amount_fen": amount},
            headers=auth(token_used),
        )
        assert response.status_code == status, (month, amount, response.text)
        assert response.json()["code"] == code
    far = world.make_token(roles=["reviewer"], regions=["350624"],
                           extra={"agency": "civil_affairs"})
    outside = await world.client.post(
        f"{BASE}/disbursements",
        json={"application_id": app_id, "month": "2026-12", "amount_fen": 1},
        headers=auth(far),
    )
    assert outside.json()["code"] == "out_of_scope"
    assert await ledger_rows(world, app_id) == 0
    assert await ledger_rows(world, pending) == 0
    # The review endpoint refuses an unknown application the same way.
    assert (await review(world.client, world.staff, str(uuid.uuid4()),
                         "agriculture")).status_code == 404


SEED_RECIPIENTS = 36_000
SEED_MONTHS = (date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1))


async def seed_zhangpu_ledger(database_url: str, schema: str) -> None:
    """36,000 recipients in 漳浦县's towns, four monthly payments each (144,000 person-times),
    half of them 51.37 yuan and half 51.38 (7,398,000 yuan in all); plus payments that must
    not count: a neighbouring county, and a month outside the period."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
            await conn.execute(text("""
                INSERT INTO applications (id, kind, status, applicant_user_id, submitted_by,
                    on_behalf, region_code, applicant_is_minor, id_number_index, name_cipher,
                    id_number_cipher, household_cipher, household_size, household_source,
                    reason_cipher, attachments_count, open_objections, payments, submitted_at,
                    updated_at)
                SELECT md5('app' || g)::uuid, 'dibao', 'disbursing', md5('user' || g)::uuid,
                    md5('user' || g)::uuid, false,
                    CASE WHEN g <= :recipients
                         THEN '350623' || (100 + g % 17)::text || lpad((g % 23)::text, 3, '0')
                         ELSE '350624100001' END,
                    false, md5('idx' || g), 'seed', 'seed', 'seed', 1, 'registry', 'seed', 0,
                    0, 5, now(), now()
                FROM generate_series(1, :recipients + 500) AS g
            """), {"recipients": SEED_RECIPIENTS})
            await conn.execute(text("""
                INSERT INTO disbursements (id, application_id, recipient_user_id, kind,
                    region_code, month, amount_fen, posted_at)
                SELECT gen_random_uuid(), a.id, a.applicant_user_id, 'dibao', a.region_code,
                    m.month, CASE WHEN (a.seq + m.n) % 2 = 0 THEN 5137 ELSE 5138 END, now()
                FROM (SELECT id, applicant_user_id, region_code,
                             row_number() OVER (ORDER BY id) AS seq FROM applications
                      WHERE status = 'disbursing' AND name_cipher = 'seed') AS a
                CROSS JOIN (SELECT month::date, row_number() OVER () AS n
                            FROM unnest(CAST(:months AS date[])) AS month) AS m
                -- June lies outside the period: a few of those are enough to prove it.
                WHERE m.month < :june OR a.seq <= 300
            """), {"months": [*SEED_MONTHS, date(2026, 6, 1)], "june": date(2026, 6, 1)})
    finally:
        await engine.dispose()


async def test_zhangpu_county_totals_reproduce_the_article_figures(
    migrator: Migrator,
    service_settings: Callable[..., ServiceSettings],
    token_verifier: TokenVerifier,
    make_token: Callable[..., str],
    run_prefix: str,
    database_url: str,
) -> None:
    prefix = f"{run_prefix}zp{uuid.uuid4().hex[:4]}"
    await migrator.ensure("relief", prefix=prefix)
    settings = service_settings(Settings, schema_prefix=prefix, internal_api_key=INTERNAL_KEY)
    assert isinstance(settings, Settings)
    await seed_zhangpu_ledger(database_url, settings.schema)
    county_reviewer = make_token(roles=["reviewer"], regions=["350623"],
                                 extra={"agency": "civil_affairs"})
    async with running(create_app(settings, verifier=token_verifier)) as client:
        totals = expect(await client.get(
            f"{BASE}/disbursements/totals",
            params={"region_code": "350623", "from": "2026-02", "to": "2026-05"},
            headers=auth(county_reviewer),
        ), 200)
        town = expect(await client.get(
            f"{BASE}/disbursements/totals",
            params={"region_code": "350623100", "from": "2026-02", "to": "2026-05"},
            headers=auth(county_reviewer),
        ), 200)
        other_county = await client.get(
            f"{BASE}/disbursements/totals",
            params={"region_code": "350624", "from": "2026-02", "to": "2026-05"},
            headers=auth(county_reviewer),
        )
        backwards = await client.get(
            f"{BASE}/disbursements/totals",
            params={"region_code": "350623", "from": "2026-05", "to": "2026-02"},
            headers=auth(county_reviewer),
        )
    assert totals["amount_yuan"] == "7398000.00"
    assert totals["amount_fen"] == 739_800_000
    assert totals["person_times"] == 144_000
    assert totals["recipients"] == SEED_RECIPIENTS
    assert 0 < town["person_times"] < 144_000
    assert other_county.status_code == 403
    assert other_county.json()["code"] == "out_of_scope"
    assert backwards.json()["code"] == "period_invalid"


async def test_the_monthly_run_pays_each_recipient_once_however_often_it_runs(
    world: ReliefWorld,
) -> None:
    granted: dict[str, int] = {}
    for amount in (65_000, 72_000):
        _, token = world.resident()
        app_id = (await submit(world.client, token))["id"]
        await through_joint_review(world.client, world.staff, app_id)
        world.clock.advance(timedelta(days=7, seconds=1))
        approved = expect(await world.client.post(
            f"{BASE}/applications/{app_id}/approve", json={"monthly_amount_fen": amount},
            headers=auth(world.staff.civil_affairs)), 200)
        assert approved["status"] == "approved"
        granted[app_id] = amount
    one_off, _ = await approved_application(world, kind="temporary")
    refused = await world.client.post(
        f"{BASE}/applications/{one_off}/approve", json={"monthly_amount_fen": 1},
        headers=auth(world.staff.civil_affairs))
    assert refused.status_code == 409  # already approved

    run = {"region_code": world.region, "month": "2027-01"}
    url = f"{BASE}/disbursements/monthly-runs"
    keyed = {**auth(world.staff.civil_affairs), "Idempotency-Key": f"run-{uuid.uuid4().hex}"}
    first = expect(await world.client.post(url, json=run, headers=keyed), 201)
    assert first["posted"] == 2
    assert first["amount_yuan"] == "1370.00"
    again = expect(await world.client.post(url, json=run,
                                           headers=auth(world.staff.civil_affairs)), 201)
    assert again["posted"] == 0
    # A retry with the first run's key answers what the first run answered.
    assert expect(await world.client.post(url, json=run, headers=keyed), 201) == first
    for app_id, amount in granted.items():
        assert await ledger_rows(world, app_id) == 1
        assert await disbursed_events(world, app_id) == 1
        read = await get(world.client, world.staff.civil_affairs, app_id)
        assert read["status"] == "disbursing"
        assert read["payments"] == 1
        paid = await world.scalar("SELECT amount_fen FROM disbursements WHERE application_id "
                                  "= :i", i=uuid.UUID(app_id))
        assert paid == amount
    assert await ledger_rows(world, one_off) == 0  # temporary aid is never in the run

    totals = expect(await world.client.get(
        f"{BASE}/disbursements/totals",
        params={"region_code": world.region, "from": "2027-01", "to": "2027-01"},
        headers=auth(world.staff.civil_affairs)), 200)
    assert totals["person_times"] == 2
    assert totals["amount_fen"] == 137_000

    not_civil = await world.client.post(url, json=run, headers=auth(world.staff.agriculture))
    assert not_civil.json()["code"] == "agency_required"
    far = world.make_token(roles=["reviewer"], regions=["350624"],
                           extra={"agency": "civil_affairs"})
    assert (await world.client.post(url, json=run, headers=auth(far))).json()["code"] == (
        "out_of_scope"
    )


async def test_a_monthly_amount_is_granted_to_dibao_and_tekun_only(world: ReliefWorld) -> None:
    _, token = world.resident()
    app_id = (await submit(world.client, token, kind="temporary"))["id"]
    await through_joint_review(world.client, world.staff, app_id)
    world.clock.advance(timedelta(days=7, seconds=1))
    refused = await world.client.post(
        f"{BASE}/applications/{app_id}/approve", json={"monthly_amount_fen": 50_000},
        headers=auth(world.staff.civil_affairs))
    assert refused.status_code == 422
    assert refused.json()["code"] == "monthly_amount_invalid"
    assert (await get(world.client, world.staff.civil_affairs, app_id))["status"] == (
        "awaiting_approval"
    )


async def test_simultaneous_monthly_runs_and_single_postings_pay_each_month_once(
    world: ReliefWorld,
) -> None:
    app_ids = []
    for _ in range(3):
        _, token = world.resident()
        app_id = (await submit(world.client, token))["id"]
        await through_joint_review(world.client, world.staff, app_id)
        world.clock.advance(timedelta(days=7, seconds=1))
        expect(await world.client.post(
            f"{BASE}/applications/{app_id}/approve", json={"monthly_amount_fen": 50_000},
            headers=auth(world.staff.civil_affairs)), 200)
        app_ids.append(app_id)
    run = world.client.post(
        f"{BASE}/disbursements/monthly-runs",
        json={"region_code": world.region, "month": "2027-03"},
        headers=auth(world.staff.civil_affairs),
    )
    runs = [run, world.client.post(
        f"{BASE}/disbursements/monthly-runs",
        json={"region_code": world.region, "month": "2027-03"},
        headers=auth(world.staff.civil_affairs),
    )]
    singles = [disburse(world.client, world.staff, app_id, month="2027-03", amount_fen=50_000)
               for app_id in app_ids]
    responses = await asyncio.gather(*runs, *singles)
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    posted_by_runs = sum(r.json()["posted"] for r in responses[:2])
    posted_singly = sum(r.status_code == 201 for r in responses[2:])
    assert posted_by_runs + posted_singly == 3
    for app_id in app_ids:
        assert await ledger_rows(world, app_id) == 1
        assert await disbursed_events(world, app_id) == 1


async def test_a_paid_month_is_answered_only_to_civil_affairs_of_the_applicants_region(
    world: ReliefWorld,
) -> None:
    """Re-posting a month already paid answers the payment (200) or its id (409): that is
    the recipient's relief record, so the actor is checked before the ledger is looked up."""
    app_id, _ = await approved_application(world)
    expect(await disburse(world.client, world.staff, app_id, month="2026-12",
                          amount_fen=80_000), 201)
    _, resident = world.resident()
    far = world.make_token(roles=["reviewer"], regions=["350624"],
                           extra={"agency": "civil_affairs"})
    for token, code in ((far, "out_of_scope"), (resident, "agency_required"),
                        (world.staff.agriculture, "agency_required")):
        for amount in (80_000, 1):
            response = await world.client.post(
                f"{BASE}/disbursements",
                json={"application_id": app_id, "month": "2026-12", "amount_fen": amount},
                headers=auth(token),
            )
            assert response.status_code == 403, response.text
            assert response.json()["code"] == code
            assert "disbursement_id" not in response.json()
    assert await ledger_rows(world, app_id) == 1


async def test_region_codes_and_months_that_cannot_exist_are_refused_not_crashed(
    world: ReliefWorld,
) -> None:
    """'001234' has the shape of a region code and '0000-01' of a month, but neither exists:
    a 422 with a code, never a 500, and nothing is written."""
    admin = world.make_token(roles=["admin"])
    _, resident = world.resident()
    totals = f"{BASE}/disbursements/totals"
    runs = f"{BASE}/disbursements/monthly-runs"
    answers = [
        await world.client.get(f"{BASE}/notices", params={"region_code": "001234"},
                               headers=auth(resident)),
        await world.client.get(totals, params={"region_code": "001234", "from": "2026-01",
                                               "to": "2026-02"}, headers=auth(admin)),
        await world.client.get(totals, params={"region_code": "350623", "from": "0000-01",
                                               "to": "2026-02"}, headers=auth(admin)),
        await world.client.post(runs, json={"region_code": "001234", "month": "2026-01"},
                                headers=auth(admin)),
        await world.client.post(runs, json={"region_code": "350623", "month": "0000-01"},
                                headers=auth(admin)),
        await world.client.post(f"{BASE}/disbursements", json={
            "application_id": str(uuid.uuid4()), "month": "0000-01", "amount_fen": 1},
            headers=auth(admin)),
        # Full-width digits have the shape too (\d takes them); they are no code or month.
        await world.client.get(totals, params={"region_code": "３５０６２３", "from": "2026-01",
                                               "to": "2026-02"}, headers=auth(admin)),
        await world.client.post(runs, json={"region_code": "350623", "month": "２０２６-01"},
                                headers=auth(admin)),
    ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "validation_error"
    assert await world.scalar("SELECT count(*) FROM disbursements WHERE month < '1000-01-01'"
                              " OR region_code LIKE '00%'") == 0
