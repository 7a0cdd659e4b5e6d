"""The relief public notice (公示) through the gateway: anyone reads it without a token."""

from __future__ import annotations

from tests.e2e.conftest import Platform, ok

COUNTY = "350626"


async def test_anyone_reads_the_relief_notice_through_the_gateway_without_a_token(
    platform: Platform,
) -> None:
    listed = ok(await platform.client.get("/api/v1/relief/notices",
                                          params={"region_code": COUNTY}))
    assert listed["items"] == []
