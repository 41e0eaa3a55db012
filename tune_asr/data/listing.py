"""What a corpus layout yields before any audio is read: the labelled audio files and the problems found.

A layout (NSML's ``train/train_label`` + ``train/train_data``, KsponSpeech as distributed) lists
its utterances and its source files; everything after that (probing, decoding, the cache, the
checks on length and vocabulary) is the same for every layout.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple


class DataError(ValueError):
    """Bad data that stops a run: no known layout, strict mode with problems, or nothing usable left."""


@dataclass(frozen=True)
class Entry:
    """One labelled audio file."""

    name: str  # unique within the corpus: what reports and splits refer to
    path: Path
    text: str  # as labelled (NFC, whitespace collapsed); layout-specific normalisation comes later


class SourceFile(NamedTuple):
    """A file whose change changes the corpus; ``kind`` is set for entries that are not regular files.

    A tuple, not a dataclass: a corpus has up to a million, listed at every load.
    """

    path: str  # relative to the data folder
    size: int
    mtime_ns: int
    kind: str = ""


@dataclass
class Listing:
    entries: list[Entry]
    labelled: int  # label lines read, usable or not
    problems: list[tuple[str, str]] = field(default_factory=list)  # (name, reason), as the report lists them


class Layout(ABC):
    """A corpus layout rooted at a data folder."""

    name: str

    def __init__(self, root: Path):
        self.root = root

    @abstractmethod
    def sources(self) -> list[SourceFile]:
        """Every label, transcript and audio file (and odd entry) that the corpus is made from: its fingerprint."""

    @abstractmethod
    def listing(self) -> Listing:
        """The labelled audio files, and a problem for every label or file that cannot be used."""


def irregular_kind(entry: os.DirEntry) -> str:
    """'' for a regular file (or a link to one); otherwise what the entry is, for the report."""
    if entry.is_file():
        return ""
    if entry.is_dir():
        return "a folder"
    if entry.is_symlink():
        return "a dangling symbolic link" if not os.path.exists(entry.path) else "a link to something not a file"
    return "a special file"


def scan_folder(folder: Path, relative_to: Path) -> list[SourceFile]:
    """Stat every entry of ``folder`` (not recursing), sorted by name; odd entries carry their kind."""
    prefix = os.path.relpath(folder, relative_to)
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            kind = irregular_kind(entry)
            path = f"{prefix}/{entry.name}"
            if kind:
                found.append(SourceFile(path, -1, -1, kind))
            else:
                stat = entry.stat()
                found.append(SourceFile(path, stat.st_size, stat.st_mtime_ns))
    return sorted(found, key=lambda source: source.path)


def stat_file(path: Path, relative_to: Path) -> SourceFile:
    stat = path.stat()
    return SourceFile(os.path.relpath(path, relative_to), stat.st_size, stat.st_mtime_ns)


def not_regular(kind: str) -> str:
    return f"not a regular file ({kind})"
