"""Free TCP ports for a Ray cluster started here, drawn from where nothing else draws.

A port found by binding port 0 comes from the kernel's ephemeral range. Ray draws its own
unnamed ports there too, and its dashboard agent listens on a fixed one inside it (52365):
such a port can be Ray's own (CI once failed: "dashboard_agent_http is trying to use a port
number 52365 that is used by other components"), or be taken again before Ray binds it.
Ports below the ephemeral range are handed out by no one unless asked for by number.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 20000  # above Ray's own worker ports (10002-19999 by default) and the ports services usually ask for by number
FALLBACK_HIGHEST = 32767  # Linux's default ephemeral range starts at 32768


def highest_unassigned_port(ranges: Path = EPHEMERAL_RANGE) -> int:
    """The port just below the kernel's ephemeral range (its default where unknown or too low)."""
    try:
        start = int(ranges.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return FALLBACK_HIGHEST
    return start - 1 if start - 1 > LOWEST + 1000 else FALLBACK_HIGHEST


def free_ports(count: int, rng: random.Random | None = None, ranges: Path = EPHEMERAL_RANGE) -> list[int]:
    """``count`` distinct ports below the ephemeral range that are free on every address now."""
    rng = rng or random.SystemRandom()
    held: list[socket.socket] = []
    try:
        for port in rng.sample(range(LOWEST, highest_unassigned_port(ranges) + 1), k=min(20 * count + 100, 10000)):
            probe = socket.socket()
            try:
                probe.bind(("", port))
            except OSError:
                probe.close()
                continue
            held.append(probe)
            if len(held) == count:
                return [p.getsockname()[1] for p in held]
        raise OSError(f"fewer than {count} free ports between {LOWEST} and {highest_unassigned_port(ranges)}")
    finally:
        for probe in held:
            probe.close()
