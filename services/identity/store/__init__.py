"""Tables and queries of the identity schema. Never commits: service.py owns transactions."""
