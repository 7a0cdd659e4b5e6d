"""Integration events published by the feedback service. Consumers depend on these shapes only."""

from __future__ import annotations
