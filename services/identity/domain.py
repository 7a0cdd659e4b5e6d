"""Pure rules of identity: resident ID numbers, phones, roles and scopes, refresh-token
families, registry rows and region rates, grid workers' grids and household visits. No I/O
here."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from urllib.parse import urlsplit

from shared.auth.principal import Role
from shared.problems import Forbidden, RuleViolation
from shared.regions import covers, is_region_code, region_level

# -- resident ID numbers (GB 11643) ------------------------------------------------------------

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# ASCII digits only: ``\d`` also takes full-width (３) and other scripts' digits, which
# int() reads, so the same person's number would pass in a second spelling.
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
_REGION_PREFIX = re.compile(r"^[1-9][0-9]{5}$")


def check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


@dataclass(frozen=True)
class IdNumber:
    """A validated 18-character resident ID. ``value`` is normalised (upper-case X)."""

    value: str

    @property
    def region_prefix(self) -> str:
        return self.value[:6]

    @property
    def birth_date(self) -> date:
        v = self.value
        return date(int(v[6:10]), int(v[10:12]), int(v[12:14]))

    @property
    def gender(self) -> str:
        return "male" if int(self.value[16]) % 2 == 1 else "female"

    def age_on(self, today: date) -> int:
        born = self.birth_date
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    def is_minor_on(self, today: date) -> bool:
        return self.age_on(today) < 18


def parse_id_number(raw: str, *, today: date) -> IdNumber:
    """Validate shape, region format, birth date and check digit, in that order, each with
    its own code. Retired region prefixes (350681 龙海市, 350625 长泰县) are accepted: only the
    format is checked, never whether the prefix is still in the current code table."""
    value = raw.strip().upper()
    if not _ID_SHAPE.match(value):
        raise RuleViolation(
            "an ID number is 17 digits followed by a digit or X", code="id_number_malformed"
        )
    if not _REGION_PREFIX.match(value[:6]) or value[2:6] == "0000":
        raise RuleViolation("the ID number's region code is malformed", code="id_number_region")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise RuleViolation(
            "the ID number's birth date does not exist", code="id_number_birth_date"
        ) from None
    if born > today or born.year < 1880:
        raise RuleViolation(
            "the ID number's birth date is not plausible", code="id_number_birth_date"
        )
    if check_digit(value[:17]) != value[17]:
        raise RuleViolation("the ID number's check digit is wrong", code="id_number_checksum")
    return IdNumber(value)


def is_valid_id_number(raw: str, *, today: date) -> bool:
    try:
        parse_id_number(raw, today=today)
    except RuleViolation:
        return False
    return True


# -- phones ------------------------------------------------------------------------------------

_MAINLAND_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def parse_phone(raw: str) -> str:
    value = raw.strip()
    if value.startswith("+86"):
        value = value[3:]
    if not _MAINLAND_MOBILE.match(value):
        raise RuleViolation("not a mainland mobile number", code="phone_invalid")
    return value


# -- names -------------------------------------------------------------------------------------


def parse_real_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise RuleViolation("a name is required", code="name_required")
    if len(name) > 60:
        raise RuleViolation("the name is too long", code="name_too_long")
    return name


# -- roles and scopes --------------------------------------------------------------------------

STAFF_ROLES = frozenset(r.value for r in Role if r not in (Role.RESIDENT, Role.SERVICE))


def check_staff_scope(roles: list[str], regions: list[str]) -> tuple[list[str], list[str]]:
    """Staff roles must be known staff roles; region scopes must be region codes. Every role
    but admin needs at least one region or department to act in."""
    unknown = sorted(set(roles) - STAFF_ROLES)
    if unknown:
        raise RuleViolation(f"unknown staff roles: {', '.join(unknown)}", code="role_unknown")
    if not roles:
        raise RuleViolation("a staff account needs at least one role", code="role_required")
    bad = [r for r in regions if not is_region_code(r)]
    if bad:
        raise RuleViolation("region scopes must be region codes", code="region_invalid")
    return sorted(set(roles)), sorted(set(regions))


# What a department admin may give: the roles of their own unit, never a role over regions or
# the platform (admin, supervisor, dispatcher...).
UNIT_STAFF_ROLES = frozenset({Role.DEPT_STAFF.value, Role.DEPT_ADMIN.value})


def check_unit_staff_roles(roles: list[str]) -> list[str]:
    """Roles a unit's staff account may hold, as given by the unit's admin."""
    check_staff_scope(roles, [])
    beyond = sorted(set(roles) - UNIT_STAFF_ROLES)
    if beyond:
        raise Forbidden(f"a unit's admin cannot give {', '.join(beyond)}",
                        code="role_not_delegable")
    return sorted(set(roles))


def is_unit_staff(roles: list[str], departments: list[uuid.UUID], unit_id: uuid.UUID) -> bool:
    """The account belongs to this unit alone and holds only unit roles: what its admin may
    manage (an account also serving another unit, or with wider roles, is the admins')."""
    return list(departments) == [unit_id] and bool(roles) and set(roles) <= UNIT_STAFF_ROLES


# The bodies a relief reviewer acts for (relief reads the token's ``ext.agency`` claim).
AGENCIES = frozenset({"town", "ping_an_office", "civil_affairs", "agriculture"})


def check_staff_agency(roles: list[str], agency: str | None) -> str | None:
    """Reviewers must name their agency; nobody else carries one (a stale agency on a
    re-scoped account would still open a reviewer's queue elsewhere)."""
    if agency is not None and agency not in AGENCIES:
        raise RuleViolation(
            f"agency is one of {', '.join(sorted(AGENCIES))}", code="agency_unknown"
        )
    if Role.REVIEWER.value in roles and agency is None:
        raise RuleViolation("reviewers need an agency", code="agency_required")
    if Role.REVIEWER.value not in roles and agency is not None:
        raise RuleViolation("only reviewers have an agency", code="agency_without_reviewer")
    return agency


_USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,63}$")


def check_username(raw: str) -> str:
    value = raw.strip().lower()
    if not _USERNAME.match(value):
        raise RuleViolation(
            "usernames are 3-64 characters: letters, digits, '_', '.', '-'",
            code="username_invalid",
        )
    return value


def check_password_strength(password: str) -> None:
    if len(password) < 10:
        raise RuleViolation("passwords have at least 10 characters", code="password_too_weak")


# -- refresh-token families --------------------------------------------------------------------


class RefreshVerdict(StrEnum):
    ROTATE = "rotate"  # current token: issue the next one, retire this one
    REUSED = "reused"  # already rotated: someone replayed it, revoke the family
    REVOKED = "revoked"
    EXPIRED = "expired"


def judge_refresh(*, used: bool, revoked: bool, expired: bool) -> RefreshVerdict:
    if revoked:
        return RefreshVerdict.REVOKED
    if used:
        return RefreshVerdict.REUSED
    if expired:
        return RefreshVerdict.EXPIRED
    return RefreshVerdict.ROTATE


# -- verification ------------------------------------------------------------------------------


class VerificationStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


# -- population registry -----------------------------------------------------------------------

_TAG = re.compile(r"^[\w\u4e00-\u9fff·-]{1,32}$")
_HOUSEHOLD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
GENDERS = {
    "male": "male", "female": "female", "男": "male", "女": "female", "m": "male", "f": "female",
}


@dataclass(frozen=True)
class RegistryEntry:
    id_number: IdNumber
    name: str
    gender: str
    birth_date: date
    region_code: str
    household_id: str | None = None
    address: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


def build_registry_entry(
    *,
    id_number: str,
    name: str,
    region_code: str,
    today: date,
    gender: str | None = None,
    birth_date: date | None = None,
    household_id: str | None = None,
    address: str | None = None,
    tags: list[str] | tuple[str, ...] = (),
) -> RegistryEntry:
    """A registry row as grid workers enter it. Gender and birth date follow from the ID
    number; when given they must agree with it."""
    parsed = parse_id_number(id_number, today=today)
    clean_name = parse_real_name(name)
    if not is_region_code(region_code) or len(region_code) < 9:
        raise RuleViolation(
            "the region code must be a town, community or grid code", code="region_invalid"
        )
    if gender:
        normalised = GENDERS.get(gender.strip().lower())
        if normalised is None:
            raise RuleViolation("gender is male or female (男/女)", code="gender_invalid")
        if normalised != parsed.gender:
            raise RuleViolation("gender disagrees with the ID number", code="gender_mismatch")
    if birth_date is not None and birth_date != parsed.birth_date:
        raise RuleViolation("birth date disagrees with the ID number", code="birth_date_mismatch")
    if household_id is not None and household_id.strip():
        household_id = household_id.strip()
        if not _HOUSEHOLD.match(household_id):
            raise RuleViolation("household ids are letters, digits, '_' or '-'",
                                code="household_id_invalid")
    else:
        household_id = None
    clean_tags = tuple(dict.fromkeys(t.strip() for t in tags if t and t.strip()))
    if any(not _TAG.match(t) for t in clean_tags):
        raise RuleViolation("tags are short words such as 低保户", code="tag_invalid")
    if address is not None:
        address = address.strip() or None
        if address and len(address) > 200:
            raise RuleViolation("the address is too long", code="address_too_long")
    return RegistryEntry(
        id_number=parsed,
        name=clean_name,
        gender=parsed.gender,
        birth_date=parsed.birth_date,
        region_code=region_code,
        household_id=household_id,
        address=address,
        tags=clean_tags,
    )


def split_tags(raw: str | None) -> list[str]:
    if not raw:
        return []
    return [t for t in re.split(r"[;,，、；|\s]+", raw) if t]


# -- region statistics -------------------------------------------------------------------------


def rate(numerator: int, denominator: int) -> Decimal | None:
    """A percentage truncated to two decimals, as the 2023 report prints its KPIs
    (211,654 / 228,235 = 92.7353… is reported as 92.73%, not 92.74%)."""
    if denominator <= 0:
        return None
    value = Decimal(numerator) * 100 / Decimal(denominator)
    return value.quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def region_match_prefix(code: str) -> str:
    """The string every code inside ``code`` starts with (350600 → 3506, 350000 → 35)."""
    if len(code) == 6 and code.endswith("0000"):
        return code[:2]
    if len(code) == 6 and code.endswith("00"):
        return code[:4]
    return code


# -- partner apps: webhook callback hosts ------------------------------------------------------

MAX_CALLBACK_HOSTS = 20
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def check_callback_hosts(raw: list[str]) -> list[str]:
    """The DNS names a partner app may receive webhooks on, normalised (lower case, no
    trailing dot), deduplicated and sorted. Each is a bare RFC 1123 host name of at least two
    labels: no scheme, port, path or user, no IP literal and no all-numeric last label (which
    resolvers read as an address: ``127.1``, ``0x7f.1``); internationalised names in their
    ``xn--`` form. The gateway's SSRF guard still checks where each name resolves."""
    hosts: dict[str, None] = {}
    for entry in raw:
        host = entry.strip().lower()
        host = host[:-1] if host.endswith(".") else host
        labels = host.split(".")
        if (len(host) > 253 or len(labels) < 2
                or not all(_HOST_LABEL.match(label) for label in labels)
                or labels[-1].isdigit()):
            raise RuleViolation(
                f"{entry[:80]!r} is not a host name such as hooks.example.com (no scheme, port, "
                "path or IP address)", code="callback_host_invalid")
        hosts[host] = None
    if len(hosts) > MAX_CALLBACK_HOSTS:
        raise RuleViolation(f"at most {MAX_CALLBACK_HOSTS} callback hosts per app",
                            code="callback_hosts_too_many")
    return sorted(hosts)


# -- grid workers and their household visits (入户走访) ----------------------------------------

# The app queues a visit made without signal and sends it later with the device's moment:
# a little clock drift ahead is tolerated, a week-old queue is not history to accept blindly.
VISIT_FUTURE_SLACK = timedelta(minutes=5)
VISIT_MAX_AGE = timedelta(days=7)


def check_grid_codes(codes: Iterable[str]) -> list[str]:
    """Grid workers are scoped to grids: 15-digit region codes."""
    unique = sorted(set(codes))
    if not unique or any(not is_region_code(c) or region_level(c) != "grid" for c in unique):
        raise RuleViolation("grid codes are 15-digit region codes", code="grid_invalid")
    return unique


def grid_worker_regions(roles: Iterable[str], current: Iterable[str],
                        grid_codes: Iterable[str]) -> list[str]:
    """An account's region scopes once routing says its grids are ``grid_codes``: a grid
    worker's own account is scoped to them alone; one that also holds other roles keeps its
    scopes (which of them serve which role is unknown) and gains the grids. Codes that are not
    grids are ignored."""
    grids = {c for c in grid_codes if is_region_code(c) and region_level(c) == "grid"}
    if set(roles) == {Role.GRID_WORKER.value}:
        return sorted(grids)
    return sorted(set(current) | grids)


def check_visit_time(visited_at: datetime, *, now: datetime) -> None:
    if visited_at > now + VISIT_FUTURE_SLACK:
        raise RuleViolation("the visit's time is in the future", code="time_in_future")
    if visited_at < now - VISIT_MAX_AGE:
        raise RuleViolation("visits older than 7 days are not accepted", code="too_old")


def in_utc(moment: datetime | None) -> datetime | None:
    """A list's bound in UTC, or 422: a moment at the edge of the calendar has no UTC instant
    (year 1 east of Greenwich), which the database driver would fail on."""
    try:
        return moment.astimezone(UTC) if moment is not None else None
    except (OverflowError, ValueError):
        raise RuleViolation("a date is out of range", code="date_range_invalid") from None


def distinct_in_order(ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(ids))


def check_people_in_grid(wanted: Iterable[uuid.UUID], regions: Mapping[uuid.UUID, str],
                         grid_code: str) -> None:
    """Every person visited is a registry person of the grid (``regions``: where each one
    found is registered); an unknown id is refused alike, so nothing tells them apart."""
    if any(not covers(grid_code, regions.get(p, "")) for p in wanted):
        raise RuleViolation("every person visited must be in the registry of this grid",
                            code="person_not_in_grid")


def visit_household(given: str | None, households: Iterable[str | None]) -> str | None:
    """The household named, or else the one every person visited shares (if they do)."""
    if given:
        return given
    distinct = set(households)
    return distinct.pop() if len(distinct) == 1 else None


# -- the 公众号's web authorisation -----------------------------------------------------------

WEB_PAGES_PATH = "/h5/"
_STATE = re.compile(r"[A-Za-z0-9_-]{1,128}")  # WeChat returns at most 128 bytes of state


def check_web_redirect(redirect_uri: str, state: str) -> str:
    """Where a web authorisation may send the person back to: an absolute http(s) address
    of the residents' pages (/h5/), no credentials or fragment, so the sign-in can be no one's
    open redirect; ``state`` as WeChat carries it. Answers the address."""
    parts = urlsplit(redirect_uri)
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.username
            or parts.password or parts.fragment or not parts.path.startswith(WEB_PAGES_PATH)
            or len(redirect_uri) > 1024):
        raise RuleViolation("redirect_uri must be an address of the residents' pages (/h5/)",
                            code="redirect_uri_invalid")
    if not _STATE.fullmatch(state):
        raise RuleViolation("state is 1 to 128 letters, digits, - or _", code="state_invalid")
    return redirect_uri
