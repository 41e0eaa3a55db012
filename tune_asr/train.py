"""``python -m tune_asr.train --data DIR --out DIR [--set key=value ...]``: one configuration, no Ray.

Writes ``OUT/metrics.json`` (``{"epochs": [...]}``, one record per epoch), ``OUT/config.json``, the
last checkpoint in ``OUT/last/`` and the best (lowest validation CER) in ``OUT/best/``. Re-running
with ``--resume`` continues from ``OUT/last``.

Without a GPU the model is CPU-sized (:data:`CPU_DEFAULTS`, said before training starts): kospeech's
full model, the :class:`TrainConfig` default, takes tens of seconds per batch on a few cores.
``--set`` overrides either; ``--full-size`` keeps kospeech's sizes on a CPU too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tune_asr.checkpoint import CHECKPOINT_FILE
from tune_asr.config import TrainConfig
from tune_asr.data.corpus import load_corpus
from tune_asr.training import EpochRecord, TrainingDiverged, default_device, train

# A small model and what a small model needs: 20 ms hops (half the frames), a learning rate far above
# kospeech's 1e-4, light dropout and SpecAugment (kospeech's 2 x 18 of 80 mel bins would hide most of
# 40). On the demo corpus kospeech's regularisation kept it at CER 0.88 after 12 epochs; this reaches ~0.3.
CPU_DEFAULTS = {"n_mels": 40, "hop_ms": 20.0, "conv_channels": 8, "rnn_layers": 2, "rnn_hidden": 96, "batch_size": 8,
                "lr": 5e-3, "schedule": "constant", "dropout": 0.1, "freq_mask_width": 8, "freq_mask_count": 1,
                "time_mask_count": 1}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tune_asr.train", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="NSML dataset root (holds train/train_data, train/train_label)")
    parser.add_argument("--out", required=True, type=Path, help="output folder for metrics and checkpoints")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a TrainConfig field, e.g. --set rnn_hidden=256 (repeatable)")
    parser.add_argument("--strict", action="store_true", help="stop on any bad file or label instead of skipping it")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last/checkpoint.pt")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    parser.add_argument("--full-size", action="store_true", help="kospeech's full model even without a GPU")
    return parser.parse_args(argv)


def base_config(full_size: bool) -> TrainConfig:
    """kospeech's defaults, or on a machine without a GPU the CPU-sized ones (and say so)."""
    if full_size or default_device().type != "cpu":
        return TrainConfig()
    shown = " ".join(f"{key}={value}" for key, value in CPU_DEFAULTS.items())
    print(f"No GPU: a CPU-sized model ({shown}); --set changes any of them, --full-size keeps kospeech's.")
    return TrainConfig.from_dict(CPU_DEFAULTS)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = base_config(args.full_size).with_overrides(args.overrides)
        corpus = load_corpus(args.data, config, strict=args.strict)
    except ValueError as error:  # DataError included: bad data, bad --set values
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(corpus.report.summary())
    print(f"train {len(corpus.train)} / validation {len(corpus.val)} utterances, vocabulary {len(corpus.vocab)} symbols")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(config.to_json(), encoding="utf-8")
    resume_from = args.out / "last" / CHECKPOINT_FILE if args.resume else None
    if resume_from is not None and not resume_from.exists():
        print(f"error: --resume given but {resume_from} does not exist", file=sys.stderr)
        return 2

    def on_epoch(record: EpochRecord, save_checkpoint) -> None:
        save_checkpoint(args.out / "last")
        history = json.loads(metrics_path.read_text()) if metrics_path.exists() else {"epochs": []}
        history["epochs"] = [r for r in history["epochs"] if r["epoch"] < record.epoch] + [record.to_dict()]
        metrics_path.write_text(json.dumps(history, indent=2), encoding="utf-8")
        if record.val_cer <= min(r["val_cer"] for r in history["epochs"]):
            save_checkpoint(args.out / "best")
        print(
            f"epoch {record.epoch}: train_loss {record.train_loss:.3f}  val_loss {record.val_loss:.3f}  "
            f"val_cer {record.val_cer:.4f}  val_wer {record.val_wer:.4f}  lr {record.lr:.2e}  "
            f"{record.seconds:.1f} s  {record.audio_seconds_per_second:.0f} audio-s/s",
            flush=True,
        )

    metrics_path = args.out / "metrics.json"
    try:
        history = train(config, corpus, on_epoch=on_epoch, resume_from=resume_from, progress=not args.no_progress)
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    best = min(history, key=lambda r: r.val_cer)
    print(f"best val_cer {best.val_cer:.4f} at epoch {best.epoch}; checkpoint {args.out / 'best' / CHECKPOINT_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
