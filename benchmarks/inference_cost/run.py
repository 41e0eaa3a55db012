"""What measuring a trial's inference cost (issue 23) takes, against the epoch it follows.

Every trial measures its exported package's real-time factor once, after its first validation
(``tune_asr.inference_cost``: the first 8 validation utterances by name, the fastest of 3 passes, fp32 greedy decoding as the
package runs it, two utterances untimed first). The target: under 5% of an epoch. This trains one
configuration for ``--epochs`` epochs with the search's own loop and prints, per epoch, its seconds and
those that measuring took (``rtf_measure_s``, inside the epoch's seconds), and the measured RTF.

Usage (the CPU demo's larger model; the demo corpus: python -m tune_asr.data.demo DIR):
  python benchmarks/inference_cost/run.py --data DIR --epochs 2 \
      --set unit=grapheme n_mels=40 hop_ms=20 conv_channels=8 batch_size=8 rnn_layers=2 rnn_hidden=128
  (GPU, kospeech's DeepSpeech2) ... --data DIR --vocab labels.csv --set batch_size=128
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from tune_asr.config import TrainConfig
from tune_asr.data.corpus import load_corpus
from tune_asr.inference_cost import SAMPLE_UTTERANCES
from tune_asr.training import default_device, train

TARGET_SHARE = 0.05
SMOKE_OVERRIDES = ["n_mels=40", "conv_channels=4", "rnn_hidden=16", "rnn_layers=1", "batch_size=4"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--vocab", type=Path, help="a kospeech labels.csv (default: built from the data)")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], help="key=value TrainConfig fields")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true", help="a tiny model for one epoch: checks that the script runs")
    args = parser.parse_args(argv)
    overrides = [*(SMOKE_OVERRIDES if args.smoke else []), *args.overrides]
    epochs = 1 if args.smoke else args.epochs
    config = TrainConfig(epochs=epochs, vocab_path=str(args.vocab) if args.vocab else None).with_overrides(overrides)
    corpus = load_corpus(args.data, config)
    device = default_device()
    if device.type == "cpu":
        torch.set_num_threads(1)  # as a CPU trial runs: one core per worker
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu (1 thread)"
    print(f"{len(corpus.train)} training and {len(corpus.val)} validation utterances; "
          f"{min(len(corpus.val), SAMPLE_UTTERANCES)} timed; {name}", flush=True)
    history = train(config, corpus, device=device, progress=False)
    rows = [{"epoch": r.epoch, "seconds": r.seconds, "rtf_measure_s": r.rtf_measure_s, "share": r.rtf_measure_s / r.seconds,
             "rtf": r.rtf, "params": r.params, "model_mb": r.model_mb} for r in history]
    print(f"{'epoch':>5} {'epoch s':>8} {'measure s':>9} {'share':>6} {'rtf':>8}")
    for row in rows:
        print(f"{row['epoch']:>5} {row['seconds']:8.2f} {row['rtf_measure_s']:9.3f} {row['share']:6.1%} {row['rtf']:8.4f}")
    first = rows[0]
    print(f"params {first['params']:,}, weights {first['model_mb']:.1f} MB; measuring took {first['share']:.1%} of the "
          f"epoch it ran in (target under {TARGET_SHARE:.0%}), once per trial")
    if args.json:
        args.json.write_text(json.dumps({"device": name, "config": config.to_dict(), "rows": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
