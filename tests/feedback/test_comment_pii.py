"""A rating's comment is kept in the feedback service only; a phone or ID number the reporter
types into it is stored masked."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

from services.feedback.app import create_app
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.testing.plugin import running
from tests.feedback.conftest import C1
from tests.feedback.helpers import publish, sql, until_handled
from tests.feedback.lifecycle import Spec, Unit, build

UNIT = Unit(uuid.uuid4(), "漳浦县绥安镇综治中心", "350623100")


async def test_a_number_typed_into_a_comment_is_stored_masked(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    case = build(Spec(f"case-{uuid.uuid4().hex[:4]}", UNIT, C1, date(2026, 3, 2)))
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        await publish(app, case.envelopes)
        await until_handled(app, len(case.envelopes))
        rated = await client.post(
            "/api/v1/feedback/ratings",
            json={"event_id": str(case.spec.event_id), "rating": "dissatisfied",
                  "comment": "没人联系我，我的电话138 1234 5678，身份证350623199001011234"},
            headers={"Authorization": f"Bearer {make_token(subject=case.spec.reporter_id)}"})
        assert rated.status_code == 201, rated.text
        stored = await sql(app, "SELECT comment FROM ratings WHERE event_id = :e",
                           e=case.spec.event_id)
        assert [row[0] for row in stored] \
            == ["没人联系我，我的电话138****5678，身份证350623********1234"]
