"""Integration events published by the identity service. Consumers depend on these shapes only."""

from __future__ import annotations
