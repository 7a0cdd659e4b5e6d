"""The revocation list every verifier checks, and its poller (shared/auth/revocations.py)."""

from __future__ import annotations

import time
import uuid

import pytest

from shared.auth.revocations import (
    PARTNER_APP,
    SESSION,
    SUBJECT,
    Revocation,
    RevocationBatch,
    RevocationList,
    RevocationPoller,
)
from shared.auth.tokens import TokenSigner, TokenVerifier
from shared.problems import Unauthorized
from shared.testing.plugin import wait_until


def _revocation(kind: str, key: str, *, at: float, lasts: float = 900.0) -> Revocation:
    return Revocation(kind=kind, key=key, not_before=at, expires_at=at + lasts)


def test_tokens_issued_before_a_revocation_are_refused_and_later_ones_are_not(
    token_signer: TokenSigner,
) -> None:
    verifier = TokenVerifier([token_signer.key.public_key], issuer="ehome-identity",
                             audience="ehome")
    user, now = uuid.uuid4(), time.time()
    before = token_signer.access_token(subject=user, roles=["dispatcher"], now=now - 1)
    verifier.verify(before)  # cached: the cache must not outlive the revocation
    verifier.revocations.apply([_revocation(SUBJECT, str(user), at=now - 0.5)])
    after = token_signer.access_token(subject=user, roles=["dispatcher"], now=now)

    with pytest.raises(Unauthorized) as refused:
        verifier.verify(before)
    assert refused.value.code == "token_revoked"
    assert verifier.verify(after).subject == user


def test_a_session_and_a_partner_apps_tokens_are_refused_by_their_own_keys(
    token_signer: TokenSigner,
) -> None:
    revocations = RevocationList()
    verifier = TokenVerifier([token_signer.key.public_key], issuer="ehome-identity",
                             audience="ehome", revocations=revocations)
    now, session = time.time(), uuid.uuid4()
    ended = token_signer.access_token(subject=uuid.uuid4(), roles=["resident"], session=session,
                                      now=now - 1)
    other = token_signer.access_token(subject=uuid.uuid4(), roles=["resident"],
                                      session=uuid.uuid4(), now=now - 1)
    on_behalf = token_signer.access_token(subject=uuid.uuid4(), roles=["resident"],
                                          kind="partner", extra={"partner_app": "pk_x"},
                                          now=now - 1)
    revocations.apply([_revocation(SESSION, str(session), at=now),
                       _revocation(PARTNER_APP, "pk_x", at=now)])

    for token in (ended, on_behalf):
        with pytest.raises(Unauthorized):
            verifier.verify(token)
    assert verifier.verify(other)


def test_merging_is_idempotent_the_latest_cut_wins_and_expired_entries_are_forgotten() -> None:
    revocations, heard = RevocationList(), []
    unsubscribe = revocations.subscribe(heard.append)
    now = time.time()
    first = _revocation(SUBJECT, str(uuid.uuid4()), at=now)
    assert revocations.apply([first, first]) == [first]
    assert revocations.apply([first]) == []
    later = Revocation(SUBJECT, first.key, now + 5, now + 905)
    assert revocations.apply([later]) == [later]
    assert heard == [first, later]
    unsubscribe()
    revocations.apply([_revocation(SESSION, "s", at=now)])
    assert len(heard) == 2
    revocations.apply([], now=now + 10_000)
    assert not revocations
    assert revocations.apply([_revocation("from_the_future", "k", at=now)]) == []


class _FlakySource:
    def __init__(self, batches: list[RevocationBatch | Exception]) -> None:
        self.batches = batches
        self.cursors: list[str | None] = []

    async def fetch(self, cursor: str | None) -> RevocationBatch:
        self.cursors.append(cursor)
        answer = self.batches.pop(0) if len(self.batches) > 1 else self.batches[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def aclose(self) -> None:
        return None


async def test_the_poller_keeps_the_last_known_list_while_identity_is_away() -> None:
    now = time.time()
    kept = _revocation(SUBJECT, str(uuid.uuid4()), at=now)
    source = _FlakySource([RevocationBatch([kept], "c1"), OSError("identity away"),
                           RevocationBatch([], "c2")])
    revocations = RevocationList()
    poller = RevocationPoller(revocations, source, interval=0.01, name="test")
    poller.start()
    try:
        async def resumed() -> bool:
            return "c2" in source.cursors  # asked from the last good cursor after the failure

        await wait_until(resumed, within=5.0)
    finally:
        await poller.stop()
    assert source.cursors[:3] == [None, "c1", "c1"]
    assert len(revocations) == 1  # kept through the outage
