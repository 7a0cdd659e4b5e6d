"""Tables and queries of the relief schema. Never commits: the unit of work does."""
