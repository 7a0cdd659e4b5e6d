"""Data migration: every choice field of a category template carries ``options`` (each code
with the Chinese label residents read) next to its ``choices`` (the codes reports send, kept
as they were). Labels come from the message catalog; a code it does not know shows as itself.
Templates an admin already gave options to are left as they are."""

import json

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"

from shared.i18n.zh_CN import CHOICE_LABELS  # noqa: E402


def _with_options(template: list[dict]) -> list[dict] | None:
    """The template with options added, or None when it needs none."""
    changed = False
    fields = []
    for field in template:
        if field.get("type") == "choice" and not field.get("options"):
            labels = CHOICE_LABELS.get(field["key"], {})
            field = {**field, "options": [{"code": c, "label": labels.get(c, c)}
                                          for c in field.get("choices") or []]}
            changed = True
        fields.append(field)
    return fields if changed else None


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT code, template FROM categories")).mappings().all()
    for row in rows:
        template = _with_options(row["template"])
        if template is not None:
            bind.execute(
                sa.text("UPDATE categories SET template = CAST(:t AS jsonb) WHERE code = :c"),
                {"t": json.dumps(template, ensure_ascii=False), "c": row["code"]},
            )

