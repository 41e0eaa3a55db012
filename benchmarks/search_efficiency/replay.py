"""Replay search strategies over recorded learning curves, on a simulated clock.

The question it answers: how much sooner does a strategy (sampler + scheduler + rung figure) reach a
good configuration than random search without early stopping? On the GPU each answer costs an hour;
here, thousands of simulated GPU-minutes take seconds of CPU.

It runs the decisions the real search makes: the Optuna sampler and Ray's ``OptunaSearch`` exactly
as ``tune_asr.search`` builds them, and Ray's own ``ASHAScheduler`` (with its brackets, HyperBand's
spread of grace periods), both from :class:`tune_asr.strategy.Strategy`, driven through the calls
Tune's controller makes, in the order it makes them. A proposed configuration's curve comes from the
surrogate fitted on the table (``surrogate.py``); its epochs take the seconds the surrogate predicts.

The clock: ``--slots`` trials run at once; the search first pays ``--fixed-s`` (Ray's start, the
corpus check, the first wave's start-up: the measured time from the command to the first training
step, :data:`FIXED_S`), and every trial ``--startup-s`` before its first epoch. A report at time t
counts if t is within the budget.

Time to target: the target is random search's median final best CER (the upper median of its
seeds, so at least half of them reach it); a seed's time to target is when its best CER so far first
reaches it (never: infinite). The ratio compares the strategy's median time (the upper median) with
random's, with a 95% bootstrap interval over seeds. A real pair (``run.py``) is one draw, so each row
also gives the range one pair falls in: seed i of the strategy against seed i of random search, scored
as ``run.py report`` scores a pair (the time to reach that random search's final best, divided by its
own), 2.5% to 97.5% over seeds.

Warm start (``--warm-start [FRACTION]``, issue 23): each seed first replays an earlier search with
FRACTION of the budget (default a half; another seed), then a search whose sampler starts from that search's finished trials, as
``--warm-start`` imports them (:mod:`tune_asr.warm_start`), against the cold default search: the
target is the cold search's median final best, and the ratio is warm / cold median time to it.

Usage:
  python benchmarks/search_efficiency/replay.py --curves CSV [CSV ...] --seeds 50 --slots 8 --budget-min 30
  python benchmarks/search_efficiency/replay.py --curves CSV --levers --json levers.json
  python benchmarks/search_efficiency/replay.py --curves CSV --levers "TPE told at the end" "grace 2"
  python benchmarks/search_efficiency/replay.py --curves CSV --warm-start --json warm.json
  python benchmarks/search_efficiency/replay.py --smoke
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
import heapq
import itertools
import json
import math
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, replace
from multiprocessing import Pool
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curve_table import CurveTable, TableError, inferred_space, read_table  # noqa: E402
from surrogate import Surrogate, held_out_spearman  # noqa: E402

from tune_asr.metrics import METRIC, rung_figures  # noqa: E402
from tune_asr.search_space import SearchSpace  # noqa: E402
from tune_asr.space_values import fit_to_space  # noqa: E402
from tune_asr.strategy import Strategy  # noqa: E402
from tune_asr.warm_start import PriorTrial  # noqa: E402

BOOTSTRAP = 2000
RANDOM = {"searcher": "random", "scheduler": "fifo"}  # the baseline: random search, every trial to the end
# What every search pays before its first trial trains (Ray's start, the corpus check, the first wave's
# start-up): from the command's start to the first training step, 14 s on the CPU demo after the cut
# (BENCHMARKS.md, "Time to first result"; first_result.py measures it).
FIXED_S = 14.0
EARLIER_SEED = 10_000  # a warm start's earlier search: another seed than any replayed search


@dataclass(frozen=True)
class Clock:
    slots: int
    budget_s: float
    fixed_s: float  # before the first trial starts
    startup_s: float  # every trial, before its first epoch


@dataclass(frozen=True)
class SearchRun:
    improvements: list[tuple[float, float]]  # (time, best CER so far) at every improvement within the budget
    finished: list[tuple[dict[str, Any], float]]  # (config, CER told to the sampler) of every trial that ended


def replay(strategy: Strategy, table: CurveTable, surrogate: Surrogate, clock: Clock,
           prior: Sequence[PriorTrial] = ()) -> SearchRun:
    """One search, its sampler starting from ``prior`` (a warm start)."""
    from ray.tune.schedulers import TrialScheduler

    np.random.seed(strategy.seed)  # ASHA draws each trial's bracket from numpy's global generator
    space = table_space(table)
    searcher, scheduler = strategy.make_searcher(space, prior), strategy.make_scheduler()
    events: list[tuple[float, int, str, int]] = []  # (time, order, trial id, epoch)
    curves, trials = {}, {}
    counter = itertools.count()
    best, improvements, finished = math.inf, [], []

    def start(now: float) -> None:
        trial_id = f"t{next(counter):05d}"
        config = searcher.suggest(trial_id)
        trial = SimpleNamespace(trial_id=trial_id, config=config)
        trials[trial_id] = trial
        scheduler.on_trial_add(None, trial)
        curves[trial_id] = surrogate.predict([config])[0]
        heapq.heappush(events, (now + clock.startup_s + curves[trial_id].seconds[0], next(counter), trial_id, 1))

    for _ in range(clock.slots):
        start(clock.fixed_s)
    while events:
        now, _, trial_id, epoch = heapq.heappop(events)
        if now > clock.budget_s:
            break
        curve, trial = curves[trial_id], trials[trial_id]
        result = {"epoch": epoch, "training_iteration": epoch, METRIC: float(curve.val_cer[epoch - 1]),
                  "val_loss": float(curve.val_loss[epoch - 1])}
        result.update(rung_figures(result))
        if result[METRIC] < best:
            best = result[METRIC]
            improvements.append((now, best))
        done = epoch >= strategy.max_epochs  # Tune stops a trial that says done without asking the scheduler
        if not done and scheduler.on_trial_result(None, trial, result) != TrialScheduler.STOP:
            searcher.on_trial_result(trial_id, result)
            heapq.heappush(events, (now + curve.seconds[epoch], next(counter), trial_id, epoch + 1))
            continue
        scheduler.on_trial_complete(None, trial, result)
        searcher.on_trial_complete(trial_id, result)
        finished.append((trial.config, result[METRIC]))
        start(now)
    return SearchRun(improvements, finished)


def table_space(table: CurveTable) -> SearchSpace:
    return inferred_space(list(table.configs.values()), table.name)


def warm_started(strategy: Strategy, table: CurveTable, surrogate: Surrogate, clock: Clock,
                 earlier_fraction: float = 0.5) -> SearchRun:
    """A search warm-started from an earlier one (another seed, ``earlier_fraction`` of the budget), as
    ``--warm-start`` imports it."""
    earlier = replay(replace(strategy, seed=strategy.seed + EARLIER_SEED), table, surrogate,
                     replace(clock, budget_s=clock.budget_s * earlier_fraction))
    space = table_space(table)
    prior = []
    for number, (config, cer) in enumerate(earlier.finished):
        fitted = fit_to_space(space, config)
        assert not isinstance(fitted, str), fitted  # the same space: every trial fits
        prior.append(PriorTrial(f"earlier/{number}", fitted.params, fitted.distributions, (cer,)))
    return replay(strategy, table, surrogate, clock, prior)


def best_at(improvements: list[tuple[float, float]], t: float) -> float:
    return min((cer for when, cer in improvements if when <= t), default=math.inf)


def time_to(improvements: list[tuple[float, float]], target: float) -> float:
    return next((when for when, cer in improvements if cer <= target), math.inf)


def upper_median(values: np.ndarray) -> float:
    """The ceil(n/2)-th smallest value: finite when at least half the values are."""
    ordered = np.sort(values)
    return float(ordered[len(ordered) // 2]) if len(ordered) else math.inf


def ratio_interval(strategy_times: np.ndarray, random_times: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Median time ratio (strategy / random) with its 95% bootstrap interval over seeds."""
    rng = np.random.default_rng(seed)

    def ratio(a: np.ndarray, b: np.ndarray) -> float:
        top, bottom = upper_median(a), upper_median(b)
        return top / bottom if math.isfinite(bottom) else math.nan

    draws = [ratio(rng.choice(strategy_times, len(strategy_times)), rng.choice(random_times, len(random_times)))
             for _ in range(BOOTSTRAP)]
    with np.errstate(invalid="ignore"):  # draws of inf / finite: an interval that is open above
        low, high = np.nanpercentile(draws, [2.5, 97.5])
    return ratio(strategy_times, random_times), float(low), float(high)


def _one(job: tuple[dict, str, Clock, int, float | None]) -> list[tuple[float, float]]:
    settings, table_path, clock, seed, earlier_fraction = job
    table, surrogate = _TABLES[table_path], _SURROGATES[table_path]
    strategy = Strategy(max_epochs=table.max_epochs, seed=seed, **settings)
    if earlier_fraction is None:
        return replay(strategy, table, surrogate, clock).improvements
    return warm_started(strategy, table, surrogate, clock, earlier_fraction).improvements


_TABLES: dict[str, CurveTable] = {}
_SURROGATES: dict[str, Surrogate] = {}


def run_setting(settings: dict, table_path: str, clock: Clock, seeds: int, pool: Pool | None,
                earlier_fraction: float | None = None) -> list[list[tuple[float, float]]]:
    """Every seed's improvements; with ``earlier_fraction``, warm-started from an earlier search that long."""
    jobs = [(settings, table_path, clock, seed, earlier_fraction) for seed in range(seeds)]
    return list(pool.map(_one, jobs)) if pool else [_one(job) for job in jobs]


def compare(table_path: str, clock: Clock, seeds: int, settings: dict, baseline: list, pool: Pool | None,
            earlier_fraction: float | None = None) -> dict[str, Any]:
    """A setting (warm-started, with ``earlier_fraction``) against the baseline's runs on one table and
    clock; the target is the baseline's median final best."""
    runs = run_setting(settings, table_path, clock, seeds, pool, earlier_fraction)
    target = upper_median(np.array([best_at(run, clock.budget_s) for run in baseline]))
    random_times = np.array([time_to(run, target) for run in baseline])
    times = np.array([time_to(run, target) for run in runs])
    ratio, low, high = ratio_interval(times, random_times)
    pair_low, pair_median, pair_high = pair_ratios(runs, baseline, clock.budget_s)
    return {"settings": settings, "target": target, "median_s": upper_median(times), "random_median_s": upper_median(random_times),
            "reached": int(np.isfinite(times).sum()), "ratio": ratio, "low": low, "high": high,
            "pair_median": pair_median, "pair_low": pair_low, "pair_high": pair_high,
            "final_best": float(np.median([best_at(run, clock.budget_s) for run in runs]))}


def pair_ratios(runs: list, baseline: list, budget_s: float) -> tuple[float, float, float]:
    """What one real pair would show (seed i of each, as ``run.py report`` scores a pair): the time to
    reach that random search's own final best, divided by the random search's; the 2.5%, 50% and 97.5%
    points over seeds (a range for a single pair, wider than the median's interval)."""
    ratios = []
    for run, base in zip(runs, baseline):
        target = best_at(base, budget_s)
        ratios.append(time_to(run, target) / max(time_to(base, target), 1e-9))
    low, median, high = np.quantile(np.array(ratios), [0.025, 0.5, 0.975], method="nearest")
    return float(low), float(median), float(high)


DEFAULT: dict[str, Any] = {}  # Strategy's own defaults: what python -m tune_asr.search runs
LEVERS: dict[str, dict[str, Any]] = {
    "default": {},
    "rung val_cer": {"rung_metric": "val_cer"},
    "rung val_cer_then_loss": {"rung_metric": "val_cer_then_loss"},
    "reduction 2": {"reduction_factor": 2.0},
    "reduction 3": {"reduction_factor": 3.0},
    "grace 2": {"grace_period": 2},
    "brackets 2": {"brackets": 2},
    "brackets 3": {"brackets": 3},
    "startup 5": {"tpe_startup_trials": 5},
    "startup 20": {"tpe_startup_trials": 20},
    "multivariate TPE": {"tpe_multivariate": True},
    "multivariate group TPE": {"tpe_multivariate": True, "tpe_group": True},
    "no constant liar": {"tpe_constant_liar": False},
    "stopped as pruned": {"stopped_trials": "pruned", "sampler_feedback": "end"},
    "TPE learns CER alone": {"sampler_metric": METRIC},
    "TPE told at the end": {"sampler_feedback": "end"},
    "TPE told CER at the end": {"sampler_feedback": "end", "sampler_metric": METRIC},  # the default until 2026-12-08
    "random + ASHA": {"searcher": "random"},
    "TPE, no early stopping": {"scheduler": "fifo"},
}


def main(argv: list[str] | None = None) -> int:
    # Ray times the define-by-run space on the wall clock and warns when it is slow: on a busy CPU it is.
    warnings.filterwarnings("ignore", message="Define-by-run function passed")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--curves", type=Path, nargs="+", help="learning-curve CSVs (tune_asr.results writes learning_curves.csv)")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--slots", type=int, default=8, help="trials at once")
    parser.add_argument("--budget-min", type=float, nargs="+", default=[30.0], help="simulated minutes per search")
    parser.add_argument("--fixed-s", type=float, default=FIXED_S,
                        help=f"seconds before the first trial's first epoch begins, beyond --startup-s (default {FIXED_S:g})")
    parser.add_argument("--startup-s", type=float, help="seconds a trial takes to its first epoch (default: the table's median)")
    parser.add_argument("--levers", nargs="*", metavar="LEVER", choices=[name for name in LEVERS if name != "default"],
                        help="the levers of LEVERS named (none named: every one), one at a time, besides the default")
    parser.add_argument("--warm-start", type=float, nargs="?", const=0.5, metavar="FRACTION",
                        help="also: the default warm-started from an earlier search of FRACTION of the budget "
                             "(default 0.5: the issue's setting), against the cold default")
    parser.add_argument("--workers", type=int, default=2, help="processes")
    parser.add_argument("--json", type=Path, help="write every row here")
    parser.add_argument("--smoke", action="store_true", help="seconds: a tiny replay of a table made up here")
    args = parser.parse_args(argv)
    if args.smoke:
        return smoke()
    if not args.curves:
        parser.error("--curves is required")
    try:
        tables = {str(path): read_table(path) for path in args.curves}
    except TableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = []
    settings_list = {"default": DEFAULT}
    if args.levers is not None:
        settings_list.update({name: LEVERS[name] for name in args.levers or LEVERS})
    started = time.time()
    for path, table in tables.items():
        mean, low = held_out_spearman(table)
        print(f"{table.name}: {len(table.configs)} trials, {len(table.complete_trials)} complete; surrogate's held-out "
              f"Spearman (final CER) {mean:.2f} (lowest of 3 shuffles {low:.2f})", flush=True)
        _TABLES[path], _SURROGATES[path] = table, Surrogate(table)
        with Pool(args.workers) if args.workers > 1 else nullcontext() as pool:
            for budget in args.budget_min:
                clock = Clock(args.slots, budget * 60, args.fixed_s, args.startup_s if args.startup_s is not None else table.median_startup_s)
                baseline = run_setting(RANDOM, path, clock, args.seeds, pool)
                for name, settings in settings_list.items():
                    row = {"table": table.name, "budget_min": budget, "lever": name, "clock": asdict(clock),
                           **compare(path, clock, args.seeds, {**DEFAULT, **settings}, baseline, pool)}
                    rows.append(row)
                    print(f"  {budget:g} min, {name:<24} median {row['median_s']:7.0f} s vs random {row['random_median_s']:6.0f} s "
                          f"(target {row['target']:.4f}; {row['reached']}/{args.seeds} reach it): "
                          f"ratio {row['ratio']:.2f} [{row['low']:.2f}, {row['high']:.2f}]; one pair {row['pair_median']:.2f} "
                          f"[{row['pair_low']:.2f}, {row['pair_high']:.2f}]  ({time.time() - started:.0f} s)", flush=True)
                if args.warm_start is not None:
                    cold = run_setting(DEFAULT, path, clock, args.seeds, pool)
                    row = {"table": table.name, "budget_min": budget, "lever": f"warm start from {args.warm_start:g} of the budget",
                           "clock": asdict(clock), **compare(path, clock, args.seeds, DEFAULT, cold, pool, args.warm_start)}
                    rows.append(row)
                    print(f"  {budget:g} min, warm start from a {budget * args.warm_start:g}-min search: median {row['median_s']:.0f} s vs cold "
                          f"{row['random_median_s']:.0f} s (target: cold's median final best {row['target']:.4f}; "
                          f"{row['reached']}/{args.seeds} reach it): ratio {row['ratio']:.2f} [{row['low']:.2f}, {row['high']:.2f}]  "
                          f"({time.time() - started:.0f} s)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    default_rows = [row for row in rows if row["lever"] == "default"]
    worst = max(default_rows, key=lambda row: (row["high"], row["ratio"]))
    print(f"time-to-target ratio (default / random): {worst['ratio']:.2f} [{worst['low']:.2f}, {worst['high']:.2f}]")
    return 0


def smoke() -> int:
    """Write a small made-up table, then replay it with 3 seeds: every code path runs in seconds."""
    rng = np.random.default_rng(0)
    rows = []
    for trial in range(24):
        lr = float(10 ** rng.uniform(-4, -2))
        config = {"lr": lr, "rnn_type": ["gru", "lstm"][trial % 2], "rnn_layers": int(rng.integers(1, 3)), "epochs": 4}
        quality = abs(math.log10(lr) + 3) + rng.normal(0, 0.1)
        for epoch in range(1, 5):
            cer = min(1.0, 0.2 + quality / epoch)
            rows.append({"trial": f"s{trial:03d}", "epoch": epoch, "val_cer": cer, "val_loss": 1 + 2 * cer, "train_loss": 1 + 2 * cer,
                         "seconds": 5.0, "startup_seconds": 0.5, "config": json.dumps(config)})
    import pandas as pd

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "smoke.csv"
        pd.DataFrame(rows).to_csv(path, index=False)
        return main(["--curves", str(path), "--seeds", "3", "--budget-min", "2", "--workers", "1", "--warm-start"])


if __name__ == "__main__":
    sys.exit(main())
