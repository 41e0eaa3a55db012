"""Where a trial's start-up goes (issue 5.4): Ray Train's process chain for a training function that does nothing.

Each run is a ``TorchTrainer`` of one worker whose function only reports the time it was entered.
From Ray's State API, every process the run launched and when: the controller, the worker, and
Train's helper actors. Runs go one at a time, then ``--concurrent`` at once (as packed trials
start), so the cost of the chain and what contention adds show side by side.

Usage: python benchmarks/train_startup.py [--runs 3] [--concurrent 4] [--gpu]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ray
from ray.train import RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer
from ray.util.state import list_actors, list_workers

from tune_asr.search import init_ray


STORAGE = Path("/tmp/train_startup")


def record_entry(config: dict) -> None:
    """The whole training function: note when it was entered (Result.metrics is empty without a checkpoint)."""
    Path(config["mark"]).write_text(str(time.time()), encoding="utf-8")


def one_run(tag: str, gpu: float) -> dict:
    started = time.time()
    name = f"startup_{tag}_{int(started * 1000)}"
    mark = STORAGE / f"{name}.entered"
    resources = {"CPU": 1.0, **({"GPU": gpu} if gpu else {})}
    TorchTrainer(
        record_entry, train_loop_config={"mark": str(mark)},
        scaling_config=ScalingConfig(num_workers=1, use_gpu=bool(gpu), resources_per_worker=resources),
        run_config=RunConfig(name=name, storage_path=str(STORAGE)),
    ).fit()
    return {"started": started, "finished": time.time(), "entered": float(mark.read_text(encoding="utf-8")) - started}


def timeline(runs: list[dict]) -> dict[str, list[float]]:
    """Seconds from each run's start to the launch of each process it started (by actor class)."""
    names = {actor.pid: actor.class_name for actor in list_actors(limit=10_000)}
    launched = defaultdict(list)
    for worker in list_workers(detail=True, limit=10_000):
        when = (worker.worker_launch_time_ms or 0) / 1000
        owner = max((r for r in runs if r["started"] <= when <= r["finished"]), key=lambda r: r["started"], default=None)
        if owner and worker.pid in names:
            launched[names[worker.pid]].append(when - owner["started"])
    return launched


def summary(label: str, runs: list[dict]) -> None:
    print(f"\n{label}: {len(runs)} runs")
    print("| step | median s after fit() | range |\n|---|---|---|")
    for name, seconds in sorted(timeline(runs).items(), key=lambda item: statistics.median(item[1])):
        print(f"| {name} process launched | {statistics.median(seconds):.1f} | {min(seconds):.1f}–{max(seconds):.1f} |")
    entered = [r["entered"] for r in runs]
    whole = [r["finished"] - r["started"] for r in runs]
    print(f"| training function entered | {statistics.median(entered):.1f} | {min(entered):.1f}–{max(entered):.1f} |")
    print(f"| fit() returned | {statistics.median(whole):.1f} | {min(whole):.1f}–{max(whole):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs one after the other")
    parser.add_argument("--concurrent", type=int, default=4, help="runs started at once afterwards (0: none)")
    parser.add_argument("--gpu", action="store_true", help="each worker takes 1/concurrent of a GPU")
    args = parser.parse_args()
    STORAGE.mkdir(parents=True, exist_ok=True)
    init_ray()  # as the search starts Ray
    gpu = 1 / max(1, args.concurrent) if args.gpu else 0.0
    one_run("warm-up", gpu)  # the first run also starts Train's cluster-wide actors
    summary("One at a time", [one_run(f"seq{i}", gpu) for i in range(args.runs)])
    if args.concurrent:
        with ThreadPoolExecutor(args.concurrent) as pool:
            summary(f"{args.concurrent} at once", list(pool.map(lambda i: one_run(f"par{i}", gpu), range(args.concurrent))))
    ray.shutdown()


if __name__ == "__main__":
    main()
