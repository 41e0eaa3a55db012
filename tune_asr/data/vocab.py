"""Output vocabulary in kospeech's CSV format, for syllable or jamo (grapheme) units.

kospeech's ``labels.csv`` is ``id,char,freq`` with ``<pad>``=0, ``<sos>``=1, ``<eos>``=2, then
characters by frequency; ``<blank>`` is appended as the last id for CTC. Grapheme units split each
Hangul syllable into its jamo (Unicode NFD) and compose them back (NFC) before CER is computed, so
the round trip is lossless.
"""

from __future__ import annotations

import csv
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from tune_asr.config import Unit
from tune_asr.data.labels import decode_label_bytes

SPECIALS = ("<pad>", "<sos>", "<eos>")
BLANK = "<blank>"


def to_units(text: str, unit: Unit) -> list[str]:
    """Split text into output units: syllables as they are, or NFD jamo."""
    return list(_unit_string(text, unit))


SEPARATOR = ord("\n")  # between texts in :func:`_all_units`


def _unit_string(text: str, unit: Unit) -> str:
    return unicodedata.normalize("NFD", text) if unit == "grapheme" else text


def _all_units(texts: Iterable[str], unit: Unit) -> str:
    """Every text's units in one string, one normalisation for a whole corpus (10⁵–10⁶ texts).

    Texts are joined by a newline, which no transcript holds (whitespace is collapsed) and which
    keeps NFD from reordering across their boundaries; callers drop it.
    """
    return _unit_string("\n".join(texts), unit)


def _code_points(units: str) -> np.ndarray:
    """One int per character of ``units`` (a C-speed view, no Python loop over a corpus's characters)."""
    return np.frombuffer(units.encode("utf-32-le"), dtype="<u4")


def _unit_counts(texts: Iterable[str], unit: Unit) -> dict[str, int]:
    """How often each unit occurs in ``texts`` (a bincount over code points: 10× a Counter's speed)."""
    counts = np.bincount(_code_points(_all_units(texts, unit)))
    return {chr(code): int(counts[code]) for code in np.flatnonzero(counts) if code != SEPARATOR}


def from_units(units: Iterable[str]) -> str:
    """Join units and recompose jamo into syllables (a no-op for syllable units)."""
    return unicodedata.normalize("NFC", "".join(units))


class Vocabulary:
    """Maps output units to ids and back; ``blank`` is the CTC blank id."""

    def __init__(self, symbols: Sequence[str], unit: Unit, frequencies: Sequence[int] | None = None):
        symbols = [s for s in symbols if s != BLANK]
        if list(symbols[: len(SPECIALS)]) != list(SPECIALS):
            raise ValueError(f"vocabulary must start with {', '.join(SPECIALS)}")
        self.symbols = [*symbols, BLANK]
        self.unit = unit
        self.frequencies = list(frequencies or [0] * len(symbols)) + [0]
        self.index = {symbol: i for i, symbol in enumerate(self.symbols)}
        if len(self.index) != len(self.symbols):
            raise ValueError("vocabulary holds a symbol twice")

    @property
    def blank(self) -> int:
        return len(self.symbols) - 1

    def __len__(self) -> int:
        return len(self.symbols)

    @classmethod
    def build(cls, texts: Iterable[str], unit: Unit) -> "Vocabulary":
        """Build from training transcripts: specials, then units by falling frequency."""
        ordered = sorted(_unit_counts(texts, unit).items(), key=lambda item: (-item[1], item[0]))
        return cls([*SPECIALS, *(u for u, _ in ordered)], unit, [0, 0, 0, *(n for _, n in ordered)])

    @classmethod
    def read_csv(cls, path: Path, unit: Unit) -> "Vocabulary":
        """Read kospeech's ``id,char,freq`` file; for grapheme units, its syllables become jamo."""
        text = decode_label_bytes(Path(path).read_bytes(), Path(path))
        rows = list(csv.DictReader(text.splitlines()))
        if not rows or not {"id", "char"} <= set(rows[0]):
            raise ValueError(f"{path}: expected a kospeech vocabulary with header 'id,char,freq'")
        for line, row in enumerate(rows, start=2):  # line 1 is the header
            try:
                row["id"], row["freq"] = int(row["id"]), int(row.get("freq") or 0)
            except (TypeError, ValueError):
                raise ValueError(f"{path} line {line}: id and freq must be integers, got {row!r}") from None
        rows.sort(key=lambda row: row["id"])
        chars = [row["char"] for row in rows]
        freqs = [row["freq"] for row in rows]
        if unit == "character":
            try:
                return cls(chars, unit, freqs)
            except ValueError as error:
                raise ValueError(f"{path}: {error}") from None
        jamo_counts: Counter[str] = Counter()
        for char, freq in zip(chars[len(SPECIALS) :], freqs[len(SPECIALS) :]):
            for jamo in to_units(char, "grapheme"):
                jamo_counts[jamo] += freq
        ordered = sorted(jamo_counts.items(), key=lambda item: (-item[1], item[0]))
        return cls([*SPECIALS, *(j for j, _ in ordered)], unit, [0, 0, 0, *(n for _, n in ordered)])

    def write_csv(self, path: Path) -> None:
        """Write in kospeech's format (without ``<blank>``, which readers append)."""
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "char", "freq"])
            for i, (symbol, freq) in enumerate(zip(self.symbols[:-1], self.frequencies[:-1])):
                writer.writerow([i, symbol, freq])

    def covers(self, texts: Iterable[str]) -> bool:
        """True when every text can be expressed: one check for a whole corpus instead of one per text."""
        return _unit_counts(texts, self.unit).keys() <= self.index.keys()

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` that this vocabulary cannot express, in order of appearance."""
        missing = set(to_units(text, self.unit)).difference(self.index)
        if not missing:
            return []
        return [c for c in dict.fromkeys(text) if missing & set(to_units(c, self.unit))]

    def encode(self, text: str) -> list[int]:
        return [self.index[u] for u in to_units(text, self.unit)]

    def encode_all(self, texts: Sequence[str]) -> list[np.ndarray]:
        """:meth:`encode` of every text at once (int64 ids), in one pass over a corpus's characters;
        raises KeyError for a unit outside the vocabulary, as :meth:`encode` does."""
        codes = _code_points(_all_units(texts, self.unit))
        lookup = np.full(max(int(codes.max(initial=0)), SEPARATOR) + 1, -1, dtype=np.int64)
        for symbol, i in self.index.items():
            if len(symbol) == 1 and ord(symbol) < len(lookup):
                lookup[ord(symbol)] = i
        ids = lookup[codes]
        unknown = (ids < 0) & (codes != SEPARATOR)
        if unknown.any():
            raise KeyError(chr(codes[int(np.argmax(unknown))]))
        if not texts:
            return []
        breaks = np.flatnonzero(codes == SEPARATOR).tolist()
        return [ids[start:end] for start, end in zip([0, *(b + 1 for b in breaks)], [*breaks, len(ids)])]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids to text, skipping specials and blanks, composing jamo back into syllables."""
        first_real = len(SPECIALS)
        return from_units(self.symbols[i] for i in ids if first_real <= i < self.blank)
