"""What booking shows people, in Simplified Chinese, from the shared catalog
(``shared.i18n.zh_CN``): labels of booking statuses, round phases and the one-per limit, and
the details of 422 refusals. Codes stay English. Every text is a constant looked up in a
dict built at import: the surge path (``fastlane.py``) does no work for it per request.
Pure: no I/O, importable from the domain."""

from __future__ import annotations

from typing import Final

from shared.i18n import zh_CN

STATUS_LABELS: Final[dict[str, str]] = dict(zh_CN.BOOKING_STATUS_LABELS)
PHASE_LABELS: Final[dict[str, str]] = dict(zh_CN.BOOKING_PHASE_LABELS)
LIMIT_LABELS: Final[dict[str, str]] = dict(zh_CN.BOOKING_LIMIT_LABELS)
CONFIRMED: Final = STATUS_LABELS["confirmed"]
REDEEMED: Final = STATUS_LABELS["redeemed"]


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def phase_label(phase: str) -> str:
    return PHASE_LABELS.get(phase, phase)


def limit_label(limit_per: str) -> str:
    return LIMIT_LABELS.get(limit_per, limit_per)


SLOT_REQUIRED: Final = zh_CN.BOOKING_SLOT_REQUIRED
WINDOW_BOOKING: Final = zh_CN.BOOKING_WINDOW_BOOKING
WINDOW_PICKUP: Final = zh_CN.BOOKING_WINDOW_PICKUP
WINDOW_ORDER: Final = zh_CN.BOOKING_WINDOW_ORDER
SLOT_OUTSIDE: Final = zh_CN.BOOKING_SLOT_OUTSIDE
ROUND_ENDED: Final = zh_CN.BOOKING_ROUND_ENDED
QUOTA_SLOT_REQUIRED: Final = zh_CN.BOOKING_QUOTA_SLOT_REQUIRED


def window_range(earliest: int, latest: int) -> str:
    return zh_CN.BOOKING_WINDOW_RANGE.format(earliest=earliest, latest=latest)
