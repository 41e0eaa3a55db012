"""What waveform augmentation costs in training throughput (issues 17 and 22: at most 10% on the GPU).

Our training loop (``Trainer.train_epoch``, as the throughput benchmark times it) without and with
waveform augmentation, in one process on the same data and GPU: an untimed epoch of each, then their
timed epochs alternated for ``--rounds`` rounds, so the ratio is measured side by side. SpecAugment runs
in both. ``--profile FILE`` writes torch.profiler's top operators of the augmented step and its host syncs.

Usage: python benchmarks/augmentation/run.py --data DIR [--vocab LABELS_CSV] [--batch-size 128] [--rounds 3]
       [--augment speed_perturb=0.1 --augment noise_prob=0.5 ...] [--json OUT] [--profile FILE]
--smoke: a tiny model on the CPU for a few steps, to check that the script still runs (no figures).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "throughput"))
from run import TrainerRun, arguments, print_table, profile_steps, setting_up, side_by_side  # noqa: E402  (the throughput benchmark's timing)

from tune_asr.training import Trainer  # noqa: E402

AUGMENTATION = ["speed_perturb=0.1", "noise_prob=0.5", "noise_snr_db_min=5", "noise_snr_db_max=25", "gain_db=6"]


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--augment", action="append", help=f"key=value of the augmented row (default: {' '.join(AUGMENTATION)})")
    parser.add_argument("--profile", type=Path, help="write torch.profiler's top operators and the host syncs of the augmented step here")
    args = parser.parse_args()
    if args.smoke:
        args.rounds = 1
    augmentation = args.augment or AUGMENTATION
    runs = []
    for name, extra in (("plain", []), ("augmented", augmentation)):
        device, config, corpus = setting_up(args, extra=extra)
        runs.append(TrainerRun(name, Trainer(config, corpus, device)))
    rows = side_by_side(runs, args.rounds)
    print(f"\nwaveform augmentation: {' '.join(augmentation)}")
    print_table(rows, device, reference="plain")
    if args.json:  # before the profile: a run cut short by its time box keeps the table
        args.json.write_text(json.dumps({"rows": rows, "augmentation": augmentation}, indent=2))
    if args.profile:
        profile_steps(runs[1].trainer, args.profile)


if __name__ == "__main__":
    main()
