"""Integration events published by the booking service. Consumers depend on these shapes only."""

from __future__ import annotations
