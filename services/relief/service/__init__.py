"""Use cases of the relief service; each owns its transaction and emits its events."""
