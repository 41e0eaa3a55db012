"""GPU utilisation samples of ``nvidia-smi`` (``index, timestamp, utilization.gpu``, CSV) for the search
benchmarks: the samples of one GPU over a span, their plot, and the command-line options that name them."""

from __future__ import annotations

import argparse
import csv
from datetime import datetime
from pathlib import Path


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
