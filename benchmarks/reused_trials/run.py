"""Reused trial processes against one Ray Train run per trial (issue 12): start-up, packing, memory.

Reads finished search folders (and optionally an ``nvidia-smi`` CSV: ``index, timestamp,
utilization.gpu``, one GPU per search) and prints, per search: trials, per-trial start-up (from the
trial's start to its first training step, as each trial reports it) for the first wave (fresh
processes) and for reused processes separately, trials per hour over the span from the first
trial's start to the last report, the GPU's mean utilisation and idle share over that span, and
the memory of reused processes (RSS and CUDA after a process's 2nd trial and after its last).

Usage: python benchmarks/reused_trials/run.py SEARCH_DIR [...] [--utilisation CSV --gpus I [...]] [--plot PNG]
       python benchmarks/reused_trials/run.py --smoke --data DIR   (CI: a 3-trial CPU search, then the table)
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tune_asr.results import load_experiment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from utilisation import add_utilisation_arguments, plot, samples  # noqa: E402  (one reader of nvidia-smi samples)


def trial_rows(search: Path) -> list[dict]:
    """First and last report of every trial that reported, in start order."""
    found = []
    for trial in load_experiment(search).trials:
        if len(trial.history):
            first, last = trial.history.iloc[0], trial.history.iloc[-1]
            # From the trial's start to its first training step, alike for both runners: the first
            # report's time less the epoch it reports (training and validation).
            start = float(first["trial_started"])
            found.append({
                "start": start, "end": float(last["reported_at"]),
                "startup": float(first["reported_at"]) - float(first["seconds"]) - start,
                "reused": bool(first.get("reused_process", 0)), "pid": int(first.get("pid", -1)),
                "rss_mb": float(last.get("rss_mb", math.nan)), "cuda_mb": float(last.get("cuda_mb", math.nan)),
            })
    return sorted(found, key=lambda r: r["start"])


def memory_growth(rows: list[dict]) -> str:
    """Per process: memory after its 2nd trial against after its last (reused processes must not grow)."""
    by_pid: dict[int, list[dict]] = {}
    for row in rows:
        by_pid.setdefault(row["pid"], []).append(row)
    served = max((len(r) for r in by_pid.values()), default=0)
    longest = max(by_pid.values(), key=len) if by_pid else []
    if served < 3:
        return f"{served} trials/process"
    second, last = longest[1], longest[-1]
    cuda = f", CUDA {second['cuda_mb']:.0f}->{last['cuda_mb']:.0f} MB" if math.isfinite(second["cuda_mb"]) else ""
    return f"{served} trials: RSS {second['rss_mb']:.0f}->{last['rss_mb']:.0f} MB{cuda}"


def table(searches: list[Path], utilisation: Path | None, gpus: list[str] | None, plot_path: Path | None) -> None:
    print("| search | trials | start-up s, first wave (median) | start-up s, reused (median, max) | trials/hour | "
          "GPU busy % | GPU idle share | memory of a reused process |")
    print("|---|---|---|---|---|---|---|---|")
    series = {}
    for i, search in enumerate(searches):
        rows = trial_rows(search)
        start, end = min(r["start"] for r in rows), max(r["end"] for r in rows)
        first = [r["startup"] for r in rows if not r["reused"]]
        reused = [r["startup"] for r in rows if r["reused"]]
        busy = idle = math.nan
        if utilisation and gpus:
            series[search.name] = samples(utilisation, gpus[i], start, end)
            values = [u for _, u in series[search.name]]
            busy, idle = statistics.fmean(values), sum(v == 0 for v in values) / len(values)
        shown_reused = f"{statistics.median(reused):.2f} ({max(reused):.2f})" if reused else "-"
        print(f"| {search.name} | {len(rows)} | {statistics.median(first):.1f} | {shown_reused} | "
              f"{len(rows) * 3600 / (end - start):.0f} | {busy:.0f} | {idle:.0%} | {memory_growth(rows)} |")
    if plot_path and series:
        plot(series, plot_path)


def smoke(data: Path) -> None:
    """A tiny CPU search of ``data`` in reused processes, then the table: keeps this script from rotting
    (CI; the Train runner is the slow half and the test suite runs it already)."""
    root = Path(tempfile.mkdtemp(prefix="reused_smoke_"))
    space = root / "space.yaml"
    space.write_text("unit: grapheme\nn_mels: 40\nconv_channels: 4\nrnn_layers: 1\nrnn_hidden: 16\nbatch_size: 8\n"
                     "epochs: 1\nlr: {loguniform: {low: 1.0e-3, high: 1.0e-2}}\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "tune_asr.search", "--data", str(data), "--space", str(space), "--trials", "3",
                    "--scheduler", "fifo", "--storage", str(root), "--name", "reused"], check=True, stdout=subprocess.DEVNULL)
    table([root / "reused"], None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("searches", nargs="*", type=Path)
    add_utilisation_arguments(parser)
    parser.add_argument("--smoke", action="store_true", help="run a tiny CPU search and report it")
    parser.add_argument("--data", type=Path, help="with --smoke: a small NSML corpus")
    args = parser.parse_args()
    if args.smoke:
        smoke(args.data)
    else:
        table(args.searches, args.utilisation, args.gpus, args.plot)


if __name__ == "__main__":
    main()
