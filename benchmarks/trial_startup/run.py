"""Where a trial's start-up goes (issue 5.4): Ray Train's process chain for a training function that does nothing.

Each run is a ``TorchTrainer`` of one worker whose function only notes the time it was entered:
what is left is Ray Train's own cost (a controller process, then worker processes, each a fresh
Python importing Ray Train and torch, plus Train's helper actors). Runs go one at a time, then
``--concurrent`` at once (as packed trials start), so the chain's cost and what contention adds
show side by side.

Usage: python benchmarks/trial_startup/run.py [--runs 3] [--concurrent 4] [--gpu] [--storage DIR]
--smoke: one run on the CPU, no warm-up, none at once: checks that the script still runs (no figures).
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ray
from ray.train import RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from tune_asr.search import init_ray

def record_entry(config: dict) -> None:
    """The whole training function: note when it was entered (Result.metrics is empty without a checkpoint)."""
    Path(config["mark"]).write_text(str(time.time()), encoding="utf-8")


def one_run(tag: str, gpu: float, storage: Path) -> dict:
    started = time.time()
    name = f"startup_{tag}_{int(started * 1000)}"
    mark = storage / f"{name}.entered"
    resources = {"CPU": 1.0, **({"GPU": gpu} if gpu else {})}
    TorchTrainer(
        record_entry, train_loop_config={"mark": str(mark)},
        scaling_config=ScalingConfig(num_workers=1, use_gpu=bool(gpu), resources_per_worker=resources),
        run_config=RunConfig(name=name, storage_path=str(storage)),
    ).fit()
    return {"started": started, "finished": time.time(), "entered": float(mark.read_text(encoding="utf-8")) - started}


def summary(label: str, runs: list[dict]) -> None:
    print(f"\n{label}: {len(runs)} runs")
    print("| step | median s after fit() | range |\n|---|---|---|")
    for step, seconds in (("training function entered", [r["entered"] for r in runs]),
                          ("fit() returned", [r["finished"] - r["started"] for r in runs])):
        print(f"| {step} | {statistics.median(seconds):.1f} | {min(seconds):.1f}–{max(seconds):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs one after the other")
    parser.add_argument("--concurrent", type=int, default=4, help="runs started at once afterwards (0: none)")
    parser.add_argument("--gpu", action="store_true", help="each worker takes 1/concurrent of a GPU")
    parser.add_argument("--storage", type=Path, default=Path("/tmp/train_startup"))
    parser.add_argument("--smoke", action="store_true", help="one CPU run, no warm-up: checks the script runs")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.concurrent, args.gpu = 1, 0, False
    storage = args.storage.resolve()
    storage.mkdir(parents=True, exist_ok=True)
    init_ray()  # as the search starts Ray
    gpu = 1 / max(1, args.concurrent) if args.gpu else 0.0
    if not args.smoke:
        one_run("warm-up", gpu, storage)  # the first run also starts Train's cluster-wide actors
    summary("One at a time", [one_run(f"seq{i}", gpu, storage) for i in range(args.runs)])
    if args.concurrent:
        with ThreadPoolExecutor(args.concurrent) as pool:
            summary(f"{args.concurrent} at once", list(pool.map(lambda i: one_run(f"par{i}", gpu, storage), range(args.concurrent))))
    ray.shutdown()


if __name__ == "__main__":
    main()
