"""NSML's layout: ``DIR/train/train_label`` (CSV ``filename,text``) and one audio file per row in ``DIR/train/train_data``."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from tune_asr.data.labels import read_labels
from tune_asr.data.listing import Entry, Layout, Listing, SourceFile, not_regular, scan_folder, stat_file


class NsmlLayout(Layout):
    name = "nsml"

    def __init__(self, root: Path):
        super().__init__(root)
        self.label_path = root / "train" / "train_label"
        self.audio_dir = root / "train" / "train_data"

    @classmethod
    def fits(cls, root: Path) -> bool:
        return (root / "train" / "train_label").is_file() and (root / "train" / "train_data").is_dir()

    @cached_property
    def _audio(self) -> list[SourceFile]:
        return scan_folder(self.audio_dir, self.root)

    def sources(self) -> list[SourceFile]:
        return [stat_file(self.label_path, self.root), *self._audio]

    def listing(self) -> Listing:
        """Pair label rows with files: duplicates, missing or odd files, empty transcripts and orphans are problems."""
        rows, label_problems = read_labels(self.label_path)
        listing = Listing(entries=[], labelled=len(rows))
        listing.problems += [(f"train_label line {problem.line}", problem.reason) for problem in label_problems]
        files = {Path(source.path).name: source for source in self._audio}
        seen: set[str] = set()
        for row in rows:
            if row.filename in seen:
                listing.problems.append((row.filename, f"duplicate label (train_label line {row.line})"))
                continue
            seen.add(row.filename)
            source = files.get(row.filename)
            if source is None:
                listing.problems.append((row.filename, f"audio missing for label (train_label line {row.line})"))
            elif source.kind:
                listing.problems.append((row.filename, not_regular(source.kind)))
            elif not row.text:
                listing.problems.append((row.filename, f"empty transcript (train_label line {row.line})"))
            else:
                listing.entries.append(Entry(row.filename, self.audio_dir / row.filename, row.text))
        for name in sorted(set(files) - seen):
            kind = files[name].kind
            listing.problems.append((name, not_regular(kind) if kind else "audio without a label"))
        return listing
