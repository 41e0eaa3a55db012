"""Fault injection for the fault tests (tests/test_faults.py); inert unless :data:`FAULTS_ENV` is set.

The variable names a JSON file {"dir": marker folder, "oom": [{"trial": k, "attempts": n}, ...],
"kill": [{"trial": k, "after_epoch": e}]}. "trial" is the order in which trials first start
(1, 2, ...); "oom" raises torch.OutOfMemoryError as each of the first n attempts of trial k starts;
"kill" SIGKILLs the process training trial k's first attempt once epoch e is checkpointed (as the
next epoch ends). Attempts are counted in marker files, so they survive the killed process.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

FAULTS_ENV = "TUNE_ASR_FAULTS"


def faults_for(trial_name: str, wait_until_saved: Callable[[int], None] | None = None) -> "Faults | None":
    """The faults of this trial, or None when no fault file is set (every real run)."""
    fault_file = os.environ.get(FAULTS_ENV)
    if not fault_file or not Path(fault_file).is_file():
        return None
    return Faults(json.loads(Path(fault_file).read_text(encoding="utf-8")), trial_name, wait_until_saved)


class Faults:
    """The faults of :data:`FAULTS_ENV` for one attempt of one trial."""

    def __init__(self, spec: dict[str, Any], trial_name: str, wait_until_saved: Callable[[int], None] | None):
        self.spec, self.wait_until_saved = spec, wait_until_saved
        folder = Path(self.spec["dir"])
        folder.mkdir(parents=True, exist_ok=True)
        self.order = _claim_order(folder, trial_name)
        attempts = folder / f"{trial_name}.attempts"
        with open(attempts, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        self.attempt = len(attempts.read_text(encoding="utf-8").split())

    def at_start(self) -> None:
        for oom in self.spec.get("oom", []):
            if oom["trial"] == self.order and self.attempt <= oom["attempts"]:
                raise torch.OutOfMemoryError(f"injected out-of-memory error (attempt {self.attempt})")

    def at_epoch_end(self, epoch: int) -> None:
        for kill in self.spec.get("kill", []):
            if kill["trial"] == self.order and self.attempt == 1 and epoch == kill["after_epoch"] + 1:
                if self.wait_until_saved:
                    self.wait_until_saved(kill["after_epoch"])
                os.kill(os.getpid(), signal.SIGKILL)


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
