"""KsponSpeech as distributed by AI Hub: its folder layout, its script lists and its transcription conventions.

Layout::

    KsponSpeech_01 … KsponSpeech_05/KsponSpeech_NNNN/KsponSpeech_NNNNNN.pcm   16 kHz mono s16le
                                                     KsponSpeech_NNNNNN.txt   its transcript, CP949
    KsponSpeech_scripts/train.trn, dev.trn, eval_clean.trn, eval_other.trn    lines "path :: text"

When ``KsponSpeech_scripts/train.trn`` is present it is the list (with ``dev.trn``: our own split
makes the validation set); otherwise every ``.pcm`` is paired with the ``.txt`` beside it.

Transcripts mark what was said beyond the words: ``(spelling)/(pronunciation)`` for a dual
transcription such as ``(70%)/(칠십 퍼센트)``; noise tags ``b/`` (breath), ``l/`` (laughter),
``o/`` (another speaker), ``n/`` (noise), ``u/`` (unintelligible); ``word/`` for a filler,
``word+`` for a repeated or broken-off word and ``word*`` for an unclear one. The config key
``text_normalization`` picks what training sees: ``none`` (as written), ``kspon_phonetic`` (the
pronunciation: what the audio says) or ``kspon_spelling`` (the orthography, digits and Latin
letters included). Both drop the noise tags and the filler/repeat/unclear marks and keep the words.
"""

from __future__ import annotations

import re
import typing
import unicodedata
from functools import cached_property
from pathlib import Path

from tune_asr.config import TextNormalization
from tune_asr.data.labels import decode_label_bytes, normalise_text
from tune_asr.data.listing import Entry, Layout, Listing, SourceFile, not_regular, scan_folder, stat_file

NORMALISATIONS = typing.get_args(TextNormalization)
TRAINING_LISTS = ("train.trn", "dev.trn")
TEST_LISTS = ("eval_clean.trn", "eval_other.trn")
SCRIPTS = "KsponSpeech_scripts"
PARTS = re.compile(r"KsponSpeech_0[1-5]")
TRN_SEPARATOR = " :: "

_DUAL = re.compile(r"\(([^()]*)\)/\(([^()]*)\)")
_NOISE_TAG = re.compile(r"(?<!\S)[blonu]/(?=\s|$)")
_MARKS = re.compile(r"[/+*]")


def normalise_transcript(text: str, mode: str) -> str:
    """Apply ``text_normalization`` ``mode`` to a transcript; raises ValueError for a malformed dual transcription."""
    if mode == "none":
        return text
    if mode not in NORMALISATIONS:
        raise ValueError(f"text_normalization must be one of {', '.join(NORMALISATIONS)}, got {mode!r}")
    keep = 2 if mode == "kspon_phonetic" else 1
    pieces = _DUAL.split(text)  # plain, spelling, pronunciation, plain, …
    out = []
    for i, piece in enumerate(pieces):
        kind = i % 3
        if kind == 0:
            plain = _MARKS.sub("", _NOISE_TAG.sub(" ", piece))
            if "(" in plain or ")" in plain:
                raise ValueError(f"unbalanced dual transcription '(spelling)/(pronunciation)' in {text!r}")
            out.append(plain)
        elif kind == keep:
            out.append(_MARKS.sub("", piece) if mode == "kspon_phonetic" else piece)
    return " ".join(unicodedata.normalize("NFC", "".join(out)).split())


class KsponLayout(Layout):
    name = "kspon"

    @classmethod
    def fits(cls, root: Path) -> bool:
        return (root / SCRIPTS / "train.trn").is_file() or any(PARTS.fullmatch(path.name) for path in _dirs(root))

    @cached_property
    def _speaker_dirs(self) -> list[Path]:
        return [session for part in _dirs(self.root) if PARTS.fullmatch(part.name) for session in _dirs(part)]

    @cached_property
    def _files(self) -> list[SourceFile]:
        """Every entry of the session folders: with script lists, only the audio (the lists hold the text)."""
        found = [source for folder in self._speaker_dirs for source in scan_folder(folder, self.root)]
        return [source for source in found if not self._lists or not source.path.endswith(".txt")]

    @cached_property
    def _lists(self) -> list[Path]:
        return [path for name in TRAINING_LISTS if (path := self.root / SCRIPTS / name).is_file()]

    def sources(self) -> list[SourceFile]:
        return [*(stat_file(path, self.root) for path in self._lists), *self._files]

    def listing(self) -> Listing:
        audio = {source.path: source for source in self._files if source.path.endswith(".pcm") or source.kind}
        if self._lists:
            rows, listing = self._from_lists()
        else:
            rows, listing = self._from_text_files()
        seen: set[str] = set()
        for path, text, where in rows:
            name = Path(path).stem
            if name in seen:
                listing.problems.append((name, f"duplicate label ({where})"))
                continue
            seen.add(name)
            source = audio.get(path)
            if source is None:
                listing.problems.append((name, f"audio missing for label ({where})"))
            elif source.kind:
                listing.problems.append((name, not_regular(source.kind)))
            elif not text:
                listing.problems.append((name, f"empty transcript ({where})"))
            else:
                listing.entries.append(Entry(name, self.root / path, text))
        for path in sorted(audio):
            name = Path(path).stem
            if name not in seen:
                kind = audio[path].kind
                listing.problems.append((name, not_regular(kind) if kind else "audio without a label"))
        return listing

    def _from_lists(self) -> tuple[list[tuple[str, str, str]], Listing]:
        rows, problems = [], []
        for path in self._lists:
            found, bad = read_trn(path)
            rows += found
            problems += bad
        return rows, Listing(entries=[], labelled=len(rows), problems=problems)

    def _from_text_files(self) -> tuple[list[tuple[str, str, str]], Listing]:
        """Each .txt names the .pcm beside it (a .pcm without one is reported as audio without a label)."""
        rows, problems = [], []
        for source in self._files:
            if not source.path.endswith(".txt") or source.kind:
                continue
            path = self.root / source.path
            try:
                rows.append((source.path[: -len(".txt")] + ".pcm", normalise_text(decode_label_bytes(path.read_bytes(), path)), source.path))
            except ValueError as error:  # neither UTF-8 nor CP949
                problems.append((path.stem, str(error)))
        return rows, Listing(entries=[], labelled=len(rows), problems=problems)


def read_trn(path: Path) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """A script list's ``(audio path, text, 'list line N')`` rows, and a problem per line that is not ``path :: text``."""
    rows, problems = [], []
    for number, line in enumerate(decode_label_bytes(path.read_bytes(), path).splitlines(), start=1):
        if not line.strip():
            continue
        audio_path, separator, text = line.partition(TRN_SEPARATOR)
        where = f"{path.name} line {number}"
        if separator:
            rows.append((audio_path.strip(), normalise_text(text), where))
        else:
            problems.append((where, f"expected 'path :: text', got {line[:80]!r}"))
    return rows, problems


def _dirs(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []
