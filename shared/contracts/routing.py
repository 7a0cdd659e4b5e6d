"""Integration events published by the routing service. Consumers depend on these shapes only."""

from __future__ import annotations
