"""What waveform augmentation costs in training throughput (issue 17: at most 10% on the GPU).

Our training loop (``Trainer.train_epoch``, as the throughput benchmark times it: an untimed epoch,
then a timed one) without and with waveform augmentation, alternated in fresh processes on the
same data and GPU, so the ratio is measured side by side. SpecAugment runs in both.

Usage: python benchmarks/augmentation/run.py --data DIR [--vocab LABELS_CSV] [--batch-size 128] [--repeats 2]
       [--augment speed_perturb=0.1 --augment noise_prob=0.5 ...] [--json OUT]
--smoke: a tiny model on the CPU for a few steps, to check that the script still runs (no figures).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "throughput"))
from run import in_own_process, our_loop  # noqa: E402  (the throughput benchmark's timing of our loop)

AUGMENTATION = ["speed_perturb=0.1", "noise_prob=0.5", "noise_snr_db_min=5", "noise_snr_db_max=25", "gain_db=6"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--vocab", type=Path)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="key=value for both rows")
    parser.add_argument("--augment", action="append", help=f"key=value of the augmented row (default: {' '.join(AUGMENTATION)})")
    parser.add_argument("--repeats", type=int, default=2, help="pairs of rows, alternated")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true", help="tiny model, CPU, a few steps: checks the script runs")
    args = parser.parse_args()
    args.profile = False
    augmented = copy.copy(args)
    augmented.overrides = [*args.overrides, *(args.augment or AUGMENTATION)]
    rows: dict[str, list[dict]] = {"plain": [], "augmented": []}
    for _ in range(1 if args.smoke else args.repeats):
        rows["plain"].append(in_own_process(our_loop, args))
        rows["augmented"].append(in_own_process(our_loop, augmented))
    median = {name: statistics.median(r["audio_s_per_s"] for r in runs) for name, runs in rows.items()}
    print(f"\nwaveform augmentation: {' '.join(augmented.overrides[len(args.overrides):])}")
    print("| training step | audio-s/s (each run) | median | vs plain |\n|---|---|---|---|")
    for name, runs in rows.items():
        each = ", ".join(f"{r['audio_s_per_s']:,.0f}" for r in runs)
        print(f"| {name} | {each} | {median[name]:,.0f} | {median[name] / median['plain']:.1%} |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "augmentation": augmented.overrides}, indent=2))


if __name__ == "__main__":
    main()
