"""Integration events published by the relief service. Consumers depend on these shapes only."""

from __future__ import annotations
