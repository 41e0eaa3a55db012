"""Time to first result: from the search command's start to its first trial's first training step.

It is a fixed cost of every search (Ray's start, the data check and corpus cache, the first wave's
start-up), paid before any trial learns anything, so the replay takes it as ``--fixed-s``. Runs
``python -m tune_asr.search`` with the flags given after ``--`` and reads the trials' own timings:
``trial_started`` (unix time a trial's process began) and ``startup_seconds`` (from there to its first
training step), and Tune's timestamp of each first report.

Usage:
  python benchmarks/search_efficiency/first_result.py -- --storage /tmp/fr --name fr [search flags]
  python benchmarks/search_efficiency/first_result.py --smoke
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tune_asr.results import load_experiment


def first_step_times(experiment: Path, launched: float) -> dict[str, float]:
    """Seconds after ``launched`` of the first trial's start, its first training step and its first report."""
    starts, steps, reports = [], [], []
    for trial in load_experiment(experiment).trials:
        history = trial.history
        if not len(history) or "trial_started" not in history:
            continue
        first = history.sort_values("epoch").iloc[0]
        starts.append(first["trial_started"])
        if math.isfinite(first.get("startup_seconds", math.nan)):
            steps.append(first["trial_started"] + first["startup_seconds"])
        reports.append(first["timestamp"])
    return {name: (min(values) - launched if values else math.nan)
            for name, values in (("first_trial_started_s", starts), ("first_training_step_s", steps),
                                 ("first_report_s", reports))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a 1-trial, 1-epoch search of a tiny corpus (needs espeak-ng)")
    parser.add_argument("search_flags", nargs=argparse.REMAINDER, help="-- then the search's flags (--storage and --name required)")
    args = parser.parse_args(argv)
    flags = [flag for flag in args.search_flags if flag != "--"]
    if args.smoke:
        return smoke()
    if "--storage" not in flags or "--name" not in flags:
        parser.error("give the search's --storage and --name after --")
    experiment = Path(flags[flags.index("--storage") + 1]) / flags[flags.index("--name") + 1]
    launched = time.time()
    done = subprocess.run([sys.executable, "-m", "tune_asr.search", *flags], stdout=subprocess.DEVNULL)
    total = time.time() - launched
    times = first_step_times(experiment.resolve(), launched)
    print(" | ".join(f"{name} {value:.1f}" for name, value in times.items()) + f" | search exit {done.returncode}, {total:.0f} s")
    return done.returncode


def smoke() -> int:
    from tune_asr.data.demo import make_demo

    with tempfile.TemporaryDirectory() as scratch:
        data = make_demo(Path(scratch) / "demo", 12, seed=0, test_utterances=2, progress=False)
        space = Path(scratch) / "space.yaml"
        space.write_text("unit: grapheme\nepochs: 1\nn_mels: 20\nrnn_hidden: 16\nrnn_layers: 1\nbatch_size: 4\n"
                         "lr: {loguniform: {low: 1.0e-3, high: 1.0e-2}}\n", encoding="utf-8")
        return main(["--", "--data", str(data), "--space", str(space), "--trials", "1", "--storage",
                     str(Path(scratch) / "results"), "--name", "smoke"])


if __name__ == "__main__":
    sys.exit(main())
