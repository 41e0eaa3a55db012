"""Search efficiency (issue 5.5): Optuna TPE + ASHA against random search without early stopping.

Same data, same space, same GPU-time budget, several seeds each. Every search owns one whole GPU
for its whole run (its trials share it as quarter-GPU trials), so its GPU-time is the wall time
since its command started, Ray's start included. Searches run in parallel, one per GPU listed.

  run     launch the searches, then write every reported validation CER with its GPU-time (JSON);
  report  read one or more of those JSON files: best-so-far CER against GPU-time (table and PNG),
          and the GPU-time each search needs to reach random search's final best.

Usage:
  python benchmarks/search_efficiency/run.py run --data DIR --space YAML --budget-s 240 --gpus 0 1 2 3 \
      --searches tpe:0 tpe:1 random:0 random:1 --json curves_a.json
  python benchmarks/search_efficiency/run.py report curves_a.json curves_b.json --plot efficiency.png
  (the real pair of issue 21, on this CPU: run --data DEMO --space search_spaces/default.yaml --gpus-per-trial 0
   --budget-s 900 --gpus cpu cpu --searches tpe:1 random:1 --json pair.json)
  python benchmarks/search_efficiency/run.py --smoke
--smoke (seconds, CPU): the search command that ``run`` launches must parse as the search CLI's own
flags, and ``report`` (with its plot) must read this benchmark's stored results.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tune_asr.results import load_experiment

# "tpe": the search's own defaults (TPE + ASHA as the replay chose them, tune_asr.strategy); the stored
# results of 2026-11-26/29 ran it with the flags of that time.
METHODS = {"tpe": [], "random": ["--searcher", "random", "--scheduler", "fifo"]}
LABELS = {"tpe": "TPE + ASHA (defaults)", "random": "random, no early stopping"}
STORED_RESULTS = Path(__file__).resolve().parent / "results"


def search_arguments(search: str, args: argparse.Namespace) -> list[str]:
    """The ``tune_asr.search`` flags of one search, ``METHOD:SEED``."""
    method, seed = search.split(":")
    return ["--data", str(args.data), "--space", str(args.space), "--trials", "1000",
            "--gpus-per-trial", str(args.gpus_per_trial), "--time-budget-s", str(args.budget_s),
            "--seed", seed, "--name", f"eff_{method}_{seed}", "--storage", str(args.storage), *METHODS[method]]


def launch(search: str, gpu: str, args: argparse.Namespace) -> tuple[subprocess.Popen, float]:
    method, seed = search.split(":")
    command = [sys.executable, "-m", "tune_asr.search", *search_arguments(search, args)]
    log = open(args.storage / f"eff_{method}_{seed}.log", "w", encoding="utf-8")
    visible = "" if gpu == "cpu" else gpu  # "cpu": a CPU search (--gpus-per-trial 0)
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "CUDA_VISIBLE_DEVICES": visible}), time.time()


def curve(experiment: Path, launched: float) -> list[tuple[float, float, str]]:
    """(GPU-seconds since launch, validation CER, trial id) of every report, in time order."""
    points = []
    for trial in load_experiment(experiment).trials:
        for row in trial.history.to_dict("records"):
            if math.isfinite(row.get("val_cer", math.nan)):
                points.append((row["timestamp"] - launched, row["val_cer"], trial.trial_id))
    return sorted(points)


def run(args: argparse.Namespace) -> None:
    args.storage.mkdir(parents=True, exist_ok=True)
    queue, running, done = list(args.searches), {}, {}
    free = list(args.gpus)
    while queue or running:
        while queue and free:
            search = queue.pop(0)
            gpu = free.pop(0)
            running[search] = (*launch(search, gpu, args), gpu)
            print(f"started {search} on GPU {gpu}", flush=True)
        time.sleep(2)
        for search, (process, launched, gpu) in list(running.items()):
            if process.poll() is not None:
                method, seed = search.split(":")
                points = curve(args.storage / f"eff_{method}_{seed}", launched)
                done[search] = {"method": method, "seed": int(seed), "rc": process.returncode,
                                "seconds": time.time() - launched, "trials": len({p[2] for p in points}), "points": points}
                print(f"finished {search}: rc {process.returncode}, {done[search]['seconds']:.0f} s, "
                      f"{done[search]['trials']} trials reported", flush=True)
                free.append(gpu)
                del running[search]
    args.json.write_text(json.dumps({"budget_s": args.budget_s, "searches": done}, indent=1), encoding="utf-8")


def best_so_far(points: list, at: float) -> float:
    return min((cer for t, cer, _ in points if t <= at), default=math.nan)


def time_to_reach(points: list, target: float) -> float:
    return next((t for t, cer, _ in sorted(points) if cer <= target + 1e-12), math.inf)


def report(args: argparse.Namespace) -> None:
    searches = {}
    budget = 0.0
    for path in args.curves:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        budget = max(budget, data["budget_s"])
        searches.update(data["searches"])
    by_method = {m: sorted((s for s in searches.values() if s["method"] == m), key=lambda s: s["seed"]) for m in METHODS}
    target = statistics.median(best_so_far(s["points"], math.inf) for s in by_method["random"])
    print(f"Target: random search's median final best validation CER = {target:.4f}\n")
    print("| search | seed | trials | epochs per trial | best CER at 1/3 budget | at 2/3 | final best | GPU-s to reach target |")
    print("|---|---|---|---|---|---|---|---|")
    reach = {m: [] for m in METHODS}
    for method, rows in by_method.items():
        for s in rows:
            points = s["points"]
            reach[method].append(time_to_reach(points, target))
            marks = [best_so_far(points, budget * f) for f in (1 / 3, 2 / 3, math.inf)]
            reached = reach[method][-1]
            print(f"| {LABELS[method]} | {s['seed']} | {s['trials']} | {len(points) / s['trials']:.1f} | {marks[0]:.4f} | "
                  f"{marks[1]:.4f} | {marks[2]:.4f} | {'never' if math.isinf(reached) else f'{reached:.0f}'} |")
    medians = {m: statistics.median(times) for m, times in reach.items()}
    print(f"\nMedian GPU-seconds to reach {target:.4f}: " + ", ".join(f"{LABELS[m]} {t:.0f}" for m, t in medians.items()))
    print(f"Ratio TPE + ASHA / random: {medians['tpe'] / medians['random']:.2f} (goal: 1/3 or less)")
    if args.plot:
        plot(by_method, budget, target, args.plot)


def plot(by_method: dict, budget: float, target: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    grid = [budget * i / 200 for i in range(201)]
    for method, color in zip(METHODS, ("tab:blue", "tab:orange")):
        for i, s in enumerate(by_method[method]):
            axes.step([t / 60 for t in grid], [best_so_far(s["points"], t) for t in grid], where="post", color=color,
                      alpha=0.8, label=f"{LABELS[method]} (seeds {', '.join(str(r['seed']) for r in by_method[method])})" if i == 0 else None)
    axes.axhline(target, color="gray", linestyle=":", label=f"random search's median final best ({target:.3f})")
    axes.set(xlabel="GPU-minutes (one GPU per search, Ray start included)", ylabel="best validation CER so far",
             title="Search efficiency on the demo corpus")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    print(f"Wrote {path}")


def smoke() -> None:
    """What can rot without a GPU: the flags ``run`` passes to the search CLI, and ``report``."""
    from tune_asr.search import parse_args as search_flags

    for method in METHODS:
        given = argparse.Namespace(data=Path("DATA"), space=Path("SPACE.yaml"), gpus_per_trial=0.25, budget_s=300.0,
                                   storage=Path("STORAGE"))
        parsed = search_flags(search_arguments(f"{method}:0", given))
        flags = dict(zip(METHODS[method][::2], METHODS[method][1::2]))
        read = {flag: getattr(parsed, flag[2:].replace("-", "_")) for flag in flags}
        if any(value != type(value)(flags[flag]) for flag, value in read.items()):
            raise SystemExit(f"smoke: the search CLI read {read} for {method}, expected {flags}")
    with tempfile.TemporaryDirectory() as scratch:
        report(argparse.Namespace(curves=sorted(STORED_RESULTS.glob("4xh100_*.json")), plot=Path(scratch) / "efficiency.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="check the search flags and the report on the stored results")
    commands = parser.add_subparsers(dest="command")
    launch_parser = commands.add_parser("run")
    launch_parser.add_argument("--data", type=Path, required=True)
    launch_parser.add_argument("--space", type=Path, required=True)
    launch_parser.add_argument("--budget-s", type=float, required=True, help="tuning seconds per search (one GPU each)")
    launch_parser.add_argument("--gpus", nargs="+", required=True, help="GPU indices (a GPU named twice: two searches share it; cpu: CPU searches); one search runs on each at a time")
    launch_parser.add_argument("--gpus-per-trial", type=float, default=0.25)
    launch_parser.add_argument("--searches", nargs="+", required=True, help="METHOD:SEED, METHOD one of " + ", ".join(METHODS))
    launch_parser.add_argument("--storage", type=Path, default=Path("/tmp/efficiency"))
    launch_parser.add_argument("--json", type=Path, required=True)
    report_parser = commands.add_parser("report")
    report_parser.add_argument("curves", nargs="+", type=Path)
    report_parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    if args.smoke:
        smoke()
    elif args.command is None:
        parser.error("choose run or report (or --smoke)")
    elif args.command == "run":
        bad = [s for s in args.searches if s.split(":")[0] not in METHODS or not s.partition(":")[2].isdigit()]
        if bad:
            parser.error(f"bad --searches {bad}: expected METHOD:SEED with METHOD in {list(METHODS)}")
        args.storage = args.storage.resolve()
        run(args)
    else:
        report(args)


if __name__ == "__main__":
    main()
