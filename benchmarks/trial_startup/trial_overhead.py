"""Per-trial overhead of finished searches (issue 5.4): start-up of every trial and GPU idleness.

For each search folder: seconds from each trial's start to its first training line (``startup``),
split into Ray's part (``spawn``: controller, placement group, worker process, up to our import)
and the rest (imports, process group), the data loading after it (``data``), trials per hour over
the span from the first trial's start to the last report; and, given an ``nvidia-smi`` CSV
(``index, timestamp, utilization.gpu``) with one GPU per search, that GPU's mean utilisation over
the same span and its idle share (samples at 0%).

Usage: python benchmarks/trial_overhead.py SEARCH_DIR [SEARCH_DIR ...] [--utilisation CSV --gpus I [I ...] [--plot PNG]]
"""

from __future__ import annotations

import argparse
import csv
import statistics
from datetime import datetime
from pathlib import Path

from tune_asr.results import load_experiment


def trials(search: Path) -> list[dict]:
    """First and last report of every trial that reported."""
    found = []
    for trial in load_experiment(search).trials:
        if len(trial.history):
            first, last = trial.history.iloc[0], trial.history.iloc[-1]
            found.append({"start": first["timestamp"] - first["time_total_s"], "end": last["timestamp"],
                          "startup": first["startup_seconds"], "spawn": first.get("spawn_seconds", float("nan")),
                          "data": first["data_seconds"]})
    return found


def samples(path: Path, gpu: str, start: float, end: float) -> list[tuple[float, float]]:
    """(unix time, utilisation %) of ``gpu`` between ``start`` and ``end``."""
    found = []
    with open(path, encoding="utf-8") as handle:
        for index, stamp, percent in csv.reader(handle, skipinitialspace=True):
            when = datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S.%f").timestamp()
            if index == gpu and start <= when <= end:
                found.append((when, float(percent.split()[0])))
    return found


def plot(series: dict[str, list[tuple[float, float]]], path: Path, xlabel: str = "seconds since the first trial started") -> None:
    """GPU utilisation over time, one panel per search, each from its first sample."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(series), 1, figsize=(8, 1.8 * len(series) + 0.6), sharex=True, squeeze=False)
    for axis, (name, points) in zip(axes[:, 0], series.items()):
        start = points[0][0] if points else 0.0
        axis.fill_between([t - start for t, _ in points], [u for _, u in points], step="post", alpha=0.6)
        axis.set(ylabel="GPU %", ylim=(0, 105), title=name)
    axes[-1, 0].set_xlabel(xlabel)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"Wrote {path}")


def add_utilisation_arguments(parser: argparse.ArgumentParser) -> None:
    """--utilisation, --gpus and --plot: the GPU samples that go with the searches, and their plot."""
    parser.add_argument("--utilisation", type=Path, help="nvidia-smi CSV: index, timestamp, utilization.gpu")
    parser.add_argument("--gpus", nargs="+", help="the GPU index of each search, in order")
    parser.add_argument("--plot", type=Path, help="PNG of GPU utilisation over time, one panel per search")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("searches", nargs="+", type=Path)
    add_utilisation_arguments(parser)
    args = parser.parse_args()
    print("| search | trials | start-up s (median, range) | of which spawn s | data s | trials/hour | GPU busy % | GPU idle share |")
    print("|---|---|---|---|---|---|---|---|")
    series = {}
    for i, search in enumerate(args.searches):
        rows = trials(search)
        start, end = min(r["start"] for r in rows), max(r["end"] for r in rows)
        startup = sorted(r["startup"] for r in rows)
        busy = idle = float("nan")
        if args.utilisation and args.gpus:
            series[search.name] = samples(args.utilisation, args.gpus[i], start, end)
            values = [u for _, u in series[search.name]]
            busy, idle = statistics.fmean(values), sum(v == 0 for v in values) / len(values)
        print(f"| {search.name} | {len(rows)} | {statistics.median(startup):.1f} ({startup[0]:.1f}–{startup[-1]:.1f}) | "
              f"{statistics.median(r['spawn'] for r in rows):.1f} | {statistics.median(r['data'] for r in rows):.2f} | "
              f"{len(rows) * 3600 / (end - start):.0f} | {busy:.0f} | {idle:.0%} |")
    if args.plot and series:
        plot(series, args.plot)


if __name__ == "__main__":
    main()
