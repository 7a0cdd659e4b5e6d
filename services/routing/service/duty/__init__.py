"""Grid duty (网格员值守), routing's: grid areas and rosters, check-ins with the device's
place and time, patrols (tracks uploaded in idempotent batches, coverage), daily logs. The
tables are routing's because routing owns the organisation and who is on duty where."""

from .areas import get_area, leave_rosters, put_area, put_roster, rosters, today
from .check_ins import check_in, list_check_ins
from .logs import list_logs, write_log
from .patrols import (
    add_points,
    coverage,
    finish_patrol,
    list_patrols,
    patrol_track,
    start_patrol,
)

__all__ = [
    "add_points",
    "check_in",
    "coverage",
    "finish_patrol",
    "get_area",
    "leave_rosters",
    "list_check_ins",
    "list_logs",
    "list_patrols",
    "patrol_track",
    "put_area",
    "put_roster",
    "rosters",
    "start_patrol",
    "today",
    "write_log",
]
