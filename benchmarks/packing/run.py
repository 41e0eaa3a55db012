"""Where a packed search's GPU-seconds go (issue 22.3): runs one search and accounts for the whole command.

Runs ``python -m tune_asr.search`` with the given options (today's runner: one-worker trials in reused
Tune processes), times the whole command, then splits its GPU-seconds (wall seconds × GPUs) into:
Ray start and the corpus check (before the first trial starts), each trial's start-up (first wave in
fresh processes, later ones in reused processes), training, validation, checkpoint writes and
reporting (from an epoch's end to its report), after the last report (results, shutdown), and idle
(what no trial held). A trial holds ``--share`` of a GPU (its ``--gpus-per-trial``), so its parts
count that share of their wall seconds. Also: audio-seconds trained per GPU-second over the whole
command, against the real seed loop's figure for the card.

Usage: python benchmarks/packing/run.py --data DIR --space YAML --trials 8 --gpus-per-trial 0.25 --max-epochs 2
       [--gpus 1] [--storage DIR] [--name NAME] [--json OUT]
--smoke --data DIR: two tiny trials on the CPU, to check that the script still runs (no figures).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from tune_asr.results import load_experiment

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "throughput"))
from run import REAL_SEED_LOOP  # noqa: E402  (the real seed loop's figures per card)

SMOKE_SPACE = ("unit: grapheme\nn_mels: 40\nconv_channels: 4\nrnn_layers: 1\nrnn_hidden: 16\nbatch_size: 8\n"
               "epochs: 2\nlr: {loguniform: {low: 1.0e-3, high: 1.0e-2}}\n")


def run_search(args: argparse.Namespace) -> tuple[float, float]:
    """The search, as a user runs it; returns its command's start and end (unix time)."""
    command = [sys.executable, "-m", "tune_asr.search", "--data", str(args.data), "--space", str(args.space),
               "--trials", str(args.trials), "--max-epochs", str(args.max_epochs), "--gpus-per-trial", str(args.gpus_per_trial),
               "--scheduler", "fifo", "--storage", str(args.storage), "--name", args.name, "--seed", "0"]
    log = args.storage / f"{args.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with open(log, "w", encoding="utf-8") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT)
    ended = time.time()
    if done.returncode != 0:
        sys.exit(f"the search exited {done.returncode}; its log: {log}")
    return started, ended


def account(search: Path, started: float, ended: float, share: float, gpus: float) -> dict:
    """The command's GPU-seconds by part, and the audio it trained."""
    parts = dict.fromkeys(["Ray start and corpus check", "start-up, first wave", "start-up, reused processes", "training",
                           "validation", "checkpoint writes and reporting", "after the last report", "idle"], 0.0)
    audio = 0.0
    first_start, last_report, epochs = ended, started, 0
    for trial in load_experiment(search).trials:
        history = trial.history
        if not len(history):
            continue
        first = history.iloc[0]
        trial_start = float(first["trial_started"])
        first_start = min(first_start, trial_start)
        reused = bool(first.get("reused_process", 0))
        parts["start-up, reused processes" if reused else "start-up, first wave"] += float(first["startup_seconds"]) * share
        epoch_start = trial_start + float(first["startup_seconds"])
        for _, row in history.iterrows():
            train = float(row["train_seconds"])
            parts["training"] += train * share
            parts["validation"] += (float(row["seconds"]) - train) * share
            parts["checkpoint writes and reporting"] += (float(row["reported_at"]) - epoch_start - float(row["seconds"])) * share
            audio += float(row["audio_seconds_per_second"]) * train
            epoch_start = float(row["reported_at"])
            epochs += 1
        last_report = max(last_report, epoch_start)
    total = (ended - started) * gpus
    parts["Ray start and corpus check"] = (first_start - started) * gpus
    parts["after the last report"] = (ended - last_report) * gpus
    parts["idle"] = total - sum(parts.values())
    return {"wall_s": ended - started, "gpu_s": total, "parts": parts, "trial_epochs": epochs, "audio_s": audio,
            "audio_s_per_gpu_s": audio / total}


def print_account(result: dict, card: str) -> None:
    print(f"\nwhole command: {result['wall_s']:.1f} s wall, {result['gpu_s']:.1f} GPU-s; {result['trial_epochs']} trial-epochs, "
          f"{result['audio_s']:,.0f} audio-s trained")
    print("| part | GPU-s | share |\n|---|---|---|")
    for name, seconds in result["parts"].items():
        print(f"| {name} | {seconds:.1f} | {seconds / result['gpu_s']:.1%} |")
    real = next((figure for key, figure in REAL_SEED_LOOP.items() if key in card), None)
    versus = f"; {result['audio_s_per_gpu_s'] / real[0]:.2f}× the real seed loop ({real[0]:,}, {real[1]})" if real else ""
    print(f"audio-s trained per GPU-second over the whole command: {result['audio_s_per_gpu_s']:,.0f}{versus}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--space", type=Path)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--max-epochs", type=int, default=2)
    parser.add_argument("--gpus-per-trial", type=float, default=0.25)
    parser.add_argument("--gpus", type=float, default=1.0, help="GPUs the search had (default 1)")
    parser.add_argument("--share", type=float, help="device share a trial holds (default: --gpus-per-trial)")
    parser.add_argument("--storage", type=Path, default=Path("/tmp/packing"))
    parser.add_argument("--name", default="packed")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true", help="two tiny CPU trials (2 cores: half a machine each)")
    args = parser.parse_args()
    if args.smoke:
        args.storage = Path(tempfile.mkdtemp(prefix="packing_smoke_"))
        args.space = args.storage / "space.yaml"
        args.space.write_text(SMOKE_SPACE, encoding="utf-8")
        args.trials, args.max_epochs, args.gpus_per_trial, args.share = 2, 2, 0.0, 0.5
    if args.space is None:
        parser.error("--space is required")
    started, ended = run_search(args)
    card = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    result = account(args.storage / args.name, started, ended, args.share if args.share is not None else args.gpus_per_trial, args.gpus)
    print_account(result, card)
    if args.json:
        args.json.write_text(json.dumps({"card": card, **result, "command": " ".join(sys.argv)}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
