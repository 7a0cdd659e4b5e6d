"""Pure infrastructure rules: envelopes, contracts, region codes, log redaction."""

from __future__ import annotations

import logging
import uuid

import httpx
import pytest
from pydantic import BaseModel

from shared import contracts
from shared.logs import configure_logging, redact_text
from shared.messaging.envelope import Envelope
from shared.messaging.memory import topic_matches
from shared.regions import ancestors, covers, is_region_code, region_level


def test_envelope_round_trips_through_bytes_with_its_routing_key() -> None:
    envelope = Envelope(
        event_type="platform.probe", producer="events", payload={"sequence": 3, "note": ""}
    )
    decoded = Envelope.from_bytes(envelope.to_bytes())
    assert decoded == envelope
    assert decoded.routing_key == "platform.probe.v1"
    assert isinstance(decoded.event_id, uuid.UUID)


def test_contract_validation_rejects_a_payload_of_the_wrong_shape() -> None:
    version, body = contracts.validate_payload("platform.probe", None, {"sequence": 1})
    assert (version, body) == (1, {"sequence": 1, "note": ""})
    with pytest.raises(ValueError, match="sequence"):
        contracts.validate_payload("platform.probe", None, {"sequence": "many"})
    with pytest.raises(contracts.UnknownContract):
        contracts.get("platform.nothing_like_this")


def test_a_contract_cannot_be_declared_twice_with_different_models() -> None:
    class Other(BaseModel):
        sequence: int

    with pytest.raises(ValueError, match="declared twice"):
        contracts.contract("platform.probe")(Other)


@pytest.mark.parametrize(
    ("binding", "key", "expected"),
    [
        ("events.event_reported.v1", "events.event_reported.v1", True),
        ("events.*.v1", "events.event_reported.v1", True),
        ("events.#", "events.event_reported.v1", True),
        ("#", "a.b.c", True),
        ("events.*", "events.event_reported.v1", False),
        ("routing.#", "events.event_reported.v1", False),
        ("events.#.v1", "events.v1", True),
    ],
)
def test_memory_broker_topic_matching_follows_amqp(binding: str, key: str, expected: bool) -> None:
    assert topic_matches(binding, key) is expected


def test_region_levels_and_coverage_follow_the_code_prefixes() -> None:
    assert region_level("350000") == "province"
    assert region_level("350600") == "city"
    assert region_level("350623") == "county"
    assert region_level("350626106") == "town"
    assert region_level("350626106001") == "community"
    assert region_level("350626106001002") == "grid"
    assert covers("350600", "350626106001")
    assert covers("350626", "350626106")
    assert covers("350626106", "350626106")
    assert not covers("350626106", "350626105001")
    assert not covers("350623", "350626100")
    assert ancestors("350626106001") == ["350626106001", "350626106", "350626", "350600", "350000"]
    with pytest.raises(ValueError, match="region code"):
        region_level("35062")


@pytest.mark.parametrize("code", ["３５０６００", "350600\n", "35060٠", "350600 ", "0012345"])
def test_a_region_code_is_ascii_digits_and_nothing_else(code: str) -> None:
    assert not is_region_code(code)


def test_log_redaction_masks_id_numbers_and_phones() -> None:
    line = "resident 350623199001011234 called from 13812345678 about case 2026"
    expected = "resident 350623********1234 called from 138****5678 about case 2026"
    assert redact_text(line) == expected


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_a_credential_in_an_outgoing_query_string_never_reaches_the_logs() -> None:
    configure_logging(level="INFO", json=True)
    records = _Records()
    logging.getLogger().addHandler(records)
    try:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
        async with httpx.AsyncClient(transport=transport) as client:
            await client.post("https://api.weixin.qq.com/cgi-bin/message/subscribe/send"
                              "?access_token=TOKEN-SECRET-123", json={})
            logging.getLogger("ehome.probe").info("after the request")
    finally:
        logging.getLogger().removeHandler(records)
    assert records.lines == ["after the request"]  # the handler saw INFO lines, none of httpx
