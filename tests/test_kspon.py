"""KsponSpeech as distributed: its transcription marks, its layout taken directly as --data, and the import by hard links."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tune_asr.config import TrainConfig
from tune_asr.data.corpus import check_corpus, load_corpus
from tune_asr.data.kspon import normalise_transcript
from tune_asr.data.kspon_import import main as import_main

RAW = "b/ 아/ 모+ 몬 소리야 (70%)/(칠 십 퍼센트) 확률이라니 n/"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("none", RAW),
        ("kspon_phonetic", "아 모 몬 소리야 칠 십 퍼센트 확률이라니"),
        ("kspon_spelling", "아 모 몬 소리야 70% 확률이라니"),
    ],
)
def test_dual_transcription_and_marks(mode: str, expected: str) -> None:
    assert normalise_transcript(RAW, mode) == expected


def test_every_noise_tag_and_mark_goes_and_the_words_stay() -> None:
    text = "l/ 그* 그+ 그래서 o/ 음/ u/ (SNS)/(에스엔에스)에 올렸어"
    assert normalise_transcript(text, "kspon_phonetic") == "그 그 그래서 음 에스엔에스에 올렸어"
    assert normalise_transcript(text, "kspon_spelling") == "그 그 그래서 음 SNS에 올렸어"
    assert normalise_transcript("b/ n/ l/", "kspon_phonetic") == ""  # noise only: nothing to train on


def test_spelling_keeps_a_slash_of_its_own() -> None:
    assert normalise_transcript("(1/2)/(이분의 일) 컵", "kspon_spelling") == "1/2 컵"


@pytest.mark.parametrize("text", ["(70%)/(칠십 퍼센트 확률", "70%)/(칠십) 확률"])
def test_malformed_dual_transcription_is_an_error(text: str) -> None:
    with pytest.raises(ValueError, match="unbalanced dual transcription"):
        normalise_transcript(text, "kspon_phonetic")


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(ValueError, match="text_normalization must be one of"):
        normalise_transcript("아", "phonetic")


# ---- the layout -----------------------------------------------------------------------------------------

TRANSCRIPTS = ["b/ 창문 열어 줘.", "에어컨 (2)/(이) 도 올려 줘.", "라디오 꺼+ 꺼 줘.", "문 닫아 줘. n/", "집으로 가자.", "음/ 음악 틀어 줘."] * 2
TRANSCRIPTS[8] = "(3)/(세 시에 깨워 줘"  # a dual transcription left open
TRANSCRIPTS[9] = "b/ n/"  # noise only


def utterance_path(i: int) -> str:
    return f"KsponSpeech_0{1 + i // 6}/KsponSpeech_{1 + i // 3:04d}/KsponSpeech_{i + 1:06d}.pcm"


def write_kspon(root: Path, with_scripts: bool) -> Path:
    """12 utterances over two parts; with scripts: train.trn (CP949, one malformed line) and dev.trn."""
    rng = np.random.default_rng(0)
    for i, text in enumerate(TRANSCRIPTS):
        audio = root / utterance_path(i)
        audio.parent.mkdir(parents=True, exist_ok=True)
        (rng.standard_normal(9600) * 3000).astype("<i2").tofile(audio)
        audio.with_suffix(".txt").write_bytes(text.encode("cp949"))
    if with_scripts:
        scripts = root / "KsponSpeech_scripts"
        scripts.mkdir()
        train = [f"{utterance_path(i)} :: {TRANSCRIPTS[i]}" for i in range(10)] + ["this line has no separator"]
        (scripts / "train.trn").write_bytes("\n".join(train).encode("cp949"))
        (scripts / "dev.trn").write_text("\n".join(f"{utterance_path(i)} :: {TRANSCRIPTS[i]}" for i in (10, 11)), encoding="utf-8")
    return root


@dataclass(frozen=True)
class KsponConfig(TrainConfig):
    """TrainConfig with the text_normalization field it is to gain (until then corpus reads it with a default)."""

    text_normalization: str = "kspon_phonetic"


CONFIG = KsponConfig(max_seconds=5.0)


@pytest.mark.parametrize("with_scripts", [True, False])
def test_kspon_folder_is_taken_directly_as_data(tmp_path: Path, with_scripts: bool) -> None:
    root = write_kspon(tmp_path / "kspon", with_scripts)
    (root / utterance_path(4)).unlink()  # a transcript whose audio is gone
    corpus = load_corpus(root, CONFIG)
    texts = {u.name: u.text for u in corpus.train + corpus.val}
    assert texts["KsponSpeech_000001"] == "창문 열어 줘."
    assert texts["KsponSpeech_000002"] == "에어컨 이 도 올려 줘."
    assert texts["KsponSpeech_000006"] == "음 음악 틀어 줘."
    problems = dict(corpus.report.problems)
    assert problems["KsponSpeech_000005"].startswith("audio missing for label")
    assert problems["KsponSpeech_000009"].startswith("malformed transcript: unbalanced dual transcription")
    assert problems["KsponSpeech_000010"] == "empty transcript after text_normalization=kspon_phonetic"
    if with_scripts:
        assert problems["train.trn line 11"] == "expected 'path :: text', got 'this line has no separator'"
    assert len(texts) == 9
    assert sorted(check_corpus(root, CONFIG).problems) == sorted(corpus.report.problems)


def test_import_writes_the_nsml_layout_by_hard_links(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = write_kspon(tmp_path / "kspon", with_scripts=True)
    eval_audio = source / "KsponSpeech_eval" / "eval_clean" / "KsponSpeech_E00001.pcm"
    eval_audio.parent.mkdir(parents=True)
    np.ones(8000, dtype="<i2").tofile(eval_audio)
    (source / "KsponSpeech_scripts" / "eval_clean.trn").write_text(
        "KsponSpeech_eval/eval_clean/KsponSpeech_E00001.pcm :: (3)/(세) 시에 깨워 줘\n"
        "KsponSpeech_eval/eval_clean/KsponSpeech_E00002.pcm :: 없는 파일\n", encoding="utf-8")
    out = tmp_path / "nsml"
    assert import_main([str(source), str(out)]) == 0
    linked = out / "train" / "train_data" / "KsponSpeech_000001"
    assert linked.stat().st_ino == (source / utterance_path(0)).stat().st_ino
    assert (out / "eval_clean" / "test" / "test_data" / "KsponSpeech_E00001").stat().st_nlink == 2
    assert "KsponSpeech_E00002: audio missing for label (eval_clean.trn line 2)" in (out / "import_report.txt").read_text(encoding="utf-8")
    imported = load_corpus(out, CONFIG)
    direct = load_corpus(source, CONFIG)
    assert sorted((u.name, u.text) for u in imported.train + imported.val) == sorted((u.name, u.text) for u in direct.train + direct.val)
    assert "train: 12 utterances linked of 12 labels; 1 skipped" in capsys.readouterr().out


@pytest.mark.parametrize("problem", ["not-kspon", "out-exists"])
def test_import_refuses_bad_input_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, problem: str) -> None:
    source = write_kspon(tmp_path / "kspon", with_scripts=False) if problem == "out-exists" else tmp_path
    out = tmp_path / "out"
    out.mkdir()
    assert import_main([str(source), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert not list(out.iterdir())
