"""Grid workers over their working life (网格员全周期管理), routing's part: profiles and
training (profiles.py), tasks from above (tasks.py), verification duties from cases
(duties.py), and leaving with a hand-over to a successor (leaving.py). Routing owns them
because it owns the organisation: the grids, who serves them, and who does what by when."""

from .accounts import keep_account
from .duties import concerns_duties, on_case_step
from .leaving import leave
from .profiles import add_training, change, enrol, own_profile, profile, profiles
from .tasks import complete, create_task, list_tasks, task

__all__ = [
    "add_training",
    "change",
    "complete",
    "concerns_duties",
    "create_task",
    "enrol",
    "keep_account",
    "leave",
    "list_tasks",
    "on_case_step",
    "own_profile",
    "profile",
    "profiles",
    "task",
]
