import math

import pytest
import torch

from tune_asr.data.vocab import Vocabulary
from tune_asr.decoding import greedy_decode, greedy_ids
from tune_asr.metrics import cer, wer


def test_cer_ignores_spaces_and_sums_over_the_set() -> None:
    assert cer(["가 나 다"], ["가나다"]) == 0.0
    # 1 substitution over 3 characters + 1 deletion over 2 characters = 2 / 5
    assert math.isclose(cer(["가나다", "라마"], ["가너다", "라"]), 2 / 5)


def test_wer_counts_words() -> None:
    assert math.isclose(wer(["창문 열어 줘"], ["창문 닫아 줘"]), 1 / 3)


def test_mismatched_or_empty_inputs_raise() -> None:
    with pytest.raises(ValueError):
        cer(["a"], [])
    with pytest.raises(ValueError):
        cer([""], [""])


def one_hot_path(path: list[int], vocab_size: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(path), vocab_size).float().log_softmax(-1)[None]


def test_greedy_decoding_collapses_repeats_before_removing_blanks() -> None:
    vocab = Vocabulary.build(["가나"], "character")  # <pad> <sos> <eos> 가 나 <blank>
    b, ga, na = vocab.blank, vocab.index["가"], vocab.index["나"]
    log_probs = one_hot_path([ga, ga, b, ga, na, na, b, b], len(vocab))
    assert greedy_decode(log_probs, torch.tensor([8]), vocab) == ["가가나"]


def test_greedy_decoding_stops_at_each_utterance_length() -> None:
    path = [3, 4, 3, 4]
    log_probs = one_hot_path(path, 6).repeat(2, 1, 1)
    assert greedy_ids(log_probs, torch.tensor([4, 2]), blank=5) == [[3, 4, 3, 4], [3, 4]]


def test_all_blank_output_decodes_to_empty_text() -> None:
    vocab = Vocabulary.build(["가"], "character")
    log_probs = one_hot_path([vocab.blank] * 5, len(vocab))
    assert greedy_decode(log_probs, torch.tensor([5]), vocab) == [""]
