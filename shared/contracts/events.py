"""Integration events published by the events service. Consumers depend on these shapes only."""

from __future__ import annotations
