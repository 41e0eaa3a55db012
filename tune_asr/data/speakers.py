"""Who speaks each training file: ``DIR/train/train_speaker``, a CSV ``filename,speaker`` (optional).

NSML hands out no speaker list; the demo corpus writes one (its espeak-ng voices) and a team can
write its own. With ``split_by: speaker`` whole speakers are held out for validation, so that
validation CER answers "does it work on a voice it has never heard?".
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tune_asr.data.labels import decode_label_bytes
from tune_asr.data.listing import DataError

SPEAKER_FILE = Path("train") / "train_speaker"
HEADER = ["filename", "speaker"]


def speaker_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / SPEAKER_FILE


def read_speakers(data_dir: Path | str) -> dict[str, str]:
    """File name → speaker; a missing file or a malformed line raises :class:`DataError` naming it."""
    path = speaker_path(data_dir)
    if not path.is_file():
        raise DataError(f"{path}: split_by=speaker needs this file (CSV filename,speaker); the demo corpus writes it")
    reader = csv.reader(io.StringIO(decode_label_bytes(path.read_bytes(), path), newline=""))
    speakers: dict[str, str] = {}
    for record in reader:
        line = reader.line_num
        if not record or (line == 1 and [cell.strip().lower() for cell in record] == HEADER):
            continue
        if len(record) != 2 or not record[0].strip() or not record[1].strip():
            raise DataError(f"{path} line {line}: expected filename,speaker, got {','.join(record)!r}")
        speakers[record[0].strip()] = record[1].strip()
    return speakers


def write_speakers(path: Path, speakers: list[tuple[str, str]]) -> None:
    """Write ``(filename, speaker)`` rows under the header."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(speakers)
