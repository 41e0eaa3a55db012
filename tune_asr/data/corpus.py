"""Load an NSML training folder into validated, split, in-memory utterances.

A bad file never crashes a run and never silently changes the data: every skipped file is listed
with its reason, and ``strict`` turns the list into an error instead.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tune_asr.config import TrainConfig
from tune_asr.data.audio import AudioError, duration_seconds, pcm_seconds, read_pcm
from tune_asr.data.labels import read_labels
from tune_asr.data.vocab import Vocabulary


NO_SAMPLES = np.zeros(0, dtype="<i2")  # what utterances checked from file sizes alone hold (decode=False)


class DataError(ValueError):
    """Raised in strict mode, or when nothing usable is left; the message lists every problem."""


@dataclass(frozen=True)
class Utterance:
    name: str
    samples: np.ndarray  # int16, 16 kHz mono
    text: str

    @property
    def seconds(self) -> float:
        return duration_seconds(self.samples)


@dataclass
class ValidationReport:
    """What was read, what was skipped and why (one entry per file or label line)."""

    source: Path
    labelled: int = 0
    kept: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, reason: str) -> None:
        self.problems.append((name, reason))

    def summary(self) -> str:
        lines = [f"{self.source}: {self.kept} utterances kept of {self.labelled} labels; {len(self.problems)} skipped"]
        for reason, count in Counter(_reason_kind(r) for _, r in self.problems).most_common():
            lines.append(f"  {count:6d} × {reason}")
        lines += [f"  skipped {name}: {reason}" for name, reason in self.problems]
        return "\n".join(lines)


@dataclass
class Corpus:
    train: list[Utterance]
    val: list[Utterance]
    vocab: Vocabulary
    report: ValidationReport


def _reason_kind(reason: str) -> str:
    return reason.split(":")[0].split("(")[0].strip()


def read_train_folder(data_dir: Path, config: TrainConfig, decode: bool = True) -> tuple[list[Utterance], ValidationReport]:
    """Read ``train/train_label`` and ``train/train_data/*``; check pairing, audio and transcripts.

    ``decode=False`` checks the same from file sizes alone (every audio check is one of size) and
    keeps no samples: the cheap pass a search driver makes before its trials load the data.
    """
    label_path = data_dir / "train" / "train_label"
    audio_dir = data_dir / "train" / "train_data"
    for required in (label_path, audio_dir):
        if not required.exists():
            raise DataError(f"{required} not found: expected the NSML layout DIR/train/train_data and DIR/train/train_label")
    rows, label_problems = read_labels(label_path)
    report = ValidationReport(source=data_dir, labelled=len(rows))
    for problem in label_problems:
        report.add(f"train_label line {problem.line}", problem.reason)

    audio_names = {p.name for p in audio_dir.iterdir() if p.is_file()}
    seen: set[str] = set()
    utterances: list[Utterance] = []
    for row in rows:
        if row.filename in seen:
            report.add(row.filename, f"duplicate label (train_label line {row.line})")
            continue
        seen.add(row.filename)
        if row.filename not in audio_names:
            report.add(row.filename, f"audio missing for label (train_label line {row.line})")
            continue
        if not row.text:
            report.add(row.filename, f"empty transcript (train_label line {row.line})")
            continue
        path = audio_dir / row.filename
        try:
            # Length from the file size: a file out of range (an hour long, say) is never decoded.
            seconds = pcm_seconds(path.stat().st_size)
            in_range = config.min_seconds <= seconds <= config.max_seconds
            samples = read_pcm(path) if decode and in_range else NO_SAMPLES
        except (AudioError, OSError) as error:  # OSError: a file the system refuses to read
            report.add(row.filename, f"bad audio: {error}")
            continue
        if seconds < config.min_seconds:
            report.add(row.filename, f"too short: {seconds:.2f} s < min_seconds={config.min_seconds}")
        elif seconds > config.max_seconds:
            report.add(row.filename, f"too long: {seconds:.1f} s > max_seconds={config.max_seconds}")
        else:
            utterances.append(Utterance(row.filename, samples, row.text))
    for name in sorted(audio_names - seen):
        report.add(name, "audio without a label")
    return utterances, report


def load_vocabulary(config: TrainConfig, texts: list[str]) -> Vocabulary:
    if config.vocab_path:
        return Vocabulary.read_csv(Path(config.vocab_path), config.unit)
    return Vocabulary.build(texts, config.unit)


def split(utterances: list[Utterance], config: TrainConfig) -> tuple[list[Utterance], list[Utterance]]:
    """Seeded 8:2 split; grouped by transcript (default) so validation sentences are unseen."""
    rng = random.Random(config.seed)
    if config.split_by == "text":
        keys = sorted({u.text for u in utterances})
        rng.shuffle(keys)
        val_keys = set(keys[: max(1, round(len(keys) * config.val_fraction))])
        val = [u for u in utterances if u.text in val_keys]
    else:
        order = sorted(utterances, key=lambda u: u.name)
        rng.shuffle(order)
        val_names = {u.name for u in order[: max(1, round(len(order) * config.val_fraction))]}
        val = [u for u in utterances if u.name in val_names]
    val_names = {u.name for u in val}
    return [u for u in utterances if u.name not in val_names], val


def check_corpus(data_dir: Path | str, config: TrainConfig, strict: bool = False) -> ValidationReport:
    """:func:`load_corpus`'s validation without decoding or keeping any audio; raises as it does."""
    utterances, report = read_train_folder(Path(data_dir), config, decode=False)
    _screen(utterances, load_vocabulary(config, [u.text for u in utterances]), report, strict)
    return report


def load_corpus(data_dir: Path | str, config: TrainConfig, strict: bool = False) -> Corpus:
    """Everything a training run needs from an NSML folder, validated and split."""
    utterances, report = read_train_folder(Path(data_dir), config)
    vocab = load_vocabulary(config, [u.text for u in utterances])
    usable = _screen(utterances, vocab, report, strict)
    train, val = split(usable, config)
    return Corpus(train=train, val=val, vocab=vocab, report=report)


def _screen(utterances: list[Utterance], vocab: Vocabulary, report: ValidationReport, strict: bool) -> list[Utterance]:
    """The utterances the vocabulary covers; raises in strict mode with any problem, or with fewer than 2 left."""
    usable = []
    for utterance in utterances:
        unknown = vocab.unknown(utterance.text)
        if unknown:
            report.add(utterance.name, f"characters outside the vocabulary: {''.join(unknown)!r}")
        else:
            usable.append(utterance)
    report.kept = len(usable)
    if strict and report.problems:
        raise DataError("strict mode: bad input found\n" + report.summary())
    if len(usable) < 2:
        raise DataError("fewer than 2 usable utterances\n" + report.summary())
    return usable


def read_audio_folder(folder: Path) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, str]]]:
    """Read every file of a test folder (for inference); unreadable files come back as problems."""
    readable, problems = [], []
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        try:
            readable.append((path.name, read_pcm(path)))
        except (AudioError, OSError) as error:  # OSError: a file the system refuses to read
            problems.append((path.name, str(error)))
    return readable, problems
