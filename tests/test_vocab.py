from pathlib import Path

import pytest

from tests.helpers import KOSPEECH_LABELS
from tune_asr.data.vocab import BLANK, Vocabulary, from_units, to_units



def test_reads_the_competition_vocabulary_with_blank_appended() -> None:
    vocab = Vocabulary.read_csv(KOSPEECH_LABELS, "character")
    assert len(vocab) == 2001
    assert vocab.symbols[:4] == ["<pad>", "<sos>", "<eos>", " "]
    assert vocab.blank == 2000 and vocab.symbols[-1] == BLANK
    assert vocab.unknown("숫자 6과 7") == ["6", "7"]


@pytest.mark.parametrize("unit", ["character", "grapheme"])
def test_encode_decode_round_trip(unit: str) -> None:
    text = "조수석 문 다시 한번 열어 줘."
    vocab = Vocabulary.build([text, "갓길로 설정?"], unit)
    assert vocab.decode(vocab.encode(text)) == text


@pytest.mark.parametrize("unit", ["character", "grapheme"])
def test_encoding_a_corpus_at_once_matches_one_text_at_a_time(unit: str) -> None:
    texts = ["조수석 문 다시 한번 열어 줘.", "", "갓길로 설정?", "한"]
    vocab = Vocabulary.build(texts, unit)
    assert [list(ids) for ids in vocab.encode_all(texts)] == [vocab.encode(text) for text in texts]
    assert vocab.encode_all([]) == []
    with pytest.raises(KeyError, match="Z"):
        vocab.encode_all(["한", "한Z"])


def test_frequencies_order_the_built_vocabulary() -> None:
    vocab = Vocabulary.build(["가가나", "나다가"], "character")
    assert vocab.symbols[3:6] == ["가", "나", "다"] and vocab.frequencies[3:6] == [3, 2, 1]
    assert vocab.covers(["가다"]) and not vocab.covers(["가라"])


def test_grapheme_units_are_jamo_and_compose_back_losslessly() -> None:
    units = to_units("한글", "grapheme")
    assert len(units) == 6
    assert from_units(units) == "한글"


def test_grapheme_vocabulary_from_the_syllable_file() -> None:
    vocab = Vocabulary.read_csv(KOSPEECH_LABELS, "grapheme")
    assert len(vocab) < 200
    assert vocab.decode(vocab.encode("갓길로 설정.")) == "갓길로 설정."


def test_write_and_read_back(tmp_path: Path) -> None:
    vocab = Vocabulary.build(["가나다 가"], "character")
    vocab.write_csv(tmp_path / "labels.csv")
    again = Vocabulary.read_csv(tmp_path / "labels.csv", "character")
    assert again.symbols == vocab.symbols and again.frequencies == vocab.frequencies


def test_vocabulary_must_start_with_specials() -> None:
    with pytest.raises(ValueError, match="<pad>"):
        Vocabulary(["a", "b"], "character")


def test_bad_vocabulary_rows_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("id,char,freq\n0,<pad>,0\n1,<sos>,0\n2,<eos>,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels.csv line 4: id and freq must be integers"):
        Vocabulary.read_csv(path, "character")
    path.write_text("id,char,freq\n0,<pad>,0\n1,<sos>,0\n2,<eos>,0\n3,가,1\n4,가,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels.csv: vocabulary holds a symbol twice"):
        Vocabulary.read_csv(path, "character")
