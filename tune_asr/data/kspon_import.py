"""Turn KsponSpeech as distributed into NSML's layout by hard links: ``python -m tune_asr.data.kspon_import KSPON OUT``.

Writes ``OUT/train/train_data/KsponSpeech_NNNNNN`` (hard links to the .pcm files: nothing is
copied, so OUT must be on the corpus's file system), ``OUT/train/train_label`` (UTF-8 CSV, the
transcripts as written: choose ``text_normalization`` when training) and ``OUT/import_report.txt``.
When ``KsponSpeech_scripts/eval_clean.trn`` or ``eval_other.trn`` is present and its audio is
there, each becomes a test set in NSML's layout, ``OUT/eval_clean/test/{test_data,test_label}``,
which ``python -m tune_asr.export.replay PACKAGE OUT/eval_clean`` scores on its own.
OUT is built under a temporary name and renamed when complete. Bad input: one line, exit code 2.
"""

from __future__ import annotations

import argparse
import csv
import errno
import os
import shutil
import sys
from pathlib import Path

from tune_asr.data.kspon import SCRIPTS, TEST_LISTS, KsponLayout, read_trn
from tune_asr.data.listing import Entry, Listing

REPORT_FILE = "import_report.txt"


class KsponImportError(ValueError):
    """Input the import cannot use; the message names it."""


def import_kspon(source: Path, out: Path) -> str:
    """Link ``source`` (KsponSpeech as distributed) into NSML's layout at ``out``; return the report."""
    if not KsponLayout.fits(source):
        raise KsponImportError(f"{source}: not KsponSpeech as distributed (no KsponSpeech_01 … _05, no {SCRIPTS}/train.trn)")
    if out.exists():
        raise KsponImportError(f"{out} already exists: the import writes a new folder")
    building = out.with_name(f".{out.name}.importing-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    try:
        report = _write_set(KsponLayout(source).listing(), building / "train", "train_data", "train_label", "train")
        for name in TEST_LISTS:
            listing = _test_listing(source, source / SCRIPTS / name)
            if listing is not None:
                report += "\n" + _write_set(listing, building / name.removesuffix(".trn") / "test", "test_data", "test_label", name)
        (building / REPORT_FILE).write_text(report + "\n", encoding="utf-8")
        os.rename(building, out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return report


def _test_listing(source: Path, path: Path) -> Listing | None:
    """A named test set from its script list, or None when the list or all of its audio is absent."""
    if not path.is_file():
        return None
    rows, problems = read_trn(path)
    listing = Listing(entries=[], labelled=len(rows), problems=problems)
    for audio_path, text, where in rows:
        name, audio = Path(audio_path).stem, source / audio_path
        if audio.is_file():
            listing.entries.append(Entry(name, audio, text))
        else:
            listing.problems.append((name, f"audio missing for label ({where})"))
    return listing if listing.entries else None


def _write_set(listing: Listing, folder: Path, data_name: str, label_name: str, title: str) -> str:
    data = folder / data_name
    data.mkdir(parents=True)
    with open(folder / label_name, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "text"])
        for entry in listing.entries:
            try:
                os.link(entry.path, data / entry.name)
            except OSError as error:
                if error.errno == errno.EXDEV:
                    raise KsponImportError(f"the output must be on the file system of {entry.path} (hard links; nothing is copied)") from None
                raise KsponImportError(f"{entry.path}: cannot link ({error.strerror})") from None
            writer.writerow([entry.name, entry.text])
    lines = [f"{title}: {len(listing.entries)} utterances linked of {listing.labelled} labels; {len(listing.problems)} skipped"]
    return "\n".join(lines + [f"  skipped {name}: {reason}" for name, reason in listing.problems])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tune_asr.data.kspon_import", description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="KsponSpeech as distributed (KsponSpeech_01 … _05, KsponSpeech_scripts)")
    parser.add_argument("out", type=Path, help="a new folder for the NSML layout, on the same file system")
    args = parser.parse_args(argv)
    try:
        report = import_kspon(args.source, args.out)
    except KsponImportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report)
    print(f"written: {args.out} (report: {args.out / REPORT_FILE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
