"""Made-up Ray Tune experiments for the tests that read experiment folders (export-best, the best-checkpoint rule)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def run_tuner(trainable: Callable[[dict], None], param_space: dict[str, Any], storage: Path, name: str,
              callbacks: Sequence[Any] = ()) -> Path:
    """Run ``trainable``'s grid one trial at a time (in the grid's order) on a 2-CPU Ray (the running
    one, else one started here); returns the experiment folder ``storage/name``."""
    import ray
    from ray import tune

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        results = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(max_concurrent_trials=1),
            run_config=tune.RunConfig(name=name, storage_path=str(storage), callbacks=list(callbacks), verbose=0),
        ).fit()
    finally:
        if started:
            ray.shutdown()
    assert not results.errors, results.errors
    return Path(storage) / name
