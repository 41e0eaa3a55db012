"""Inference speed of an exported package, measured as NSML's submit would run it.

    python benchmarks/inference_rtf/run.py --data DATA [--package DIR | --size kospeech|mid [--vocab LABELS_CSV]] [--repeat N]

Replays the package (``tune_asr.export.replay``: ``nsml run``, then ``nsml submit`` in a fresh
process on ``DATA/test/test_data``) and times the bound ``infer`` alone, as the platform's 3,600 s
limit counts it. ``--size`` exports untrained weights of that size first (speed does not depend on
training), with the vocabulary of ``--vocab`` (the seed's ``labels.csv``: 2,001 outputs) or, without
it, one built from ``DATA/train``'s labels. Prints one Markdown table row per run: how many times faster than real time (wall clock),
and audio seconds per CPU second of the submit process, a figure that other processes on a shared
machine sway far less (on an idle machine, wall speed is at most that times the threads), and the
load average before the run.

``--smoke``: a tiny untrained model on the CPU, replayed once, to check that the script still runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
from pathlib import Path

import torch

from tune_asr.checkpoint import vocab_state
from tune_asr.config import TrainConfig
from tune_asr.data.corpus import load_vocabulary
from tune_asr.data.labels import read_labels
from tune_asr.export.package import write_package
from tune_asr.export.replay import replay
from tune_asr.model import DeepSpeech2

SIZES = {
    "kospeech": TrainConfig(),  # 80 mels, 3 × BiGRU-1024, 2,001 outputs: kospeech's default, ~52 M parameters
    "mid": TrainConfig(rnn_hidden=512),
    "smoke": TrainConfig(n_mels=40, conv_channels=4, rnn_hidden=16, rnn_layers=1, freq_mask_width=8),  # --smoke
}


def untrained_package(size: str, vocab_path: Path | None, data: Path, out: Path) -> Path:
    """Export randomly initialised weights of a named size with ``vocab_path``'s vocabulary, else the data's."""
    config = dataclasses.replace(SIZES[size], vocab_path=str(vocab_path) if vocab_path else None)
    rows, _ = read_labels(data / "train" / "train_label") if vocab_path is None else ([], [])
    vocab = load_vocabulary(config, [row.text for row in rows])
    torch.manual_seed(0)
    state = {"model": DeepSpeech2(config, len(vocab)).state_dict(), "config": config.to_dict(), "vocab": vocab_state(vocab)}
    return write_package(state, out, source=f"Untrained `{size}` weights, for timing only.")


def device_name() -> str:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU, {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="NSML dataset root with test/test_data and test/test_label")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--package", type=Path, help="an exported package folder")
    source.add_argument("--size", choices=sorted(SIZES), help="export untrained weights of this size and time them")
    source.add_argument("--smoke", action="store_true", help="a tiny untrained model, once, on the CPU: checks the script runs")
    parser.add_argument("--vocab", type=Path, help="vocabulary CSV for --size (kospeech's labels.csv); default: built from DATA/train")
    parser.add_argument("--repeat", type=int, default=1, help="replays to run (each is a fresh submit process)")
    args = parser.parse_args(argv)
    if args.smoke:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the replay's processes inherit it
        args.size, args.repeat = "smoke", 1

    with tempfile.TemporaryDirectory() as scratch:
        package = args.package or untrained_package(args.size, args.vocab, args.data, Path(scratch) / "package")
        weights = torch.load(package / "model" / "weights.pt", map_location="cpu", weights_only=True)
        parameters = sum(t.numel() for name, t in weights.items() if not name.endswith(("running_mean", "running_var", "num_batches_tracked")))
        print("| device | model | parameters | files | audio s | infer s | × real time | CPU s | audio s per CPU s | load before |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for _ in range(args.repeat):
            load = os.getloadavg()[0]  # other processes' demand for the cores, 1-minute average
            result = replay(package, args.data)
            print(f"| {device_name()} | {args.size or package.name} | {parameters / 1e6:.1f} M | {result.files} | "
                  f"{result.audio_seconds:.1f} | {result.infer_seconds:.2f} | {result.speed:.1f}× | {result.infer_cpu_seconds:.1f} | "
                  f"{result.audio_seconds / result.infer_cpu_seconds:.1f} | {load:.1f} |", flush=True)


if __name__ == "__main__":
    main()
