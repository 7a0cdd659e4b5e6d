"""The staff case search: one query builder for the page and the export (migrations 0009 and
0013 hold its indexes). Scope, filters and order are all in the SQL; never commits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    any_,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String, Text

from shared.db.uow import UnitOfWork

from .tables import cases, categories

# "Overdue now": still with a unit (statuses spelled out, not bound, so the planner proves the
# partial index ix_cases_unit_overdue applies) and past its handling deadline.
HANDLING = ("dispatched", "accepted", "in_progress", "returned")
SORTS = ("reported", "deadline", "changed")
PROBE = 2000  # cases a keyword page reads in order before it asks the bigram index
# The texts' bigrams, kept by a trigger (migration 0013). Not a column of ``cases``: no case
# read needs it, so none pays for decoding it.
TEXT_GRAMS = literal_column(f"{cases.name}.text_grams", ARRAY(Text))


@dataclass(frozen=True)
class SearchScope:
    """What a staff member may see: everything (admins), or cases in these region prefixes or
    held, assisted or left by these units."""

    see_all: bool = False
    region_prefixes: Sequence[str] = ()
    unit_ids: Sequence[uuid.UUID] = ()


@dataclass(frozen=True)
class CaseFilter:
    case_no: str | None = None
    keyword: str | None = None
    category: str | None = None  # the category and its subtree
    region_prefix: str | None = None  # the region and its subtree
    unit_id: uuid.UUID | None = None
    assisting_unit_id: uuid.UUID | None = None
    statuses: Sequence[str] = ()
    overdue: bool | None = None
    supervised: bool | None = None  # under manual supervision (督办) now, or not
    # Cases that have left one of ``own_units`` (the caller's), or not.
    handled_before: bool | None = None
    own_units: Sequence[uuid.UUID] = ()
    urgencies: Sequence[str] = ()
    ratings: Sequence[str] = ()
    channels: Sequence[str] = ()
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    closed_from: datetime | None = None
    closed_to: datetime | None = None


def _after_prefix(prefix: str) -> str | None:
    """The least digit string above every code that starts with ``prefix`` (3509 → 351)."""
    stem = prefix.rstrip("9")
    return stem[:-1] + str(int(stem[-1]) + 1) if stem else None


def _in_region(prefix: str) -> ColumnElement[bool]:
    """Codes starting with ``prefix`` (digits), as a range in the pattern operators' byte
    order, which ix_cases_region_prefix answers in a generic plan too (a LIKE on a bound
    pattern cannot use it there)."""
    code = cases.c.region_code
    low = code.op("~>=~")(literal(prefix, Text))
    high = _after_prefix(prefix)
    return low if high is None else and_(low, code.op("~<~")(literal(high, Text)))


def _scope(scope: SearchScope) -> ColumnElement[bool]:
    if scope.see_all:
        return true()
    parts: list[ColumnElement[bool]] = [_in_region(prefix) for prefix in scope.region_prefixes]
    if scope.unit_ids:
        units = list(scope.unit_ids)
        # Cases the units hold or assist, and those that have left them (read only).
        parts += [cases.c.assignee_unit_id.in_(units), cases.c.co_units.overlap(units),
                  cases.c.former_unit_ids.overlap(units)]
    return or_(*parts) if parts else literal(False)


def _contains(columns: Any, words: str) -> ColumnElement[bool]:
    return or_(columns.description.icontains(words, autoescape=True),
               columns.address.icontains(words, autoescape=True))


def _keyword(words: str) -> ColumnElement[bool]:
    # The index narrows the rows to those with every bigram; the substring is the answer.
    return and_(TEXT_GRAMS.op("@>")(func.bigrams(literal(words, Text))), _contains(cases.c, words))


def _subtree(code: str) -> Any:
    tree = select(categories.c.code).where(categories.c.code == code).cte(recursive=True)
    tree = tree.union_all(select(categories.c.code).where(categories.c.parent_code == tree.c.code))
    return select(tree.c.code)


def _any(column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    return column == any_(literal(list(values), ARRAY(String)))


def _filters(f: CaseFilter, now: datetime) -> list[ColumnElement[bool]]:
    c = cases.c
    out: list[ColumnElement[bool]] = []
    if f.case_no is not None:
        out.append(c.case_no == f.case_no)
    if f.keyword is not None:
        out.append(_keyword(f.keyword))
    if f.category is not None:
        out.append(c.category_code.in_(_subtree(f.category)))
    if f.region_prefix is not None:
        out.append(_in_region(f.region_prefix))
    if f.unit_id is not None:
        out.append(c.assignee_unit_id == f.unit_id)
    if f.assisting_unit_id is not None:
        out.append(c.co_units.contains([f.assisting_unit_id]))
    for column, values in ((c.status, f.statuses), (c.urgency, f.urgencies),
                           (c.rating, f.ratings), (c.channel, f.channels)):
        if values:
            out.append(_any(column, values))
    if f.overdue is not None:
        handling = c.status.in_([literal_column(f"'{s}'") for s in HANDLING])
        late = and_(handling, c.resolve_by < now)
        out.append(late if f.overdue else ~late)  # NULL deadline: not overdue
    if f.supervised is not None:
        out.append(c.supervised if f.supervised else ~c.supervised)
    if f.handled_before is not None:
        left: ColumnElement[bool] = (c.former_unit_ids.overlap(list(f.own_units))
                                     if f.own_units else literal(False))
        out.append(left if f.handled_before else ~left)
    for column, low, high in ((c.reported_at, f.reported_from, f.reported_to),
                              (c.closed_at, f.closed_from, f.closed_to)):
        if low is not None:
            out.append(column >= low)
        if high is not None:
            out.append(column < high)
    return out


def _order(sort: str, after: tuple[datetime, uuid.UUID] | None) -> tuple[list[Any], Any]:
    """Order by and the keyset condition; the deadline order lists soonest first and only
    cases that have a deadline, the other two newest first."""
    column = {"reported": cases.c.reported_at, "deadline": cases.c.resolve_by,
              "changed": cases.c.updated_at}[sort]
    key = tuple_(column, cases.c.id)
    if sort == "deadline":
        keyset = key > tuple_(*after) if after else column.is_not(None)
        return [column.asc(), cases.c.id.asc()], keyset
    keyset = key < tuple_(*after) if after else true()
    return [column.desc(), cases.c.id.desc()], keyset


def search_query(*, scope: SearchScope, search: CaseFilter, now: datetime, sort: str,
                 after: tuple[datetime, uuid.UUID] | None = None,
                 limit: int | None = None) -> Select[Any]:
    """The search as one statement (the bench runs this very statement)."""
    order, keyset = _order(sort, after)
    query = select(cases).where(_scope(scope), keyset, *_filters(search, now)).order_by(*order)
    return query.limit(limit) if limit is not None else query


def probe_query(*, scope: SearchScope, search: CaseFilter, now: datetime, sort: str,
                after: tuple[datetime, uuid.UUID] | None = None,
                limit: int | None = None) -> Select[Any] | None:
    """A keyword page's first try: the keyword over the first ``PROBE`` cases in the page's
    order by the other filters. When that finds the page it is the page (the window is a
    prefix of the order). Why: PostgreSQL estimates a keyword's bigrams as independent, so
    it takes a common word for a rare one and reads every match through the bigram index
    before sorting, where reading the newest cases in order finds the page in a few
    hundred; a rare word fills no page here, and the index answers it."""
    if search.keyword is None:
        return None
    order, keyset = _order(sort, after)
    others = replace(search, keyword=None)
    window = (select(cases).where(_scope(scope), keyset, *_filters(others, now))
              .order_by(*order).limit(PROBE).subquery("window"))
    w = window.c
    column = {"reported": w.reported_at, "deadline": w.resolve_by, "changed": w.updated_at}[sort]
    direction = (column.asc(), w.id.asc()) if sort == "deadline" else (column.desc(),
                                                                       w.id.desc())
    query = select(window).where(_contains(w, search.keyword)).order_by(*direction)
    return query.limit(limit) if limit is not None else query


async def first_page(run: Callable[[Select[Any]], Awaitable[list[Any]]], *, limit: int,
                     **query: Any) -> list[Any]:
    """The page: the probe when it fills it, else the search (``run`` executes a statement:
    the unit of work's connection here, the bench's own)."""
    probe = probe_query(limit=limit, **query)
    if probe is not None:
        rows = await run(probe)
        if len(rows) >= limit:
            return rows
    return await run(search_query(limit=limit, **query))


def sort_key(sort: str, row: Any) -> datetime:
    return row[{"reported": "reported_at", "deadline": "resolve_by",
                "changed": "updated_at"}[sort]]  # type: ignore[no-any-return]


async def search_cases(uow: UnitOfWork, **query: Any) -> list[Any]:
    """One page (``limit`` rows) of the search."""
    async def run(statement: Select[Any]) -> list[Any]:
        return list((await uow.connection.execute(statement)).mappings())

    return await first_page(run, **query)


async def stream_cases(uow: UnitOfWork, *, batch: int = 1000,
                       **query: Any) -> AsyncIterator[Sequence[Any]]:
    """The whole search in batches over a server-side cursor: never all rows at once."""
    result = await uow.connection.stream(
        search_query(**query).execution_options(yield_per=batch))
    async for rows in result.mappings().partitions(batch):
        yield rows
