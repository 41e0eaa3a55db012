"""Read NSML label CSVs (``filename,text``) in the variants seen in the wild.

Handles: with or without a header, UTF-8 with or without BOM, CP949 (older Korean Windows tools),
CRLF line ends, quoted text holding commas, and extra columns (ignored). Rows that cannot be used
are returned as problems naming the line, never dropped silently.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ENCODINGS = ("utf-8-sig", "cp949")


@dataclass(frozen=True)
class LabelRow:
    filename: str
    text: str
    line: int  # 1-based line in the label file, for error messages


@dataclass(frozen=True)
class LabelProblem:
    line: int
    reason: str


def normalise_text(text: str) -> str:
    """NFC-compose and collapse whitespace so that the same sentence always has one spelling."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def decode_label_bytes(raw: bytes, path: Path) -> str:
    """Decode as UTF-8 (BOM or not), else CP949; fail naming the file when neither fits."""
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError(f"{path}: label file is neither UTF-8 nor CP949 text")


def read_labels(path: Path) -> tuple[list[LabelRow], list[LabelProblem]]:
    """Return the usable rows of a label CSV and a problem for every row that is not usable."""
    text = decode_label_bytes(path.read_bytes(), path)
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[LabelRow] = []
    problems: list[LabelProblem] = []
    try:
        for index, record in enumerate(reader):
            line = reader.line_num
            if not record or all(not cell.strip() for cell in record):
                continue
            if index == 0 and [cell.strip().lower() for cell in record[:2]] == ["filename", "text"]:
                continue
            if len(record) < 2:
                problems.append(LabelProblem(line, f"expected 'filename,text', got {record!r}"))
                continue
            filename = record[0].strip()
            rows.append(LabelRow(filename=filename, text=normalise_text(record[1]), line=line))
    except csv.Error as error:  # e.g. an unclosed quote that swallows the rest of the file
        raise ValueError(f"{path} line {reader.line_num}: not readable as CSV ({error})") from None
    return rows, problems

