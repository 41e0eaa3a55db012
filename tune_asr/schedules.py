"""Learning-rate schedules counted in optimizer steps (the seed counted samples by mistake).

``SCHEDULES`` is the one table of them; its names are exactly ``config.Schedule``'s (a test checks),
and a name it does not hold is an error rather than a silent fallback to some other schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from tune_asr.config import Schedule, TrainConfig

TRI_STAGE_INITIAL_SCALE = 0.01  # kospeech: 1e-6 → peak 1e-4
TRI_STAGE_FINAL_SCALE = 0.05  # kospeech: decays to 5e-6
ONE_CYCLE_START_SCALE = 1 / 25  # torch's OneCycleLR div_factor
ONE_CYCLE_END_SCALE = 1e-4

ScaleAt = Callable[[int], float]  # optimizer step (0-based) → multiplier of the peak LR


def _ramp(step: int, warmup: int, start: float) -> float:
    return start + (1 - start) * step / max(1, warmup)


def _cosine(step: int, begin: int, total: int, end_scale: float) -> float:
    progress = min(1.0, (step - begin) / max(1, total - begin))
    return end_scale + (1 - end_scale) * 0.5 * (1 + math.cos(math.pi * progress))


def _constant(config: TrainConfig, total: int, warmup: int) -> ScaleAt:
    return lambda step: 1.0


def _warmup_cosine(config: TrainConfig, total: int, warmup: int) -> ScaleAt:
    return lambda step: _ramp(step, warmup, 0.0) if step < warmup else _cosine(step, warmup, total, 0.0)


def _one_cycle(config: TrainConfig, total: int, warmup: int) -> ScaleAt:
    def scale(step: int) -> float:
        if step < warmup:
            return ONE_CYCLE_START_SCALE + (1 - ONE_CYCLE_START_SCALE) * 0.5 * (1 - math.cos(math.pi * step / max(1, warmup)))
        return _cosine(step, warmup, total, ONE_CYCLE_END_SCALE)
    return scale


def _tri_stage(config: TrainConfig, total: int, warmup: int) -> ScaleAt:
    hold_end = warmup + int(total * config.hold_fraction)

    def scale(step: int) -> float:
        if step < warmup:
            return _ramp(step, warmup, TRI_STAGE_INITIAL_SCALE)
        if step < hold_end:
            return 1.0
        progress = min(1.0, (step - hold_end) / max(1, total - hold_end))
        return TRI_STAGE_FINAL_SCALE**progress
    return scale


SCHEDULES: dict[Schedule, Callable[[TrainConfig, int, int], ScaleAt]] = {
    "constant": _constant,
    "warmup_cosine": _warmup_cosine,
    "tri_stage": _tri_stage,
    "one_cycle": _one_cycle,
}


def lr_scale(config: TrainConfig, total_steps: int) -> ScaleAt:
    """Multiplier of the peak LR at optimizer step ``step`` (0-based) of ``total_steps``."""
    build = SCHEDULES.get(config.schedule)
    if build is None:
        raise ValueError(f"unknown schedule {config.schedule!r}; known: {', '.join(SCHEDULES)}")
    total = max(1, total_steps)
    return build(config, total, int(total * config.warmup_fraction))


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_scale(config, total_steps))
