"""Host-to-device copies that never stall the GPU queue."""

from __future__ import annotations

import torch


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy to ``device`` asynchronously.

    A copy from pageable host memory makes CUDA wait for every queued kernel first (a hidden
    host sync per step); pinning the source first lets the copy queue behind them instead.
    """
    if device.type == "cuda" and tensor.device.type == "cpu" and not tensor.is_pinned():
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)
