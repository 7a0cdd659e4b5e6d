"""Pure rules of supply booking: round windows, eligibility, the holder a limit counts, how a
quota is spread over stripes, and pickup codes. No I/O here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from services.booking import messages
from shared.problems import BadRequest, Conflict, Forbidden, Gone, RuleViolation
from shared.regions import covers, is_region_code


class LimitPer(StrEnum):
    PERSON = "person"
    HOUSEHOLD = "household"


class BookingStatus(StrEnum):
    CONFIRMED = "confirmed"
    REDEEMED = "redeemed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


LIVE_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.REDEEMED)


class RoundPhase(StrEnum):
    UPCOMING = "upcoming"  # booking window not open yet
    OPEN = "open"  # residents may book
    PICKUP = "pickup"  # booking closed, pickup window still running
    ENDED = "ended"


class TooEarly(Conflict):
    """425 Too Early: the round's booking window has not opened yet."""

    status = 425


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds()))


@dataclass(frozen=True)
class RoundWindows:
    booking_opens_at: datetime
    booking_closes_at: datetime
    pickup_starts_at: datetime
    pickup_ends_at: datetime

    def validate(self) -> None:
        moments = (
            self.booking_opens_at,
            self.booking_closes_at,
            self.pickup_starts_at,
            self.pickup_ends_at,
        )
        if any(not EARLIEST <= moment < LATEST for moment in moments):
            # Also keeps out moments with no UTC instant (year 1 east of Greenwich), which
            # the database driver cannot even send.
            raise RuleViolation(
                messages.window_range(EARLIEST.year, LATEST.year), code="window_invalid"
            )
        if self.booking_opens_at >= self.booking_closes_at:
            raise RuleViolation(messages.WINDOW_BOOKING, code="window_invalid")
        if self.pickup_starts_at >= self.pickup_ends_at:
            raise RuleViolation(messages.WINDOW_PICKUP, code="window_invalid")
        if self.booking_closes_at > self.pickup_ends_at:
            raise RuleViolation(messages.WINDOW_ORDER, code="window_invalid")

    def phase(self, now: datetime) -> RoundPhase:
        if now < self.booking_opens_at:
            return RoundPhase.UPCOMING
        if now < self.booking_closes_at:
            return RoundPhase.OPEN
        if now < self.pickup_ends_at:
            return RoundPhase.PICKUP
        return RoundPhase.ENDED

    def require_open_for_booking(self, now: datetime) -> None:
        phase = self.phase(now)
        if phase is RoundPhase.UPCOMING:
            raise TooEarly(
                "booking for this round has not opened yet",
                code="round_not_open",
                extra={"opens_at": self.booking_opens_at.isoformat()},
                headers={"Retry-After": str(_seconds_until(self.booking_opens_at, now))},
            )
        if phase is not RoundPhase.OPEN:
            raise Conflict(
                "booking for this round has closed",
                code="round_not_open",
                extra={"closed_at": self.booking_closes_at.isoformat()},
            )

    def require_pickup_open(self, now: datetime) -> None:
        if now < self.pickup_starts_at:
            raise Conflict(
                "the pickup window has not started",
                code="pickup_not_open",
                extra={"pickup_starts_at": self.pickup_starts_at.isoformat()},
            )
        if now >= self.pickup_ends_at:
            raise Gone("the pickup window has ended", code="pickup_window_ended")


@dataclass(frozen=True)
class Resident:
    """What booking knows of a verified resident, learnt from identity.user_verified."""

    user_id: uuid.UUID
    region_code: str | None
    household_id: str | None


def is_eligible(resident: Resident | None, eligibility_regions: list[str]) -> bool:
    """Verified residents of any listed region (or anywhere when none is listed)."""
    if resident is None:
        return False
    if not eligibility_regions:
        return True
    code = resident.region_code
    return code is not None and any(covers(region, code) for region in eligibility_regions)


def require_eligible(resident: Resident | None, eligibility_regions: list[str]) -> None:
    if resident is None:
        raise Forbidden(
            "only residents with verified real names may book",
            code="not_eligible",
            extra={"reason": "not_verified"},
        )
    if not is_eligible(resident, eligibility_regions):
        raise Forbidden(
            "this round is for residents of other regions",
            code="not_eligible",
            extra={"reason": "region"},
        )


def holder_key(limit_per: LimitPer, user_id: uuid.UUID, household_id: str | None) -> str:
    """Who the one-per limit counts. A resident with no known household counts as a
    household of one, so the limit still holds for them."""
    if limit_per is LimitPer.HOUSEHOLD and household_id:
        return f"h:{household_id}"
    return f"u:{user_id}"


def validate_regions(codes: list[str]) -> None:
    bad = [c for c in codes if not is_region_code(c)]
    if bad:
        raise BadRequest(f"not region codes: {', '.join(bad[:5])}", code="region_invalid")


# -- quota stripes -------------------------------------------------------------------------


def spread(total: int, stripes: int) -> list[int]:
    """Capacities of ``stripes`` rows that add up to ``total``, as even as possible."""
    base, extra = divmod(total, stripes)
    return [base + (1 if i < extra else 0) for i in range(stripes)]


def respread(new_quota: int, taken: list[int]) -> list[int]:
    """New stripe capacities for ``new_quota``: each stripe keeps what it has handed out, the
    free units are spread evenly. Refused below what is booked."""
    booked = sum(taken)
    if new_quota < booked:
        raise Conflict(
            f"the quota cannot go below the {booked} units already booked",
            code="quota_below_booked",
            extra={"booked": booked},
        )
    return [t + free for t, free in zip(taken, spread(new_quota - booked, len(taken)), strict=True)]


# -- pickup codes ----------------------------------------------------------------------------

_TAG_BYTES = 10  # 80 bits: guessing a valid code for a known booking id is hopeless


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


def _unb32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


class PickupCodes:
    """A pickup code is the booking id and an HMAC tag over it: the service can tell a code it
    issued from a forged one without a lookup, and nobody can derive one from a booking id."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(secret.encode()).digest()

    def _tag(self, booking_id: uuid.UUID) -> bytes:
        return hmac.new(self._key, b"pickup:" + booking_id.bytes, hashlib.sha256).digest()[
            :_TAG_BYTES
        ]

    def issue(self, booking_id: uuid.UUID) -> str:
        return _b32(booking_id.bytes) + _b32(self._tag(booking_id))

    def verify(self, code: str) -> uuid.UUID:
        """The booking id a genuine code names; ``pickup_code_invalid`` otherwise."""
        cleaned = code.strip().upper().replace("-", "").replace(" ", "")
        if len(cleaned) != 42:
            raise BadRequest("this is not a pickup code", code="pickup_code_invalid")
        try:
            raw_id = _unb32(cleaned[:26])
            tag = _unb32(cleaned[26:])
        except ValueError:  # binascii.Error is a ValueError
            raise BadRequest("this is not a pickup code", code="pickup_code_invalid") from None
        booking_id = uuid.UUID(bytes=raw_id[:16])
        if len(raw_id) != 16 or not hmac.compare_digest(tag, self._tag(booking_id)):
            raise BadRequest("this is not a pickup code", code="pickup_code_invalid")
        return booking_id
