"""Tables and queries of the booking service. Never commits: service.py owns transactions."""
