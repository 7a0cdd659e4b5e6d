"""Use cases of the booking service; each owns its transaction (see shared.db.uow)."""
