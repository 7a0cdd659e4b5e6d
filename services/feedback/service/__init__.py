"""Use cases of the feedback service; each runs inside the caller's unit of work."""
