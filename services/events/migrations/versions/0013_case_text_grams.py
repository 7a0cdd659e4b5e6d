"""The keyword index reads a stored column, kept by a trigger only when the texts change.

Migration 0009 indexed the expression ``text_bigrams(description, address)``. PostgreSQL
evaluates an index expression for every new row version, and a case gets one on every update
(a status change cannot be a HOT update: the status, the unit and the deadlines are indexed).
The function is SQL that cannot be inlined, so each evaluation plans its body again: about
0.15 ms of the server's CPU per write, half of what inserting or updating a case costs.

Now the bigrams are the column ``text_grams``, set by a row trigger that fires on insert and
on an update that names ``description`` or ``address`` (the intake and the text backfill): a
PL/pgSQL body, whose plan the session keeps (one generic plan). Status changes only copy the
column. The search asks the GIN index on the column the same question as before
(``@> bigrams(keyword)``), and the substring recheck still gives the exact answer."""

from alembic import op

revision = "0013"
down_revision = "0012"

# The expression of 0009's text_bigrams(), on the new row: built-in functions only, so the
# trigger does not depend on the search_path its rows are written under. Its plan is the same
# for every row, but PL/pgSQL would plan it again per row (a custom plan each time: 0.08 ms,
# more than running it): the generic one is kept instead.
_TRIGGER_FUNCTION = """
CREATE FUNCTION case_text_grams() RETURNS trigger
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    NEW.text_grams := (
        SELECT coalesce(array_agg(DISTINCT substr(s.l, i, 2)), '{}')
        FROM (SELECT lower(coalesce(NEW.description, '') || E'\\n'
                           || coalesce(NEW.address, '')) AS l) s,
             generate_series(1, char_length(s.l) - 1) AS i);
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.execute("ALTER TABLE cases ADD COLUMN text_grams text[] NOT NULL DEFAULT '{}'")
    op.execute("UPDATE cases SET text_grams = text_bigrams(description, address)")
    op.execute(_TRIGGER_FUNCTION)
    op.execute("CREATE TRIGGER case_text_grams BEFORE INSERT OR UPDATE OF description, address "
               "ON cases FOR EACH ROW EXECUTE FUNCTION case_text_grams()")
    op.execute("DROP INDEX ix_cases_text_bigrams")
    op.execute("DROP FUNCTION text_bigrams(text, text)")
    op.execute("CREATE INDEX ix_cases_text_grams ON cases USING gin (text_grams)")
