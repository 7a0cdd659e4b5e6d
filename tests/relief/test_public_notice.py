"""The public notice (公示) is public: anyone reads it without signing in, with names masked
as for a signed-in reader, and bad input is still refused."""

from __future__ import annotations

from tests.relief.conftest import ReliefWorld
from tests.relief.flows import BASE, expect, submit, through_joint_review


async def test_anyone_without_a_token_reads_the_public_notice_with_masked_names(
    world: ReliefWorld,
) -> None:
    _, token = world.resident(name="林秀英")
    app_id = (await submit(world.client, token))["id"]
    noticed = await through_joint_review(world.client, world.staff, app_id)
    assert noticed["status"] == "in_notice"

    listed = expect(await world.client.get(f"{BASE}/notices",
                                           params={"region_code": world.region}), 200)

    assert [n["application_id"] for n in listed["items"]] == [app_id]
    assert listed["items"][0]["applicant_name"] == "林**"
    assert "林秀英" not in str(listed)
    assert "id_number" not in listed["items"][0]


async def test_an_anonymous_notice_read_with_a_bad_region_is_refused(world: ReliefWorld) -> None:
    response = await world.client.get(f"{BASE}/notices", params={"region_code": "not-a-code"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
