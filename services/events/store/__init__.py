"""Tables and queries of the events service (schema ``events``). Never commits."""

from __future__ import annotations

import functools
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    Table,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert

from shared.db.rows import insert_row, update_by
from shared.db.statements import Statement
from shared.db.uow import UnitOfWork

# The tables live in tables.py; the queries of masked free text in texts.py.
from .tables import (
    attachments,
    case_days,
    cases,
    categories,
    known_regions,
    metadata,
    reporter_reveals,
    text_reveals,
    timeline,
)
from .texts import (
    cases_after,
    masked_notes,
    noted_steps_after,
    record_text_reveal,
    reveal_reasons,
    update_reveal_reason,
    update_step,
)

# Re-exported from tables.py and texts.py (the queries below are this module's own).
__all__ = [
    "attachments",
    "case_days",
    "cases",
    "cases_after",
    "categories",
    "known_regions",
    "masked_notes",
    "metadata",
    "noted_steps_after",
    "record_text_reveal",
    "reporter_reveals",
    "reveal_reasons",
    "text_reveals",
    "timeline",
    "update_reveal_reason",
    "update_step",
]


# -- categories and regions --------------------------------------------------------------------


async def all_categories(uow: UnitOfWork, *, include_inactive: bool = False) -> list[Any]:
    query = select(categories).order_by(categories.c.sort, categories.c.code)
    if not include_inactive:
        query = query.where(categories.c.active)
    return list((await uow.connection.execute(query)).mappings())


async def get_category(uow: UnitOfWork, code: str) -> Any | None:
    row = await uow.connection.execute(select(categories).where(categories.c.code == code))
    return row.mappings().first()


async def upsert_category(uow: UnitOfWork, values: dict[str, Any]) -> None:
    stmt = insert(categories).values(**values)
    await uow.connection.execute(
        stmt.on_conflict_do_update(
            index_elements=["code"], set_={k: stmt.excluded[k] for k in values if k != "code"}
        )
    )


async def report_context(uow: UnitOfWork, *, code: str, region_code: str, since: datetime,
                         limit: int) -> tuple[Any | None, list[dict[str, Any]]]:
    """What a report reads before it is written, in one round trip: the category row plus
    ``region_known`` (is ``region_code`` an active known region), or None when there is no
    such category; and the first page of ``recent_in_community`` for its community."""
    row = await uow.fetchrow(_REPORT_CONTEXT, {
        "code": code, "region_code": region_code, "category_code": code,
        "community": region_code[:12], "since": since, "limit": limit,
    })
    if row is None:
        return None, []
    page = [{"id": id_, "description": description, "reported_at": at}
            for id_, description, at in row["recent"] or ()]
    return row, page


async def upsert_region(uow: UnitOfWork, *, code: str, name: str, active: bool) -> None:
    stmt = insert(known_regions).values(code=code, name=name, active=active)
    await uow.connection.execute(
        stmt.on_conflict_do_update(index_elements=["code"], set_={"name": name, "active": active})
    )


# -- cases -------------------------------------------------------------------------------------


async def next_case_sequence(uow: UnitOfWork, day: date) -> int:
    """The next number of ``day``, without a lock that concurrent reports would queue on:
    the first report of a day records where the sequence stood (only reports racing for that
    very first row wait for each other); every report's number is its distance from there."""
    # Every report but the day's first finds the row: one statement (no row, no nextval).
    number = await uow.fetchval(_DAY_NUMBER, {"day": day})
    if number is not None:
        return int(number)
    await uow.execute(_FIRST_OF_DAY, {"day": day})
    return int(await uow.fetchval(_DAY_NUMBER, {"day": day}))


_DAY_NUMBER = Statement(
    select(func.nextval("case_no_seq") - case_days.c.base).where(
        case_days.c.day == bindparam("day")
    )
)
# nextval() only where the day has no row yet, so later reports do not burn numbers.
_FIRST_OF_DAY = Statement(
    insert(case_days)
    .from_select(
        ["day", "base"],
        select(bindparam("day", type_=Date), func.nextval("case_no_seq")).where(
            ~exists().where(case_days.c.day == bindparam("day"))
        ),
    )
    .on_conflict_do_nothing(index_elements=["day"])
)


async def insert_case(uow: UnitOfWork, values: dict[str, Any], first_step: dict[str, Any]
                      ) -> None:
    """The new case and its first timeline step, in one statement."""
    await uow.execute(
        _case_with_step(tuple(values), tuple(first_step)),
        {**_params(values, "case_"), **_params(first_step, "step_")},
    )


def _bound(table: Table, keys: tuple[str, ...], prefix: str) -> dict[str, Any]:
    # Prefixed bind names: cases and timeline share column names (``id``), and SQLAlchemy
    # reserves a column's own name for the VALUES or SET clause.
    return {k: bindparam(f"{prefix}{k}", type_=table.c[k].type) for k in keys}


def _params(values: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {f"{prefix}{k}": v for k, v in values.items()}


@functools.cache
def _case_with_step(case_keys: tuple[str, ...], step_keys: tuple[str, ...]) -> Statement:
    new_case = insert(cases).values(_bound(cases, case_keys, "case_")).cte("new_case")
    return Statement(
        insert(timeline).values(_bound(timeline, step_keys, "step_")).add_cte(new_case)
    )


_CASE_QUERY = select(cases).where(cases.c.id == bindparam("event_id"))
_CASE, _CASE_LOCKED = Statement(_CASE_QUERY), Statement(_CASE_QUERY.with_for_update())


async def get_case(uow: UnitOfWork, event_id: uuid.UUID, *, lock: bool = False) -> Any | None:
    return await uow.fetchrow(_CASE_LOCKED if lock else _CASE, {"event_id": event_id})


async def update_case(uow: UnitOfWork, event_id: uuid.UUID, values: dict[str, Any]) -> None:
    await update_by(uow, cases, "id", event_id, values)


async def recent_in_community(
    uow: UnitOfWork,
    *,
    category_code: str,
    community: str,
    since: datetime,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int,
) -> list[Any]:
    """Earlier reports of a category in a community, oldest first; ``after`` pages on from the
    last one seen (reported_at, id)."""
    params: dict[str, Any] = {"category_code": category_code, "community": community,
                              "since": since, "limit": limit}
    if after is not None:
        params["after_at"], params["after_id"] = after
    query = _RECENT_AFTER if after is not None else _RECENT
    return list((await uow.connection.execute(query, params)).mappings())


def _recent(*, paged: bool) -> Any:
    query = select(cases.c.id, cases.c.description, cases.c.reported_at).where(
        cases.c.category_code == bindparam("category_code"),
        # A literal 12, not a bound one: the index is on this very expression.
        func.left(cases.c.region_code, literal_column("12")) == bindparam("community"),
        cases.c.reported_at >= bindparam("since"),
        cases.c.status != "rejected",
    )
    if paged:
        query = query.where(tuple_(cases.c.reported_at, cases.c.id)
                            > tuple_(bindparam("after_at"), bindparam("after_id")))
    return query.order_by(cases.c.reported_at, cases.c.id).limit(bindparam("limit"))


_RECENT, _RECENT_AFTER = _recent(paged=False), _recent(paged=True)
_FIRST_PAGE = _RECENT.subquery("first_page")
_REPORT_CONTEXT = Statement(select(
    categories,
    exists().where(known_regions.c.code == bindparam("region_code"), known_regions.c.active)
    .label("region_known"),
    # The page as one array of rows, in page order (the category row is not repeated per
    # row); asyncpg decodes the rows' uuids and timestamps itself, where JSON left strings to
    # parse. NULL when the page is empty.
    select(
        func.array_agg(aggregate_order_by(
            tuple_(_FIRST_PAGE.c.id, _FIRST_PAGE.c.description, _FIRST_PAGE.c.reported_at),
            _FIRST_PAGE.c.reported_at, _FIRST_PAGE.c.id,
        ))
    ).scalar_subquery().label("recent"),
).where(categories.c.code == bindparam("code")))


async def list_cases(
    uow: UnitOfWork,
    *,
    reporter_id: uuid.UUID | None,
    unit_ids: list[uuid.UUID],
    region_prefixes: list[str],
    see_all: bool,
    status: str | None,
    cursor: int | None,
    limit: int,
    words: str | None = None,
    handled_before: bool | None = None,
) -> list[Any]:
    """Cases visible to a caller: their own reports, their units' assignments (lead or
    assisting) and the cases that left their units, or the regions they cover. Newest first,
    ``cursor`` is the last ``seq`` seen. ``words``: only cases whose description or address
    contains them (as stored: masked). ``handled_before``: only cases that left one of
    ``unit_ids`` (true), or none of them (false)."""
    scope = []
    if reporter_id is not None:
        scope.append(cases.c.reporter_id == reporter_id)
    if unit_ids:
        scope.append(cases.c.assignee_unit_id.in_(unit_ids))
        scope.append(cases.c.co_units.overlap(unit_ids))
        scope.append(cases.c.former_unit_ids.overlap(unit_ids))
    for prefix in region_prefixes:
        scope.append(cases.c.region_code.startswith(prefix))
    query = select(cases)
    if not see_all:
        if not scope:
            return []
        query = query.where(or_(*scope))
    conditions = []
    if status:
        conditions.append(cases.c.status == status)
    if cursor is not None:
        conditions.append(cases.c.seq < cursor)
    if handled_before is not None:
        left = cases.c.former_unit_ids.overlap(unit_ids) if unit_ids else literal_column("false")
        conditions.append(left if handled_before else ~left)
    if words:
        # autoescape: % and _ in the words are literal characters, not wildcards.
        conditions.append(or_(cases.c.description.icontains(words, autoescape=True),
                              cases.c.address.icontains(words, autoescape=True)))
    if conditions:
        query = query.where(and_(*conditions))
    query = query.order_by(cases.c.seq.desc()).limit(limit)
    return list((await uow.connection.execute(query)).mappings())


# -- timeline, attachments, reveals -------------------------------------------------------------


async def add_step(uow: UnitOfWork, *, case_changes: dict[str, Any] | None = None,
                   **values: Any) -> int:
    """Append a timeline step; its id grows with every step, so it orders them.
    ``case_changes``: set on the step's case by the same statement."""
    if not case_changes:
        return int(await insert_row(uow, timeline, values, returning="id"))
    return int(await uow.fetchval(
        _step_with_changes(tuple(case_changes), tuple(values)),
        {**_params(case_changes, "case_"), **_params(values, "step_"),
         "case_key": values["event_id"]},
    ))


@functools.cache
def _step_with_changes(change_keys: tuple[str, ...], step_keys: tuple[str, ...]) -> Statement:
    changed = (
        update(cases)
        .where(cases.c.id == bindparam("case_key"))
        .values(_bound(cases, change_keys, "case_"))
        .cte("changed_case")
    )
    return Statement(
        insert(timeline)
        .values(_bound(timeline, step_keys, "step_"))
        .returning(timeline.c.id)
        .add_cte(changed)
    )


async def steps(uow: UnitOfWork, event_id: uuid.UUID) -> list[Any]:
    """The case's steps in the order they happened. Steps other services report (a
    supervision answered, a sub-task done) arrive as messages, sometimes after a later step
    was written here: ``at`` is when each happened, the id only breaks ties."""
    query = (select(timeline).where(timeline.c.event_id == event_id)
             .order_by(timeline.c.at, timeline.c.id))
    return list((await uow.connection.execute(query)).mappings())


async def insert_attachment(uow: UnitOfWork, values: dict[str, Any]) -> None:
    await uow.connection.execute(insert(attachments).values(**values))


async def claim_attachments(
    uow: UnitOfWork, *, ids: list[uuid.UUID], owner_id: uuid.UUID, event_id: uuid.UUID
) -> int:
    """Link the owner's unlinked uploads to the case; returns how many were linked."""
    if not ids:
        return 0
    result = await uow.connection.execute(
        update(attachments)
        .where(
            attachments.c.id.in_(ids),
            attachments.c.owner_id == owner_id,
            attachments.c.event_id.is_(None),
        )
        .values(event_id=event_id)
        .returning(attachments.c.id)
    )
    return len(result.all())


async def record_reveal(uow: UnitOfWork, **values: Any) -> None:
    await uow.connection.execute(insert(reporter_reveals).values(**values))


async def reveals(uow: UnitOfWork, event_id: uuid.UUID) -> list[Any]:
    query = select(reporter_reveals).where(reporter_reveals.c.event_id == event_id)
    return list((await uow.connection.execute(query)).mappings())
