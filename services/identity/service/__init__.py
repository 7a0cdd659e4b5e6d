"""Use cases of the identity service; each owns its transaction and emits its events."""
