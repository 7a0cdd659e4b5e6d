"""Input types every service's schemas share: what PostgreSQL can store, refused at the door
with a 422 rather than crashing the statement with a 500."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def storable_text(text: str) -> str:
    """PostgreSQL text (and jsonb) cannot hold NUL."""
    if "\x00" in text:
        raise ValueError("text may not contain NUL characters")
    return text


StorableText = Annotated[str, AfterValidator(storable_text)]
