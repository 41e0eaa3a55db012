"""kospeech's error rates: edit distance summed over a set, divided by the total reference length.

CER ignores spaces (Korean spacing is inconsistent in transcripts); WER counts words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import Levenshtein

METRIC = "val_cer"  # the validation CER every epoch reports: what the search minimises and exports choose by
MODE = "min"  # of METRIC: lower is better
# What early stopping may compare at a rung (tune_asr.strategy): the objective itself, the validation
# loss, or CER_THEN_LOSS (CER to 4 decimals, ties broken by the loss; see rung_figures). All: lower is better.
CER_THEN_LOSS = "val_cer_then_loss"
RUNG_METRICS = (METRIC, "val_loss", CER_THEN_LOSS)
# What a search may minimise beside METRIC (``--objectives``): the exported package's inference cost
# (tune_asr.inference_cost). All: lower is better.
OBJECTIVES = (METRIC, "rtf", "params", "model_mb")


def rung_figures(report: dict) -> dict[str, float]:
    """The composite figure of an epoch's report that has ``val_cer``: the CER rounded to 4 decimals plus
    a tie-breaker below 1e-5 that grows with ``val_loss``, so two CERs that differ at 4 decimals keep their
    order and tied ones (CTC's all-blank plateau) are ordered by loss. A report without a finite loss (a
    diverged epoch) gets the largest tie-breaker; the figure is in every report with a CER, because Tune
    refuses a result that lacks the metric its searcher learns."""
    cer, loss = report.get(METRIC), report.get("val_loss")
    if cer is None:
        return {}
    loss = float(loss) if loss is not None and math.isfinite(float(loss)) else math.inf
    return {CER_THEN_LOSS: round(float(cer), 4) + 1e-5 * (1 - math.exp(-max(loss, 0.0)))}


def char_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance, reference length), both with spaces removed."""
    ref, hyp = reference.replace(" ", ""), hypothesis.replace(" ", "")
    return Levenshtein.distance(ref, hyp), len(ref)


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    ref, hyp = reference.split(), hypothesis.split()
    return Levenshtein.distance(ref, hyp), len(ref)


def _rate(counts: list[tuple[int, int]]) -> float:
    edits = sum(e for e, _ in counts)
    total = sum(n for _, n in counts)
    if total == 0:
        raise ValueError("references are empty: the error rate is undefined")
    return edits / total


def cer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    _check_pairs(references, hypotheses)
    return _rate([char_errors(r, h) for r, h in zip(references, hypotheses)])


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    _check_pairs(references, hypotheses)
    return _rate([word_errors(r, h) for r, h in zip(references, hypotheses)])


def _check_pairs(references: Sequence[str], hypotheses: Sequence[str]) -> None:
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
