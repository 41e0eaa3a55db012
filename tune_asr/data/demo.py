"""Generate a small synthetic Korean speech corpus in the NSML layout, so the search runs anywhere.

The real competition data cannot be shared; espeak-ng speaking in-car commands from
:mod:`tune_asr.data.grammar` gives the same file layout and label format at any size:

    OUT/train/train_data/idx_000000 ...   headerless PCM, int16 little-endian, 16 kHz, mono
    OUT/train/train_label                 CSV "filename,text"
    OUT/train/train_speaker               CSV "filename,speaker": the espeak-ng voice (split_by: speaker)
    OUT/test/test_data/test_000000 ...    same format, labelled held-out set
    OUT/test/test_label

Every choice (sentence, voice, speed, pitch) is drawn up front from ``random.Random(seed)``, and
each utterance is synthesised independently, so a seed gives byte-identical files for any number
of workers.

Usage: python -m tune_asr.data.demo OUT --utterances N [--seed S] [--test-utterances M] [--workers W]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import shutil
import subprocess
import wave
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import torch
import torchaudio.functional as AF
from tqdm import tqdm

from tune_asr.data.audio import BYTES_PER_SAMPLE, SAMPLE_RATE
from tune_asr.data.grammar import sample_sentence
from tune_asr.data.speakers import speaker_path, write_speakers

VOICES = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4")
SPEEDS = range(130, 191, 5)  # words per minute
PITCHES = range(30, 71, 5)  # espeak-ng pitch, 0..99
WAV_HEADER_BYTES = 44  # espeak-ng's output is this header and nothing else when it synthesised nothing
INSTALL_HINT = (
    "espeak-ng is needed to synthesise the demo corpus but was not found on PATH. Install it with "
    "`apt-get install espeak-ng` (Debian/Ubuntu) or `brew install espeak-ng` (macOS)."
)


@dataclass(frozen=True)
class PlannedUtterance:
    """One file to synthesise: decided in the parent so the corpus depends on the seed alone."""

    path: Path
    text: str
    voice: str
    speed: int
    pitch: int


def plan(directory: Path, prefix: str, count: int, rng: random.Random) -> list[PlannedUtterance]:
    """Draw sentence and voice parameters for ``count`` files named ``<prefix>_000000`` ..."""
    return [
        PlannedUtterance(
            path=directory / f"{prefix}_{i:06d}",
            text=sample_sentence(rng),
            voice=rng.choice(VOICES),
            speed=rng.choice(SPEEDS),
            pitch=rng.choice(PITCHES),
        )
        for i in range(count)
    ]


def espeak(utt: PlannedUtterance) -> bytes:
    """Run espeak-ng and return its WAV bytes; a failure names the sentence and espeak's stderr."""
    voice = ["-v", f"ko+{utt.voice}", "-s", str(utt.speed), "-p", str(utt.pitch)]
    result = subprocess.run(["espeak-ng", *voice, "--stdout", utt.text], capture_output=True)
    if result.returncode != 0 or len(result.stdout) <= WAV_HEADER_BYTES:
        stderr = result.stderr.decode(errors="replace").strip() or "no audio"
        raise RuntimeError(f"espeak-ng failed on {utt.text!r} (exit {result.returncode}): {stderr}")
    return result.stdout


def wav_to_pcm16k(wav_bytes: bytes) -> bytes:
    """Resample espeak-ng's 22.05 kHz WAV to headerless 16 kHz int16 little-endian PCM."""
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        rate = wav.getframerate()
        # espeak-ng streams to stdout, so the header's frame count is a placeholder: read everything.
        frames = wav.readframes(wav.getnframes())
    samples = torch.frombuffer(bytearray(frames), dtype=torch.int16).to(torch.float32)
    resampled = AF.resample(samples, rate, SAMPLE_RATE)
    return resampled.round().clamp(-32768, 32767).to(torch.int16).numpy().astype("<i2").tobytes()


def synthesise(utt: PlannedUtterance) -> int:
    """Write one utterance's PCM file (in a worker process) and return its number of samples."""
    pcm = wav_to_pcm16k(espeak(utt))
    utt.path.write_bytes(pcm)
    return len(pcm) // BYTES_PER_SAMPLE


def _init_worker() -> None:
    """One torch thread per process: the pool already uses every core, and results stay exact."""
    torch.set_num_threads(1)


def write_labels(path: Path, utterances: list[PlannedUtterance]) -> None:
    """Write the NSML label CSV (header ``filename,text``), quoting only where CSV needs it."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["filename", "text"])
        writer.writerows([u.path.name, u.text] for u in utterances)


def make_demo(
    out_dir: Path | str,
    utterances: int,
    seed: int = 0,
    test_utterances: int | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Write a demo corpus of ``utterances`` training and ``test_utterances`` test files to ``out_dir``.

    ``test_utterances`` defaults to 10% of ``utterances`` (at least 10); ``workers`` to all cores.
    ``out_dir`` must be empty or absent, so no stale file outlives a smaller corpus. ``progress``
    shows a progress bar and prints where the corpus went and how much audio it holds.
    """
    if shutil.which("espeak-ng") is None:
        raise RuntimeError(INSTALL_HINT)
    if utterances < 1:
        raise ValueError(f"utterances must be >= 1, got {utterances}")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; choose a new directory or remove it first")
    n_test = max(10, utterances // 10) if test_utterances is None else test_utterances

    train_dir, test_dir = out / "train" / "train_data", out / "test" / "test_data"
    train_dir.mkdir(parents=True, exist_ok=True)
    test_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    train = plan(train_dir, "idx", utterances, rng)
    test = plan(test_dir, "test", n_test, rng)

    with Pool(workers or os.cpu_count(), initializer=_init_worker) as pool:
        jobs = pool.imap_unordered(synthesise, train + test, chunksize=4)
        samples = sum(tqdm(jobs, total=len(train) + len(test), unit="utt", disable=not progress))

    write_labels(out / "train" / "train_label", train)
    write_speakers(speaker_path(out), [(u.path.name, u.voice) for u in train])
    write_labels(out / "test" / "test_label", test)
    if progress:
        seconds = samples / SAMPLE_RATE
        print(
            f"Wrote {len(train)} train + {len(test)} test utterances to {out} "
            f"({seconds / 60:.1f} min of audio, {seconds / (len(train) + len(test)):.2f} s mean)"
        )
    return out


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: ``python -m tune_asr.data.demo OUT --utterances N``."""
    parser = argparse.ArgumentParser(prog="python -m tune_asr.data.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output directory (must be empty or absent)")
    parser.add_argument("--utterances", type=int, required=True, help="number of training utterances")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes")
    parser.add_argument("--test-utterances", type=int, default=None, help="test set size (default: 10%%, >= 10)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    args = parser.parse_args(argv)
    try:
        make_demo(args.out, args.utterances, args.seed, args.test_utterances, args.workers)
    except (RuntimeError, FileExistsError, ValueError) as err:
        parser.exit(1, f"error: {err}\n")


if __name__ == "__main__":
    main()
