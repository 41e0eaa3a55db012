"""Fault injection for the fault tests (tests/test_faults.py); inert unless :data:`FAULTS_ENV` is set.

The variable names a JSON file {"dir": marker folder, "oom": [{"trial": k, "attempts": n}, ...],
"kill": [{"trial": k, "after_epoch": e}], "hold": [{"trial": k, "after_epoch": e}], "barrier": n}.
"trial" is the order in which trials first start (1, 2, ...); "oom" raises torch.OutOfMemoryError as
each of the first n attempts of trial k starts; "kill" SIGKILLs the process training trial k's first
attempt once epoch e is checkpointed (as the next epoch ends); "hold" stops trial k at that point
instead (every attempt: a test resumes without the variable), after writing ``<dir>/<trial>.holding``,
until something kills it; "barrier" holds every trial at the end of its first epoch until n trials
have got there, so that n trials provably run at once, each in its own process (Tune may hand a
trial whose process is still starting to a process that a finished trial freed, but never one that
has trained an epoch). Attempts are counted in marker files, so they survive the killed process.
Tests wait on markers, never on time: the waits here are bounded only so that a broken test fails
instead of hanging.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

FAULTS_ENV = "TUNE_ASR_FAULTS"
WAIT_LIMIT_S = 600.0  # far above any wait a working test needs (seconds): a bound, never a synchronisation


def faults_for(trial_name: str, wait_until_saved: Callable[[int], None] | None = None) -> "Faults | None":
    """The faults of this trial, or None when no fault file is set (every real run)."""
    fault_file = os.environ.get(FAULTS_ENV)
    if not fault_file or not Path(fault_file).is_file():
        return None
    return Faults(json.loads(Path(fault_file).read_text(encoding="utf-8")), trial_name, wait_until_saved)


class Faults:
    """The faults of :data:`FAULTS_ENV` for one attempt of one trial."""

    def __init__(self, spec: dict[str, Any], trial_name: str, wait_until_saved: Callable[[int], None] | None):
        self.spec, self.wait_until_saved, self.trial_name = spec, wait_until_saved, trial_name
        self.folder = Path(self.spec["dir"])
        self.folder.mkdir(parents=True, exist_ok=True)
        self.order = _claim_order(self.folder, trial_name)
        attempts = self.folder / f"{trial_name}.attempts"
        with open(attempts, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        self.attempt = len(attempts.read_text(encoding="utf-8").split())

    def at_start(self) -> None:
        for oom in self.spec.get("oom", []):
            if oom["trial"] == self.order and self.attempt <= oom["attempts"]:
                raise torch.OutOfMemoryError(f"injected out-of-memory error (attempt {self.attempt})")

    def at_epoch_end(self, epoch: int) -> None:
        count = self.spec.get("barrier")
        if count and epoch == 1:
            (self.folder / f"{self.trial_name}.trained").touch()
            _wait_until(lambda: len(list(self.folder.glob("*.trained"))) >= count, f"{count} trials at the barrier")
        for action in ("kill", "hold"):
            for fault in self.spec.get(action, []):
                if fault["trial"] == self.order and epoch == fault["after_epoch"] + 1 and (action == "hold" or self.attempt == 1):
                    if self.wait_until_saved:
                        self.wait_until_saved(fault["after_epoch"])
                    if action == "kill":
                        os.kill(os.getpid(), signal.SIGKILL)
                    (self.folder / f"{self.trial_name}.holding").write_text(str(os.getpid()), encoding="utf-8")
                    _wait_until(lambda: False, f"the end of trial {self.order}'s hold (a kill)")


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition``; raise if it does not hold within :data:`WAIT_LIMIT_S`."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"fault injection: no {what} within {WAIT_LIMIT_S:.0f} s")
        time.sleep(0.2)


def _claim_order(folder: Path, trial_name: str) -> int:
    """The 1-based order in which this trial first started (claimed once with O_EXCL, then looked up)."""
    mine = folder / f"{trial_name}.order"
    if mine.exists():
        return int(mine.read_text(encoding="utf-8"))
    order = 1
    while True:
        try:
            os.close(os.open(folder / f"slot_{order}", os.O_CREAT | os.O_EXCL))
            break
        except FileExistsError:
            order += 1
    mine.write_text(str(order), encoding="utf-8")
    return order
