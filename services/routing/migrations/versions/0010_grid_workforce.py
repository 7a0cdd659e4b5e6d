"""Grid workers' working life: profiles, training, tasks from above and verification duties.

(Placeholder while the tables are written; filled in by the workforce change.)"""

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    pass
