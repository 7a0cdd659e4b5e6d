"""Token buckets per client, held in this replica's memory.

The limit is per replica: N gateway replicas behind a round-robin balancer let a client through
at up to N times the configured rate. That is a deliberate trade (no shared store, no network
hop on the hot path): the limit protects the services from runaway clients and floods; it is
not a billing quota.

Memory stays bounded. A bucket idle long enough to have refilled completely is
indistinguishable from a new one, so it is dropped; and if more than ``max_clients`` clients
are active at once, the least recently seen bucket is dropped early (that client starts over
with a full bucket, which errs on the side of letting traffic through).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_seconds: int = 0  # whole seconds, at least 1 when refused (Retry-After header)


_ALLOWED = Decision(True)


class RateLimiter:
    def __init__(
        self,
        *,
        rate_per_second: float,
        burst: int,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be > 0 and burst >= 1")
        self.rate = rate_per_second
        self.burst = float(burst)
        self.max_clients = max_clients
        self._clock = clock
        # Least recently seen first: eviction only ever looks at the front.
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()
        self._refill_seconds = self.burst / self.rate

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: Hashable) -> Decision:
        """Spend one token of ``client``'s bucket, or say how long until one is available."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            self._evict_idle(now)
            bucket = self._buckets[client] = _Bucket(self.burst, now)
        else:
            self._buckets.move_to_end(client)
            elapsed = now - bucket.updated
            if elapsed > 0:
                bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return _ALLOWED
        wait = (1.0 - bucket.tokens) / self.rate
        return Decision(False, max(1, math.ceil(wait)))

    def _evict_idle(self, now: float) -> None:
        buckets = self._buckets
        while buckets:
            oldest = next(iter(buckets.values()))
            if now - oldest.updated < self._refill_seconds and len(buckets) < self.max_clients:
                break
            buckets.popitem(last=False)
