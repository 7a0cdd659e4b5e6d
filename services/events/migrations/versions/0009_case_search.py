"""Indexes of the staff case search (``GET /api/v1/events/search``).

Keyword search is a substring match on the description and address. Chinese keywords are often
two characters, which a trigram index cannot look up, so the texts are indexed by their
character bigrams: ``text_bigrams(description, address)`` (GIN over a ``text[]``). A keyword
of two or more characters needs every one of its bigrams present, which the index answers;
the substring match itself is then rechecked on the row, so the answer is exact.

The other indexes serve the search's filters and orders: region subtrees (a code prefix, which
the database's collation cannot use a plain btree for), assisting units, a unit's overdue work,
and the three sort orders with their keyset tiebreak."""

from alembic import op

revision = "0009"
down_revision = "0008"

_BIGRAMS = """
CREATE FUNCTION bigrams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(s.l, i, 2)), '{}')
    FROM (SELECT lower(t) AS l) s, generate_series(1, char_length(s.l) - 1) AS i
$$
"""
# Both texts in one array; a bigram across the separator only adds candidates, which the
# substring recheck removes. The same expression as bigrams(), not a call to it: an index
# must not depend on the search_path its rows are written under.
_TEXT_BIGRAMS = """
CREATE FUNCTION text_bigrams(description text, address text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(s.l, i, 2)), '{}')
    FROM (SELECT lower(coalesce(description, '') || E'\\n' || coalesce(address, '')) AS l) s,
         generate_series(1, char_length(s.l) - 1) AS i
$$
"""
HANDLING = "('dispatched', 'accepted', 'in_progress', 'returned')"


def upgrade() -> None:
    op.execute(_BIGRAMS)
    op.execute(_TEXT_BIGRAMS)
    op.execute("CREATE INDEX ix_cases_text_bigrams ON cases "
               "USING gin (text_bigrams(description, address))")
    op.execute("CREATE INDEX ix_cases_region_prefix ON cases "
               "(region_code varchar_pattern_ops)")
    op.execute("CREATE INDEX ix_cases_co_units ON cases USING gin (co_units)")
    op.execute(f"CREATE INDEX ix_cases_unit_overdue ON cases (assignee_unit_id, resolve_by) "
               f"WHERE status IN {HANDLING}")
    op.create_index("ix_cases_reported", "cases", ["reported_at", "id"])
    op.create_index("ix_cases_changed", "cases", ["updated_at", "id"])
    op.create_index("ix_cases_deadline", "cases", ["resolve_by", "id"])

