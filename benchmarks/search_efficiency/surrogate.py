"""What a configuration that the table never ran would have reported: a surrogate fitted on the table.

A sampler proposes configurations anywhere in the space, almost never one the table holds, so the
replay asks a model. It is a multi-output extra-trees regressor (scikit-learn) fitted on the table's
complete trials: from a configuration it predicts the whole curve at once (logit CER, log loss and
log seconds of every epoch). Each prediction is an average of recorded curves that share the
configuration's leaves, so a predicted curve keeps the shape real curves have: CER on the all-blank
plateau early, loss falling, CER and loss in step. Besides the keys themselves it is given two
derived features that decide how a DeepSpeech2 run learns: log10(lr / batch_size) and log10 of the
recurrent size (hidden² × layers).

Restricting the sampler to the table's own configurations (the nearest recorded one) ranks held-out
trials far worse (see BENCHMARKS.md, "Search strategy"): with ~100 points in 13 dimensions the
nearest neighbour is rarely alike in what matters. :func:`held_out_spearman` is the proof the
benchmark prints for every table: the rank correlation of predicted with recorded final CER on
trials left out of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.model_selection import KFold

from curve_table import CurveTable

TREES = 200
EPS = 1e-3  # CER is clipped to [EPS, 1 - EPS] before its logit


@dataclass(frozen=True)
class Curve:
    """One configuration's predicted reports, epoch 1 first."""

    val_cer: np.ndarray
    val_loss: np.ndarray
    seconds: np.ndarray


class Features:
    """Configurations as numbers: numeric keys as they are (learning rate in log10), a choice one-hot,
    a key a trial lacks as 0, plus the two derived features of the module's docstring."""

    def __init__(self, configs: list[dict[str, Any]]):
        keys = sorted({key for config in configs for key in config})
        self.columns: list[tuple[str, Any]] = []
        for key in keys:
            values = {_hashable(config.get(key)) for config in configs}
            if len(values) < 2:
                continue
            if any(isinstance(v, (str, bool)) for v in values):
                self.columns += [(key, option) for option in sorted(values, key=str)]
            else:
                self.columns.append((key, None))

    def __call__(self, configs: list[dict[str, Any]]) -> np.ndarray:
        rows = []
        for config in configs:
            row = [float(config.get(key) == option) if option is not None else _number(key, config.get(key))
                   for key, option in self.columns]
            lr, batch = config.get("lr"), config.get("batch_size")
            row.append(np.log10(lr / batch) if lr and batch else 0.0)
            hidden, layers = config.get("rnn_hidden"), config.get("rnn_layers")
            row.append(np.log10(hidden**2 * layers) if hidden and layers else 0.0)
            rows.append(row)
        return np.asarray(rows, dtype=float)


def _hashable(value: Any) -> Any:
    return value if not isinstance(value, (list, dict)) else str(value)


def _number(key: str, value: Any) -> float:
    if value is None:
        return 0.0
    return float(np.log10(value)) if key == "lr" and value > 0 else float(value)


class Surrogate:
    """Fitted on ``trials`` of ``table`` (default: every complete trial)."""

    def __init__(self, table: CurveTable, trials: list[str] | None = None, seed: int = 0):
        self.table, self.epochs = table, table.max_epochs
        trials = trials if trials is not None else table.complete_trials
        configs = [table.configs[trial] for trial in trials]
        self.features = Features(list(table.configs.values()))
        targets = np.stack([self._targets(trial) for trial in trials])
        self.model = ExtraTreesRegressor(TREES, min_samples_leaf=2, max_features=0.5, random_state=seed)
        self.model.fit(self.features(configs), targets)

    def _targets(self, trial: str) -> np.ndarray:
        rows = self.table.curves[self.table.curves.trial == trial].sort_values("epoch").head(self.epochs)
        cer = np.clip(rows["val_cer"].to_numpy(float), EPS, 1 - EPS)
        return np.concatenate([np.log(cer / (1 - cer)), np.log(rows["val_loss"].to_numpy(float)),
                               np.log(rows["seconds"].to_numpy(float))])

    def predict(self, configs: list[dict[str, Any]]) -> list[Curve]:
        # The trees' own compiled predict: the forest's adds a thread pool and checks per call (0.1 s here,
        # and a replay asks once per trial).
        features = self.features(configs).astype(np.float32)
        out = sum(tree.tree_.predict(features)[:, :, 0] for tree in self.model.estimators_) / len(self.model.estimators_)
        e = self.epochs
        return [Curve(1 / (1 + np.exp(-row[:e])), np.exp(row[e:2 * e]), np.exp(row[2 * e:])) for row in out]


def held_out_spearman(table: CurveTable, folds: int = 5, repeats: int = 3) -> tuple[float, float]:
    """Mean and lowest, over ``repeats`` shuffles, of the rank correlation between the final CER the
    surrogate predicts for trials left out of its fit and the CER they recorded (``folds``-fold)."""
    trials = np.array(table.complete_trials)
    recorded = np.array([table.final_cer(trial) for trial in trials])
    scores = []
    for repeat in range(repeats):
        predicted = np.zeros(len(trials))
        for fit, held in KFold(folds, shuffle=True, random_state=repeat).split(trials):
            model = Surrogate(table, list(trials[fit]), seed=repeat)
            predicted[held] = [curve.val_cer[-1] for curve in model.predict([table.configs[t] for t in trials[held]])]
        scores.append(spearmanr(predicted, recorded).correlation)
    return float(np.mean(scores)), float(np.min(scores))
