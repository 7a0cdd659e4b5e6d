"""The events service — the case file and its state machine."""
