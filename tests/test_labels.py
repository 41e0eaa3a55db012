from pathlib import Path

import pytest

from tune_asr.data.labels import read_labels


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "train_label"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "raw",
    [
        "filename,text\nidx_0,창문 열어 줘.\nidx_1,\"네, 좋아요.\"\n".encode("utf-8"),
        "\ufefffilename,text\r\nidx_0,창문 열어 줘.\r\nidx_1,\"네, 좋아요.\"\r\n".encode("utf-8"),
        "idx_0,창문 열어 줘.\nidx_1,\"네, 좋아요.\"\n".encode("utf-8"),
        "filename,text\nidx_0,창문 열어 줘.\nidx_1,\"네, 좋아요.\"\n".encode("cp949"),
        "filename,text,speaker\nidx_0,창문 열어 줘.,a\nidx_1,\"네, 좋아요.\",b\n".encode("utf-8"),
    ],
    ids=["utf8", "bom-crlf", "no-header", "cp949", "extra-columns"],
)
def test_label_csv_variants_read_the_same(tmp_path: Path, raw: bytes) -> None:
    rows, problems = read_labels(write(tmp_path, raw))
    assert problems == []
    assert [(r.filename, r.text) for r in rows] == [("idx_0", "창문 열어 줘."), ("idx_1", "네, 좋아요.")]


def test_row_without_text_column_is_a_problem_with_its_line(tmp_path: Path) -> None:
    rows, problems = read_labels(write(tmp_path, "filename,text\nidx_0,가\nidx_1\n".encode()))
    assert [r.filename for r in rows] == ["idx_0"]
    assert [p.line for p in problems] == [3]


def test_undecodable_label_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, b"filename,text\nidx_0,\xff\xfe\xff\n")
    with pytest.raises(ValueError, match="train_label"):
        read_labels(path)


def test_unclosed_quote_past_the_csv_field_limit_names_file_and_line(tmp_path: Path) -> None:
    raw = ("filename,text\nidx_0,가\nidx_1,\"나" + "다" * 200_000 + "\n").encode()
    with pytest.raises(ValueError, match=r"train_label line \d+: not readable as CSV"):
        read_labels(write(tmp_path, raw))
