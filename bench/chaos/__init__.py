"""``make chaos``: faults injected into the distributed platform under load (see __main__)."""
