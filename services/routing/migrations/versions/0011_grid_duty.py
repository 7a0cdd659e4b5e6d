"""Grid duty: rosters, check-ins, patrols and their points, daily logs.

(Placeholder while the tables are written; filled in by the duty change.)"""

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    pass
