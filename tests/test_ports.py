"""Ports for a local Ray: below the kernel's ephemeral range, distinct, and free."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from tune_asr.ports import FALLBACK_HIGHEST, LOWEST, free_ports, highest_unassigned_port


class BusyFirst(random.Random):
    """Offers ``busy`` before anything else, as an unlucky draw would."""

    def __init__(self, busy: int) -> None:
        super().__init__(0)
        self.busy = busy

    def sample(self, population, k):  # type: ignore[override]
        return [self.busy, *super().sample(population, k)]


def test_ports_are_distinct_free_and_below_the_ephemeral_range(tmp_path: Path) -> None:
    ranges = tmp_path / "range"
    ranges.write_text("32768\t60999\n", encoding="ascii")
    ports = free_ports(130, ranges=ranges)
    assert len(set(ports)) == 130
    assert all(LOWEST <= p <= 32767 for p in ports)
    for port in ports[:5]:
        with socket.socket() as probe:
            probe.bind(("", port))  # still free once handed out


def test_a_port_in_use_is_never_handed_out(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        assert busy not in free_ports(3, rng=BusyFirst(busy))


def test_the_range_follows_the_kernel_and_falls_back_to_its_default(tmp_path: Path) -> None:
    ranges = tmp_path / "range"
    ranges.write_text("40000 60999", encoding="ascii")
    assert highest_unassigned_port(ranges) == 39999
    ranges.write_text("1024 65535", encoding="ascii")  # no room below it: the default split
    assert highest_unassigned_port(ranges) == FALLBACK_HIGHEST
    assert highest_unassigned_port(tmp_path / "missing") == FALLBACK_HIGHEST
