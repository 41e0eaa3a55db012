"""Which searched parameters mattered: Optuna's importance evaluators on the trials that ended with a CER.

The search's own Optuna study saw an ASHA-stopped trial's last CER; here each trial counts with its
best CER (what the leaderboard ranks by), so an in-memory study is rebuilt from the trials, with the
distributions the space file gives (see ``tune_asr.space_values``). ASHA-stopped trials stay in: they
are the evidence of what does not work. Failed and unfinished trials have no final CER and stay out.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import optuna
from optuna.importance import FanovaImportanceEvaluator, PedAnovaImportanceEvaluator, get_param_importances

from tune_asr.results.experiment import Experiment
from tune_asr.trial_status import ASHA_STOPPED, BUDGET_STOPPED, FINISHED

MIN_TRIALS = 5  # below this, importances are noise; PED-ANOVA's docs want 5 trials in the top quantile alone
# Below this, importances are shown with a warning: a search of 8 trials gave PED-ANOVA and fANOVA
# rankings that disagreed completely (issue #13).
TRUSTED_TRIALS = 20
PED_ANOVA_TOP = 0.1  # Optuna's default top quantile, widened for small searches (see _ped_anova_top)


@dataclass(frozen=True)
class Importance:
    """One evaluator's answer: importances summing to 1 (largest first), or a note saying why there are none."""

    evaluator: str
    trials: int  # how many trials it saw
    values: dict[str, float]
    note: str | None = None


def scored_study(experiment: Experiment) -> optuna.Study:
    """An in-memory study holding every trial that ended without error and reported a CER, valued by its best CER."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize")
    for trial in experiment.trials:
        value = (trial.best or {}).get("val_cer", math.nan)
        if trial.status in (FINISHED, ASHA_STOPPED, BUDGET_STOPPED) and math.isfinite(value) and trial.params:
            study.add_trial(optuna.trial.create_trial(params=trial.params, distributions=trial.distributions, value=value))
    return study


def param_importances(experiment: Experiment) -> list[Importance]:
    """PED-ANOVA (Optuna's default) and fANOVA, each with values or with the reason it has none."""
    study = scored_study(experiment)
    reason = _too_little(study, experiment)
    if reason:
        return [Importance(name, len(study.trials), {}, reason) for name in ("PED-ANOVA", "fANOVA")]
    top = _ped_anova_top([t.value for t in study.trials])
    evaluators = {
        f"PED-ANOVA (best {top:.0%} vs all)": PedAnovaImportanceEvaluator(target_quantile=top),
        "fANOVA": FanovaImportanceEvaluator(seed=0),
    }
    return [_evaluate(study, name, evaluator) for name, evaluator in evaluators.items()]


def too_few_to_trust(importances: list[Importance]) -> str | None:
    """A warning when importances were computed from fewer than TRUSTED_TRIALS trials; None otherwise
    (also when none were computed: each evaluator's note says why)."""
    seen = max((i.trials for i in importances if i.values), default=0)
    if not seen or seen >= TRUSTED_TRIALS:
        return None
    return (f"only {seen} trials ended with a CER: importances from fewer than {TRUSTED_TRIALS} trials are not to be "
            "trusted (evaluators can disagree completely); run more --trials")


def _too_little(study: optuna.Study, experiment: Experiment) -> str | None:
    if not experiment.searched_keys:
        return "the space searches no parameter"
    if len(study.trials) < MIN_TRIALS:
        return (f"{len(study.trials)} trial(s) ended with a CER; parameter importance needs at least {MIN_TRIALS}"
                " (run more --trials)")
    if len({t.value for t in study.trials}) == 1:
        return f"all {len(study.trials)} trials scored the same CER ({study.trials[0].value:.4g}): nothing to attribute"
    return None


def _ped_anova_top(values: list[float]) -> float:
    """Optuna's 10% top quantile, widened to hold MIN_TRIALS trials in small searches, but at most the top
    half, and never reaching the trials tied for the worst CER: PED-ANOVA keeps ties with the cutoff,
    and a top set that holds every trial makes all importances equal (common when many trials sit at CER 1)."""
    n = len(values)
    better_than_worst = sum(v < max(values) for v in values)
    return min(0.5, max(PED_ANOVA_TOP, MIN_TRIALS / n), better_than_worst / n)


def _evaluate(study: optuna.Study, name: str, evaluator: optuna.importance.BaseImportanceEvaluator) -> Importance:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna warns on small studies; the plot says how many trials there were
        try:
            return Importance(name, len(study.trials), get_param_importances(study, evaluator=evaluator))
        except ImportError as error:  # fANOVA's random forest is scikit-learn's
            return Importance(name, len(study.trials), {}, f"needs scikit-learn ({error})")
        except RuntimeError as error:  # e.g. fANOVA: "zero total variance in all trees"
            return Importance(name, len(study.trials), {}, str(error))
