"""Load a training corpus (NSML or KsponSpeech layout) into validated, split utterances.

A bad file never crashes a run and never silently changes the data: every skipped file is listed
with its reason, and ``strict`` turns the list into an error instead. ``load_corpus`` reads the
audio from the corpus cache (:mod:`tune_asr.data.cache`), so utterances hold views into a shared
memory map; ``check_corpus`` reads only headers and file sizes.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tune_asr.config import TrainConfig
from tune_asr.data.audio import AudioError, duration_seconds, probe, read_pcm
from tune_asr.data.cache import load_cache, open_verified
from tune_asr.data.kspon import normalise_transcript
from tune_asr.data.layouts import detect_layout
from tune_asr.data.listing import DataError
from tune_asr.data.speakers import read_speakers, speaker_path
from tune_asr.data.vocab import Vocabulary

__all__ = ["Corpus", "DataError", "Utterance", "ValidationReport", "check_corpus", "load_corpus"]

NO_SAMPLES = np.zeros(0, dtype="<i2")  # what utterances checked from headers alone hold (check_corpus)


@dataclass(frozen=True)
class Utterance:
    name: str
    samples: np.ndarray  # int16, 16 kHz mono (a read-only view into the corpus cache)
    text: str

    @property
    def seconds(self) -> float:
        return duration_seconds(self.samples)


@dataclass
class ValidationReport:
    """What was read, what was skipped and why (one entry per file or label line), and how the audio was read."""

    source: Path
    labelled: int = 0
    kept: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, reason: str) -> None:
        self.problems.append((name, reason))

    def summary(self) -> str:
        lines = [f"{self.source}: {self.kept} utterances kept of {self.labelled} labels; {len(self.problems)} skipped"]
        lines += [f"  {note}" for note in self.notes]
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


def _keep(name: str, seconds: float, text: str, config: TrainConfig, report: ValidationReport) -> str | None:
    """The utterance's training text, or None (with the reason reported) when its length or transcript rules it out."""
    if seconds < config.min_seconds:
        report.add(name, f"too short: {seconds:.2f} s < min_seconds={config.min_seconds}")
        return None
    if seconds > config.max_seconds:
        report.add(name, f"too long: {seconds:.1f} s > max_seconds={config.max_seconds}")
        return None
    mode = config.text_normalization
    try:
        normalised = normalise_transcript(text, mode)
    except ValueError as error:
        report.add(name, f"malformed transcript: {error}")
        return None
    if not normalised:
        report.add(name, f"empty transcript after text_normalization={mode}")
        return None
    return normalised


def load_vocabulary(config: TrainConfig, texts: list[str]) -> Vocabulary:
    if config.vocab_path:
        return Vocabulary.read_csv(Path(config.vocab_path), config.unit)
    return Vocabulary.build(texts, config.unit)


def split(utterances: list[Utterance], config: TrainConfig, speakers: dict[str, str] | None = None) -> tuple[list[Utterance], list[Utterance]]:
    """Seeded split into training and validation, by ``config.split_by``.

    ``text`` (default): a share of the distinct sentences, so validation sentences are unseen;
    ``file``: a share of the files; ``speaker``: a share of the speakers (``speakers``: file name →
    speaker) and their every file, with training files that speak a validation sentence left out,
    so validation has unseen voices saying unseen sentences.
    """
    rng = random.Random(config.seed)
    if config.split_by == "file":
        keys = sorted(u.name for u in utterances)
        key_of = {u.name: u.name for u in utterances}
    elif config.split_by == "speaker":
        assert speakers is not None, "split_by=speaker needs the speakers"
        key_of = {u.name: speakers[u.name] for u in utterances}
        keys = sorted(set(key_of.values()))
        if len(keys) < 2:
            raise DataError(f"split_by=speaker needs at least 2 speakers, found {len(keys)}")
    else:
        keys = sorted({u.text for u in utterances})
        key_of = {u.name: u.text for u in utterances}
    rng.shuffle(keys)
    val_keys = set(keys[: min(len(keys) - 1, max(1, round(len(keys) * config.val_fraction)))])
    val = [u for u in utterances if key_of[u.name] in val_keys]
    val_texts = {u.text for u in val} if config.split_by == "speaker" else set()
    return [u for u in utterances if key_of[u.name] not in val_keys and u.text not in val_texts], val


def check_corpus(data_dir: Path | str, config: TrainConfig, strict: bool = False) -> ValidationReport:
    """:func:`load_corpus`'s validation from headers and file sizes alone (no audio decoded, no cache); raises as it does."""
    listing = detect_layout(Path(data_dir)).listing()
    report = ValidationReport(source=Path(data_dir), labelled=listing.labelled, problems=list(listing.problems))
    utterances = []
    for entry in listing.entries:
        try:
            seconds = probe(entry.path).seconds
        except (AudioError, OSError) as error:  # OSError: a file the system refuses to read
            report.add(entry.name, f"bad audio: {error}")
            continue
        text = _keep(entry.name, seconds, entry.text, config, report)
        if text is not None:
            utterances.append(Utterance(entry.name, NO_SAMPLES, text))
    kept, speakers = _with_speakers(data_dir, utterances, config, report)
    _split_noted(_screen(kept, load_vocabulary(config, [u.text for u in kept]), config, report, strict), config, speakers, report)
    return report


def load_corpus(data_dir: Path | str, config: TrainConfig, strict: bool = False,
                verified_cache: Path | str | None = None) -> Corpus:
    """Everything a training run needs from a data folder, validated and split; the audio is mapped from the cache.

    ``verified_cache``: the cache the search driver found up to date for this data, used as it is
    when still there (a trial's start-up then does not grow with the number of files).
    """
    cached = open_verified(Path(verified_cache), config) if verified_cache else None
    if cached is not None:
        note = f"corpus cache {verified_cache}: up to date when the search started"
    else:
        info, cached = load_cache(data_dir, config, decode=read_pcm)
        note = info.summary()
    report = ValidationReport(source=Path(data_dir), labelled=cached.labelled, problems=list(cached.problems), notes=[note])
    utterances, audio = [], cached.audio
    # plain ints once for the whole index: numpy scalars per utterance cost more than the rest of the loop
    rows = zip(cached.names, cached.texts, cached.seconds.tolist(), cached.offsets.tolist(), cached.lengths.tolist())
    for name, source_text, seconds, offset, length in rows:
        text = _keep(name, seconds, source_text, config, report)
        if text is not None:
            utterances.append(Utterance(name, audio[offset : offset + length], text))
    kept, speakers = _with_speakers(data_dir, utterances, config, report)
    vocab = load_vocabulary(config, [u.text for u in kept])
    usable = _screen(kept, vocab, config, report, strict)
    train, val = _split_noted(usable, config, speakers, report)
    return Corpus(train=train, val=val, vocab=vocab, report=report)


def _split_noted(usable: list[Utterance], config: TrainConfig, speakers: dict[str, str] | None,
                 report: ValidationReport) -> tuple[list[Utterance], list[Utterance]]:
    """:func:`split`, with the held-out speakers noted in the report (the driver's data check prints it)."""
    train, val = split(usable, config, speakers)
    if speakers is not None:
        held_out = sorted({speakers[u.name] for u in val})
        dropped = len(usable) - len(train) - len(val)
        report.notes.append(f"validation: speakers {', '.join(held_out)} held out ({len(val)} utterances); "
                            f"{dropped} training utterances left out that speak a validation sentence")
    return train, val


def _with_speakers(data_dir: Path | str, utterances: list[Utterance], config: TrainConfig,
                   report: ValidationReport) -> tuple[list[Utterance], dict[str, str] | None]:
    """The utterances to use and, with ``split_by: speaker``, each file's speaker (else None); files
    the speaker list lacks are reported and left out."""
    if config.split_by != "speaker":
        return utterances, None
    speakers = read_speakers(data_dir)
    for utterance in utterances:
        if utterance.name not in speakers:
            report.add(utterance.name, f"no speaker in {speaker_path(data_dir)}")
    return [u for u in utterances if u.name in speakers], speakers


def _screen(utterances: list[Utterance], vocab: Vocabulary, config: TrainConfig, report: ValidationReport,
            strict: bool) -> list[Utterance]:
    """The utterances the vocabulary covers; raises in strict mode with any problem, or with fewer than 2 left."""
    # a vocabulary built from these texts covers them all; a given one (vocab_path) usually does
    if not config.vocab_path or vocab.covers(u.text for u in utterances):
        usable = list(utterances)
    else:
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
