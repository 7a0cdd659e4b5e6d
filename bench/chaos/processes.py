"""The processes of a running ``make run-dist`` launcher, found through /proc: which pid
serves which service now (it changes when the launcher restarts one)."""

from __future__ import annotations

from pathlib import Path

# The app factory each process of the launcher serves, by the name the launcher logs.
TARGETS = {
    "gateway": "gateway.distributed:create_gateway_from_env",
    "partner": "gateway.partner.app:create_app",
}


def target_of(name: str) -> str:
    return TARGETS.get(name, f"services.{name}.app:create_app")


def _children(pid: int) -> list[int]:
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []  # gone
    return [int(child) for child in listed.split()]


def _command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def descendants(pid: int) -> dict[int, list[str]]:
    """Every process below ``pid`` (children, their children …) with its command line."""
    found: dict[int, list[str]] = {}
    waiting = _children(pid)
    while waiting:
        child = waiting.pop()
        found[child] = _command_line(child)
        waiting.extend(_children(child))
    return found


def launcher_pid(root: int) -> int | None:
    """The ``gateway.distributed`` launcher at or below ``root`` (e.g. below ``make``)."""
    if "gateway.distributed" in _command_line(root):
        return root
    for pid, command in descendants(root).items():
        if "gateway.distributed" in command:  # its own argument; the gateway's is module:factory
            return pid
    return None


def service_pid(root: int, name: str) -> int | None:
    """The pid serving ``name`` (a service, ``partner`` or ``gateway``) below ``root`` now."""
    target = target_of(name)
    for pid, command in descendants(root).items():
        if target in command:
            return pid
    return None
