"""One-click application: identity from the registry, one open application per person and
kind, staff on a resident's behalf, and every bad input refused with nothing written."""

from __future__ import annotations

import uuid
from datetime import date

import httpx

from services.relief.app import create_app
from services.relief.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.testing.plugin import running
from tests.relief.conftest import ReliefWorld
from tests.relief.flows import BASE, auth, expect, submit
from tests.relief.identity_standin import closed_port_url


async def count_for(world: ReliefWorld, user_id: str) -> int:
    return int(await world.scalar(
        "SELECT count(*) FROM applications WHERE applicant_user_id = :u", u=uuid.UUID(user_id)
    ))


async def test_resident_applies_with_only_a_reason_and_identity_comes_from_the_registry(
    world: ReliefWorld,
) -> None:
    user_id, token = world.resident()
    created = await submit(world.client, token, attachments=["att://medical-bill-1"])
    assert created["status"] == "submitted"
    assert (uuid.UUID(user_id), "relief") in world.identity.calls

    read = expect(await world.client.get(f"{BASE}/applications/{created['id']}",
                                         headers=auth(token)), 200)
    profile = world.identity.profiles[uuid.UUID(user_id)]
    assert read["applicant_name"] == "林**"
    assert read["id_number"] == profile["id_number"][:6] + "********" + profile["id_number"][-4:]
    assert read["region_code"] == world.region
    assert read["household_size"] == 2
    assert read["household_source"] == "registry"
    assert read["attachments_count"] == 1
    assert "丈夫病故" not in read["reason"]
    assert read["on_behalf"] is False

    # At rest: ciphertexts only, nothing readable in the row.
    row_text = await world.scalar(
        "SELECT row_to_json(a)::text FROM applications a WHERE id = :i",
        i=uuid.UUID(created["id"]),
    )
    for plaintext in (profile["name"], profile["id_number"], "丈夫病故", "medical-bill",
                      "南门村"):
        assert plaintext not in row_text


async def test_only_one_open_application_per_person_and_kind(world: ReliefWorld) -> None:
    user_id, token = world.resident()
    await submit(world.client, token, kind="dibao")
    again = await world.client.post(
        f"{BASE}/applications", json={"kind": "dibao", "reason": "再次申请"},
        headers=auth(token),
    )
    assert again.status_code == 409
    assert again.json()["code"] == "application_already_open"
    assert await count_for(world, user_id) == 1
    await submit(world.client, token, kind="temporary")  # another kind is another matter
    assert await count_for(world, user_id) == 2


async def test_a_rejected_person_may_apply_again(world: ReliefWorld) -> None:
    _, token = world.resident()
    first = await submit(world.client, token)
    expect(await world.client.post(
        f"{BASE}/applications/{first['id']}/reject", json={"reason": "材料不全"},
        headers=auth(world.staff.town),
    ), 200)
    second = await submit(world.client, token)
    assert second["id"] != first["id"]


async def test_grid_worker_applies_on_behalf_and_both_people_are_recorded(
    world: ReliefWorld,
) -> None:
    user_id, resident_token = world.resident()
    worker = world.make_token(roles=["grid_worker"], regions=[world.region])
    created = await submit(world.client, worker, applicant_user_id=user_id)
    read = expect(await world.client.get(f"{BASE}/applications/{created['id']}",
                                         headers=auth(resident_token)), 200)
    assert read["applicant_user_id"] == user_id
    assert read["on_behalf"] is True
    assert read["submitted_by"] != user_id
    # The worker sees it too (it is in their region), and the resident lists it as theirs.
    expect(await world.client.get(f"{BASE}/applications/{created['id']}",
                                  headers=auth(worker)), 200)
    mine = expect(await world.client.get(f"{BASE}/applications",
                                         headers=auth(resident_token)), 200)
    assert [a["id"] for a in mine["items"]] == [created["id"]]


async def test_grid_worker_cannot_apply_for_someone_outside_their_grid(
    world: ReliefWorld,
) -> None:
    user_id, _ = world.resident()
    far_worker = world.make_token(roles=["grid_worker"], regions=["350624100"])
    response = await world.client.post(
        f"{BASE}/applications",
        json={"kind": "tekun", "reason": "孤寡老人", "applicant_user_id": user_id},
        headers=auth(far_worker),
    )
    assert response.status_code == 403
    assert response.json()["code"] == "out_of_scope"
    assert await count_for(world, user_id) == 0


async def test_unknown_or_unverified_people_get_a_clear_problem_and_nothing_is_written(
    world: ReliefWorld,
) -> None:
    stranger = uuid.uuid4()
    token = world.make_token(subject=stranger, roles=["resident"], verified=True)
    unknown = await world.client.post(
        f"{BASE}/applications", json={"kind": "dibao", "reason": "困难"}, headers=auth(token)
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "resident_not_found"

    unverified_id = world.identity.add_resident(region_code=world.region, verified=False)
    token = world.make_token(subject=unverified_id, roles=["resident"], verified=True)
    refused = await world.client.post(
        f"{BASE}/applications", json={"kind": "dibao", "reason": "困难"}, headers=auth(token)
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "applicant_not_verified"

    not_verified_token = world.make_token(roles=["resident"], verified=False)
    early = await world.client.post(
        f"{BASE}/applications", json={"kind": "dibao", "reason": "困难"},
        headers=auth(not_verified_token),
    )
    assert early.status_code == 403
    assert early.json()["code"] == "applicant_not_verified"
    for user in (stranger, unverified_id):
        assert await count_for(world, str(user)) == 0


async def test_identity_down_answers_503_and_nothing_is_written(
    relief_settings: Settings, token_verifier: TokenVerifier, world: ReliefWorld,
) -> None:
    user_id, token = world.resident()
    settings = relief_settings.model_copy(update={"identity_base_url": closed_port_url()})
    async with running(create_app(settings, verifier=token_verifier)) as client:
        response = await client.post(
            f"{BASE}/applications", json={"kind": "dibao", "reason": "困难"},
            headers=auth(token),
        )
    assert response.status_code == 503
    assert response.json()["code"] == "identity_unavailable"
    assert response.headers["retry-after"] == "5"
    assert await count_for(world, user_id) == 0


async def test_bad_input_is_refused_with_a_code_and_nothing_is_written(
    world: ReliefWorld,
) -> None:
    user_id, token = world.resident()
    cases = [
        ({"kind": "loan", "reason": "x"}, 422, "validation_error"),
        ({"kind": "dibao", "reason": "   "}, 422, "reason_required"),  # 请填写：困难情况
        ({"kind": "dibao"}, 422, "reason_required"),
        ({"kind": "dibao", "reason": "x", "surprise": 1}, 422, "validation_error"),
        ({"kind": "dibao", "reason": "x", "household": [
            {"name": "林", "id_number": "350623196803090011", "relation": "self"}]},
         422, "household_id_number_invalid"),
    ]
    for body, status, code in cases:
        response = await world.client.post(f"{BASE}/applications", json=body,
                                           headers=auth(token))
        assert response.status_code == status, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code, body
    staff_without_applicant = world.make_token(roles=["grid_worker"], regions=[world.region])
    response = await world.client.post(
        f"{BASE}/applications", json={"kind": "dibao", "reason": "x"},
        headers=auth(staff_without_applicant),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "applicant_required"
    unauthenticated = await world.client.post(
        f"{BASE}/applications", json={"kind": "dibao", "reason": "x"}
    )
    assert unauthenticated.status_code == 401
    assert await count_for(world, user_id) == 0


async def test_minor_applicant_is_flagged_from_the_registry_birth_date(
    world: ReliefWorld,
) -> None:
    _, token = world.resident(birth_date=date(2012, 1, 1), name="陈小红")
    created = await submit(world.client, token, kind="tekun")
    read = expect(await world.client.get(f"{BASE}/applications/{created['id']}",
                                         headers=auth(token)), 200)
    assert read["applicant_is_minor"] is True


async def test_a_retried_application_with_the_same_key_answers_the_same(
    world: ReliefWorld,
) -> None:
    user_id, token = world.resident()
    headers = {**auth(token), "Idempotency-Key": f"apply-{uuid.uuid4().hex}"}
    body = {"kind": "dibao", "reason": "困难"}
    first = await world.client.post(f"{BASE}/applications", json=body, headers=headers)
    second = await world.client.post(f"{BASE}/applications", json=body, headers=headers)
    assert first.status_code == 201
    assert second.json() == first.json()
    assert await count_for(world, user_id) == 1


async def test_identity_errors_and_malformed_profiles_answer_503_not_500(
    relief_settings: Settings, token_verifier: TokenVerifier, world: ReliefWorld,
) -> None:
    user_id, token = world.resident()
    answers = [
        httpx.Response(500, json={"code": "internal_error"}),
        httpx.Response(401, json={"code": "internal_key_invalid"}),
        httpx.Response(200, json={"user_id": user_id, "verified": True}),  # fields missing
        httpx.Response(200, content=b"<html>proxy error</html>"),
    ]
    for answer in answers:
        transport = httpx.MockTransport(lambda request, answer=answer: answer)
        app = create_app(relief_settings, verifier=token_verifier, identity_transport=transport)
        async with running(app) as client:
            response = await client.post(
                f"{BASE}/applications", json={"kind": "dibao", "reason": "困难"},
                headers=auth(token),
            )
        assert response.status_code == 503, answer
        assert response.json()["code"] == "identity_unavailable"
    assert await count_for(world, user_id) == 0


async def test_an_unverified_or_unregistered_resident_is_told_why_and_nothing_is_written(
    relief_settings: Settings, token_verifier: TokenVerifier, world: ReliefWorld,
) -> None:
    user_id, token = world.resident()
    unverified = {"user_id": user_id, "verified": False, "name": None, "id_number": None,
                  "birth_date": None, "region_code": None, "household": []}
    unregistered = {"user_id": user_id, "verified": True, "name": "林一",
                    "id_number": "350626199001011234", "birth_date": "1990-01-01",
                    "gender": "male", "region_code": None, "household_id": None,
                    "address": None, "household": []}
    expected = [(unverified, 403, "applicant_not_verified"),
                (unregistered, 422, "applicant_not_in_registry")]
    for body, status, code in expected:
        transport = httpx.MockTransport(lambda request, body=body: httpx.Response(200, json=body))
        app = create_app(relief_settings, verifier=token_verifier, identity_transport=transport)
        async with running(app) as client:
            response = await client.post(
                f"{BASE}/applications", json={"kind": "dibao", "reason": "困难"},
                headers=auth(token),
            )
        assert (response.status_code, response.json()["code"]) == (status, code)
    assert await count_for(world, user_id) == 0


async def test_lists_page_with_a_cursor(world: ReliefWorld) -> None:
    _, token = world.resident()
    created = [(await submit(world.client, token, kind=kind))["id"]
               for kind in ("dibao", "tekun", "temporary")]
    first = expect(await world.client.get(f"{BASE}/applications", params={"limit": 2},
                                          headers=auth(token)), 200)
    assert [a["id"] for a in first["items"]] == created[:2]
    assert first["next_cursor"]
    second = expect(await world.client.get(
        f"{BASE}/applications", params={"limit": 2, "cursor": first["next_cursor"]},
        headers=auth(token)), 200)
    assert [a["id"] for a in second["items"]] == created[2:]
    assert second["next_cursor"] is None
    town_queue = expect(await world.client.get(f"{BASE}/applications", params={"limit": 1},
                                               headers=auth(world.staff.town)), 200)
    assert len(town_queue["items"]) == 1
    assert town_queue["next_cursor"]
    bad = await world.client.get(f"{BASE}/applications", params={"cursor": "nonsense"},
                                 headers=auth(token))
    assert bad.status_code == 400
    assert bad.json()["code"] == "cursor_invalid"


async def test_applications_keep_being_accepted_on_one_connection_past_the_fifth(
    relief_settings: Settings, token_verifier: TokenVerifier, world: ReliefWorld,
) -> None:
    """PostgreSQL plans a prepared statement generically from its sixth execution on a
    connection; the one-open-application insert must still infer its partial unique index
    then. One pooled connection and the server's default plan_cache_mode: the fixture's
    forced generic plans would hide which execution goes wrong."""
    settings = relief_settings.model_copy(
        update={"db_pool_size": 1, "db_plan_cache_mode": None, "run_relay": False}
    )
    async with running(create_app(settings, verifier=token_verifier)) as client:
        for _ in range(8):
            _, token = world.resident()
            await submit(client, token)
        # and the index still refuses a second open application after the switch
        again = await client.post(f"{BASE}/applications", json={"kind": "dibao", "reason": "x"},
                                  headers=auth(token))
    assert again.status_code == 409
    assert again.json()["code"] == "application_already_open"
