"""Tables and queries of the feedback schema (never commits; the unit of work does)."""
