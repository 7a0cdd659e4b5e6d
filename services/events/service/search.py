"""The staff case search and its export: filters, scope and order run in the SQL
(``store/search.py``); who may see a case is ``queries.can_see``'s rule, which each row is
held to once more, as the case list does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.events import store
from services.events.schemas import EventPage, EventSearch
from services.events.store.search import CaseFilter, SearchScope, search_cases, sort_key
from shared.auth import Principal, Role
from shared.auth.principal import REGION_SCOPED_ROLES, UNIT_SCOPED_ROLES
from shared.db.uow import UnitOfWork
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.pii import PiiCipher
from shared.problems import Forbidden, RuleViolation
from shared.regions import descendant_prefix, is_region_code

from .queries import can_see, to_read


def staff_scope(principal: Principal) -> SearchScope:
    """The SQL form of ``can_see`` for staff (without the caller's own reports): region roles
    see their regions' subtrees, unit roles the cases their units hold, assist or have left,
    admins all. Others: 403."""
    if not principal.is_staff or not principal.has_role(
            Role.ADMIN, *REGION_SCOPED_ROLES, *UNIT_SCOPED_ROLES):
        raise Forbidden("case search is for staff", code="role_required")
    if principal.has_role(Role.ADMIN):
        return SearchScope(see_all=True)
    regions = (tuple(descendant_prefix(r) for r in principal.regions)
               if principal.has_role(*REGION_SCOPED_ROLES) else ())
    units = tuple(principal.departments) if principal.has_role(*UNIT_SCOPED_ROLES) else ()
    return SearchScope(region_prefixes=regions, unit_ids=units)


def _utc(moment: datetime | None) -> datetime | None:
    """In UTC, or 422: a moment at the edge of the calendar has no UTC instant."""
    try:
        return moment.astimezone(UTC) if moment is not None else None
    except (OverflowError, ValueError):
        raise RuleViolation("a date is out of range", code="date_range_invalid") from None


def case_filter(search: EventSearch, principal: Principal) -> CaseFilter:
    """The query's filters, or 422 for a combination that cannot mean anything.
    ``handled_before`` is about the caller's own units (a caller with none left no case)."""
    if search.region is not None and not is_region_code(search.region):
        raise RuleViolation("not a region code", code="region_invalid")
    keyword = search.q.strip() if search.q is not None else None
    if keyword is not None and len(keyword) < 2:
        raise RuleViolation("a keyword has at least two characters", code="keyword_too_short")
    moments = [_utc(m) for m in (search.reported_from, search.reported_to,
                                  search.closed_from, search.closed_to)]
    for low, high in (moments[0:2], moments[2:4]):
        if low is not None and high is not None and low >= high:
            raise RuleViolation("a date range ends after it starts", code="date_range_invalid")
    return CaseFilter(
        case_no=search.case_no, keyword=keyword, category=search.category,
        region_prefix=descendant_prefix(search.region) if search.region else None,
        unit_id=search.unit, assisting_unit_id=search.assisting_unit,
        statuses=tuple(search.status), overdue=search.overdue,
        supervised=search.supervised, handled_before=search.handled_before,
        own_units=tuple(principal.departments) if principal.has_role(*UNIT_SCOPED_ROLES)
        else (),
        urgencies=tuple(search.urgency),
        ratings=tuple(search.rating), channels=tuple(search.source),
        reported_from=moments[0], reported_to=moments[1],
        closed_from=moments[2], closed_to=moments[3],
    )


async def search_events(uow: UnitOfWork, *, principal: Principal, search: EventSearch,
                        cursor: str | None, limit: int, now: datetime,
                        pii: PiiCipher) -> EventPage:
    scope = staff_scope(principal)
    filters = case_filter(search, principal)
    after = decode_moment_cursor(cursor)
    async with uow:
        rows = await search_cases(uow, scope=scope, search=filters, now=now, sort=search.sort,
                                  after=after, limit=limit + 1)
        rows = [r for r in rows if can_see(principal, r)]
        page, next_cursor = page_of(
            rows, limit, lambda r: moment_cursor(sort_key(search.sort, r), r["id"]))
        keys: dict[str, set[str]] = {}
        items = [to_read(principal, r, await _phone_keys(uow, r["category_code"], keys), pii)
                 for r in page]
    return EventPage(items=items, next_cursor=next_cursor)


async def _phone_keys(uow: UnitOfWork, code: str, seen: dict[str, set[str]]) -> set[str]:
    if code not in seen:
        category: Any = await store.get_category(uow, code)
        seen[code] = ({f["key"] for f in category["template"] if f["type"] == "phone"}
                      if category is not None else set())
    return seen[code]
