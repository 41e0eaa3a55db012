"""How a trial ended, in the words the live view, MLflow and the leaderboard all print.

Ray marks a trial that reached its last epoch and one that ASHA stopped alike ``TERMINATED``; the
epochs it reported tell them apart. One rule, here, so that the three never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tune_asr.settings import SearchSettings

FINISHED, ASHA_STOPPED, FAILED, UNFINISHED = "finished", "ASHA-stopped", "failed", "unfinished"
BUDGET_STOPPED = "budget-stopped"  # running when --time-budget-s ran out
ENDED = (FINISHED, ASHA_STOPPED, BUDGET_STOPPED, FAILED)


def trial_status(ray_status: str, epochs: int, settings: SearchSettings) -> str:
    """Ray's status of a trial that reported ``epochs`` epochs, told apart: short of ``max_epochs`` a
    TERMINATED trial was stopped, by ASHA, or by the time budget where no scheduler stops trials or
    none had reported yet. Any status but TERMINATED and ERROR is UNFINISHED (still running, or a
    search stopped with Ctrl-C, to be continued with ``--resume``)."""
    if ray_status == "ERROR":
        return FAILED
    if ray_status != "TERMINATED":
        return UNFINISHED
    if epochs >= settings.max_epochs:
        return FINISHED
    if settings.time_budget_s is not None and (settings.scheduler == "fifo" or epochs == 0):
        return BUDGET_STOPPED
    return ASHA_STOPPED
