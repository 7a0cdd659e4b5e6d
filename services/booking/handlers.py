"""Bus consumers of the booking service: decode, call service.py, nothing else."""

from __future__ import annotations

from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription] = []
