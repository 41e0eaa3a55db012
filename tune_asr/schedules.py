"""Learning-rate schedules counted in optimizer steps (the seed counted samples by mistake)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from tune_asr.config import TrainConfig

TRI_STAGE_INITIAL_SCALE = 0.01  # kospeech: 1e-6 → peak 1e-4
TRI_STAGE_FINAL_SCALE = 0.05  # kospeech: decays to 5e-6
ONE_CYCLE_START_SCALE = 1 / 25  # torch's OneCycleLR div_factor
ONE_CYCLE_END_SCALE = 1e-4


def lr_scale(config: TrainConfig, total_steps: int) -> Callable[[int], float]:
    """Multiplier of the peak LR at optimizer step ``step`` (0-based) of ``total_steps``."""
    total = max(1, total_steps)
    warmup = int(total * config.warmup_fraction)

    def ramp(step: int, start: float) -> float:
        return start + (1 - start) * step / max(1, warmup)

    def cosine(step: int, begin: int, end_scale: float) -> float:
        progress = min(1.0, (step - begin) / max(1, total - begin))
        return end_scale + (1 - end_scale) * 0.5 * (1 + math.cos(math.pi * progress))

    if config.schedule == "constant":
        return lambda step: 1.0
    if config.schedule == "warmup_cosine":
        return lambda step: ramp(step, 0.0) if step < warmup else cosine(step, warmup, 0.0)
    if config.schedule == "one_cycle":
        def one_cycle(step: int) -> float:
            if step < warmup:
                return ONE_CYCLE_START_SCALE + (1 - ONE_CYCLE_START_SCALE) * 0.5 * (1 - math.cos(math.pi * step / max(1, warmup)))
            return cosine(step, warmup, ONE_CYCLE_END_SCALE)
        return one_cycle
    hold_end = warmup + int(total * config.hold_fraction)

    def tri_stage(step: int) -> float:
        if step < warmup:
            return ramp(step, TRI_STAGE_INITIAL_SCALE)
        if step < hold_end:
            return 1.0
        progress = min(1.0, (step - hold_end) / max(1, total - hold_end))
        return TRI_STAGE_FINAL_SCALE**progress
    return tri_stage


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_scale(config, total_steps))
