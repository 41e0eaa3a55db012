"""Every search in MLflow: one experiment per search name, a parent run, a child run per trial.

It runs on the Tune driver, keyed by trial id, rather than in the trials: Ray's own MLflow callback
makes no parent run and opens a second run for a resumed trial. Runs are found again by tags
(search id + trial id), so ``--resume`` continues the same runs and adds no duplicates.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from ray.tune import Callback
from ray.tune.experiment import Trial
from ray.tune.result import AUTO_RESULT_KEYS, TIME_THIS_ITER_S

from trainables.resources import HOURS
from tune_asr.best_checkpoint import CHECKPOINT_KEY, EpochReport, best_report, best_trial
from tune_asr.checkpoint import CHECKPOINT_FILE
from tune_asr.config import TrainConfig
from tune_asr.metrics import METRIC
from tune_asr.pareto import objective_point, pareto_front
from tune_asr.settings import SearchSettings
from tune_asr.tracking_uri import sqlite_path
from tune_asr.trial_status import ASHA_STOPPED, BUDGET_STOPPED, FAILED, FINISHED, UNFINISHED, trial_status

TAG_SEARCH = "tune_asr.search_id"  # one search, kept across --resume
TAG_TRIAL = "tune_asr.trial_id"
TAG_ROLE = "tune_asr.role"  # "search" (the parent run) or "trial"
TAG_PARENT = "mlflow.parentRunId"  # how the MLflow UI nests runs
TAG_FAILURE = "failure_reason"  # on FAILED trial runs: "diverged: ..." or the error's last line
TAG_BEST_TRIAL = "best_trial"  # on the parent run: the trial whose checkpoint is the search's best
TAG_BEST_CHECKPOINT = "best_checkpoint"  # on the parent run and each trial's run: that checkpoint's folder
TAG_PARETO_FRONT = "pareto_front"  # on the parent run of a search with several objectives: its front's trial ids
PARETO_TABLE = "pareto_front.json"  # the parent run's artifact: the front's trials and their objectives
MAX_RUNS = 50_000  # MLflow's most runs per search_runs call: the child runs whose hours the parent sums
# The parent run's counts of trials by how they ended (a metric each: trials_finished, trials_asha_stopped, ...)
COUNTED_STATUSES = (FINISHED, ASHA_STOPPED, BUDGET_STOPPED, FAILED, UNFINISHED)


def last_error_line(trial: Trial) -> str:
    """The last line of a failed trial's traceback (``error.txt``), e.g. ``TrainingDiverged: ...``."""
    lines = [line.strip() for line in str(trial.get_error() or "").splitlines() if line.strip()]
    return lines[-1] if lines else "error (no traceback saved)"


def tracking_client(tracking_uri: str) -> MlflowClient:
    """The one way the project opens a tracking store. A local sqlite store is created (or migrated)
    under an exclusive lock on ``<database>.lock``: MLflow builds a fresh database's schema without
    one, so two searches starting at once on one ``--storage`` would collide in its migration."""
    database = sqlite_path(tracking_uri)
    if database is None:
        return MlflowClient(tracking_uri)
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_name(database.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return MlflowClient(tracking_uri)  # builds the store: tables, migrations, default experiment


def role_filter(search_id: str, role: str) -> str:
    """MLflow filter for the runs of search ``search_id`` in ``role`` ("search": the parent, or "trial")."""
    return f"tags.`{TAG_SEARCH}` = '{search_id}' and tags.`{TAG_ROLE}` = '{role}'"


def epoch_metrics(result: dict[str, Any]) -> dict[str, float]:
    """What a trial's run logs of one result (step = epoch): its numbers, less Tune's bookkeeping but
    with the epoch's wall time (``time_this_iter_s``), which the hours are summed from."""
    return {key: float(value) for key, value in result.items()
            if (key not in AUTO_RESULT_KEYS or key == TIME_THIS_ITER_S) and isinstance(value, (int, float))
            and not isinstance(value, bool)}


def _artifact_location(tracking_uri: str, experiment: str) -> str | None:
    """Artifacts beside a local sqlite database; a tracking server chooses its own."""
    database = sqlite_path(tracking_uri)
    return str(database.parent / "mlartifacts" / experiment) if database else None


def _epochs(trial: Trial) -> int:
    """Epochs ``trial`` reported (0 before its first result)."""
    return int(trial.last_result.get("epoch", 0))


def _count_metric(status: str) -> str:
    """The parent run's metric counting trials of ``status``: "ASHA-stopped" -> "trials_asha_stopped"."""
    return "trials_" + status.lower().replace("-", "_")


def _now_ms() -> int:
    return int(time.time() * 1000)


class MLflowTracker(Callback):
    """Tune callback: params, per-epoch metrics (step = epoch), status and artifacts per trial; at the
    end, the search's summary on the parent run (best ``val_cer``, best trial, trials by how they ended).

    Picklable (Tune stores it in the experiment state for ``--resume``): the MLflow client is made
    in :meth:`setup`, and the per-trial best checkpoints travel through ``get_state``/``set_state``.
    """

    def __init__(self, tracking_uri: str, experiment: str, search_id: str, search_params: dict[str, Any], space_file: str):
        self.tracking_uri, self.experiment, self.search_id = tracking_uri, experiment, search_id
        self.search_params, self.space_file = search_params, space_file
        self.best: dict[str, EpochReport] = {}  # trial id → its best report so far (epoch, checkpoint_path, objectives)
        self._client: MlflowClient | None = None
        self._experiment_id = ""
        self._parent_id = ""
        self._runs: dict[str, str] = {}  # trial id → run id
        self._last_step: dict[str, int] = {}  # trial id → last epoch logged (a resumed search may replay results)
        self._total = 0
        self._started = 0.0  # when this driver's tuning loop began (a --time-budget-s counts from there)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_client=None, _runs={}, _last_step={}, _experiment_id="", _parent_id="")
        return state

    def get_state(self) -> dict[str, Any]:
        return {"best": self.best}

    def set_state(self, state: dict[str, Any]) -> None:
        self.best = state["best"]

    def setup(self, total_num_samples: int = 0, **info: Any) -> None:
        self._client = tracking_client(self.tracking_uri)
        self._total = total_num_samples
        self._started = time.time()
        existing = self._client.get_experiment_by_name(self.experiment)
        self._experiment_id = existing.experiment_id if existing else self._client.create_experiment(
            self.experiment, artifact_location=_artifact_location(self.tracking_uri, self.experiment)
        )
        found = self._find(role_filter(self.search_id, "search"))
        if found:
            self._parent_id = found
            self._client.update_run(found, status="RUNNING")
            self._close_orphans()
            return
        run = self._client.create_run(self._experiment_id, run_name=self.experiment, tags={TAG_SEARCH: self.search_id, TAG_ROLE: "search"})
        self._parent_id = run.info.run_id
        self._client.log_batch(self._parent_id, params=[Param(k, str(v)) for k, v in self.search_params.items()])
        self._client.log_artifact(self._parent_id, self.space_file)

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        run_id = self._run_id(trial)
        self._client.update_run(run_id, status="RUNNING")

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict[str, Any], **info: Any) -> None:
        step, now = int(result["epoch"]), _now_ms()
        run_id = self._run_id(trial)
        if step > self._last_step.get(trial.trial_id, 0):  # an epoch logged before a driver died is not logged twice
            metrics = [Metric(key, value, now, step) for key, value in epoch_metrics(result).items()]
            self._client.log_batch(run_id, metrics=metrics)
            self._last_step[trial.trial_id] = step
        if result.get("diverged"):
            self._client.set_tag(self._run_id(trial), TAG_FAILURE, f"diverged: {result.get('diverged_reason', 'loss not finite')}")
        report = {key: result.get(key) for key in ("epoch", CHECKPOINT_KEY, *self._settings.objectives)}
        previous = self.best.get(trial.trial_id)
        best = best_report([previous, report] if previous else [report])
        if best is not None:
            self.best[trial.trial_id] = best

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._finish(trial, "FINISHED")

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        run_id = self._run_id(trial)
        if not trial.last_result.get("diverged"):
            self._client.set_tag(run_id, TAG_FAILURE, last_error_line(trial)[:500])
        self._finish(trial, "FAILED")

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        """Trials cut short by Ctrl-C become KILLED, and so does the parent unless all trials ended
        (all of ``--trials``, or those the time budget let start)."""
        for trial in trials:
            if trial.trial_id in self._runs and trial.status not in (Trial.TERMINATED, Trial.ERROR):
                self._log_hours(trial, self._runs[trial.trial_id])
                self._client.set_terminated(self._runs[trial.trial_id], "KILLED")
        budget = self.search_params.get("time_budget_s")
        budget_spent = budget is not None and time.time() - self._started >= budget
        done = (len(trials) >= self._total or budget_spent) and all(t.status in (Trial.TERMINATED, Trial.ERROR) for t in trials)
        self._log_summary(trials)
        self._client.set_terminated(self._parent_id, "FINISHED" if done else "KILLED")

    def _log_summary(self, trials: list[Trial]) -> None:
        """The parent run's answer at a glance: best val_cer, its trial and checkpoint, and how many
        trials finished, were stopped (by ASHA or the time budget), failed or are unfinished."""
        ended = Counter(trial_status(t.status, _epochs(t), self._settings) for t in trials)
        now = _now_ms()
        metrics = [Metric(_count_metric(status), ended[status], now, 0) for status in COUNTED_STATUSES]
        winner = best_trial({t.trial_id: self.best.get(t.trial_id) for t in trials})
        if winner is not None:
            best = self.best[winner]
            metrics.append(Metric(f"best_{METRIC}", float(best[METRIC]), now, 0))
            self._client.set_tag(self._parent_id, TAG_BEST_TRIAL, winner)
            if best.get(CHECKPOINT_KEY):
                self._client.set_tag(self._parent_id, TAG_BEST_CHECKPOINT, best[CHECKPOINT_KEY])
        children = self._client.search_runs([self._experiment_id], role_filter(self.search_id, "trial"), max_results=MAX_RUNS)
        metrics += [Metric(key, sum(run.data.metrics.get(key, 0.0) for run in children), now, 0) for key in HOURS.values()]
        objectives = self._settings.objectives
        if len(objectives) > 1:
            metrics.append(Metric("pareto_trials", len(self._log_front(trials, objectives)), now, 0))
        self._client.log_batch(self._parent_id, metrics=metrics)

    def _log_front(self, trials: list[Trial], objectives: list[str]) -> list[str]:
        """The Pareto front (tune_asr.pareto) on the parent run: a tag naming its trials, and a table
        artifact of their objectives that the MLflow UI shows; returns the front's trial ids."""
        points = {t.trial_id: objective_point(self.best.get(t.trial_id), objectives) for t in trials}
        front = pareto_front(points)
        self._client.set_tag(self._parent_id, TAG_PARETO_FRONT, ",".join(front))
        table = {"trial": front, **{name: [points[t][i] for t in front] for i, name in enumerate(objectives)}}
        self._client.log_table(self._parent_id, data=table, artifact_file=PARETO_TABLE)
        return front

    @property
    def _settings(self) -> SearchSettings:
        """The search's settings (what tells a finished trial from a stopped one), rebuilt from the parameters."""
        return SearchSettings(search_id=self.search_id, **self.search_params)

    def _close_orphans(self) -> None:
        """On resume: trial runs a killed driver left RUNNING become KILLED (a resumed trial goes back to RUNNING)."""
        runs = self._client.search_runs(
            [self._experiment_id], filter_string=role_filter(self.search_id, "trial") + " and attributes.status = 'RUNNING'")
        for run in runs:
            self._client.set_terminated(run.info.run_id, "KILLED")

    def _find(self, filter_string: str) -> str | None:
        runs = self._client.search_runs([self._experiment_id], filter_string=filter_string, max_results=2)
        if len(runs) > 1:
            raise RuntimeError(f"MLflow holds several runs for {filter_string!r} in experiment {self.experiment!r}")
        return runs[0].info.run_id if runs else None

    def _run_id(self, trial: Trial) -> str:
        """The trial's child run: cached, else found by tags (a resumed search), else created."""
        if trial.trial_id in self._runs:
            return self._runs[trial.trial_id]
        run_id = self._find(f"tags.`{TAG_SEARCH}` = '{self.search_id}' and tags.`{TAG_TRIAL}` = '{trial.trial_id}'")
        if run_id is not None:
            logged = self._client.get_metric_history(run_id, "epoch")
            self._last_step[trial.trial_id] = max((int(m.step) for m in logged), default=0)
        else:
            tags = {TAG_SEARCH: self.search_id, TAG_ROLE: "trial", TAG_TRIAL: trial.trial_id, TAG_PARENT: self._parent_id}
            run_id = self._client.create_run(self._experiment_id, run_name=str(trial), tags=tags).info.run_id
            self._client.log_batch(run_id, params=[Param(k, str(v)) for k, v in sorted(trial.config.items())])
            try:
                resolved = TrainConfig.from_dict(trial.config).to_json()
            except ValueError:  # the trial fails on this config; keep what it was asked to run
                resolved = json.dumps(trial.config, indent=2)
            self._client.log_text(run_id, resolved, "config.json")
        self._runs[trial.trial_id] = run_id
        return run_id

    def _finish(self, trial: Trial, status: str) -> None:
        run_id = self._run_id(trial)
        best = self.best.get(trial.trial_id, {})
        checkpoint = best.get(CHECKPOINT_KEY)
        if checkpoint and (Path(checkpoint) / CHECKPOINT_FILE).exists():
            self._client.log_artifact(run_id, str(Path(checkpoint) / CHECKPOINT_FILE), "best_checkpoint")
            self._client.set_tag(run_id, TAG_BEST_CHECKPOINT, checkpoint)
        if best:
            self._client.log_batch(run_id, metrics=[Metric(f"best_{METRIC}", float(best[METRIC]), _now_ms(), 0)])
        self._log_hours(trial, run_id)
        ended = trial_status("TERMINATED" if status == "FINISHED" else "ERROR", _epochs(trial), self._settings)
        self._client.set_tag(run_id, "stopped_early", str(ended in (ASHA_STOPPED, BUDGET_STOPPED)))
        self._client.set_terminated(run_id, status)

    def _log_hours(self, trial: Trial, run_id: str) -> None:
        """``gpu_hours`` and ``cpu_hours``: the epochs' wall times that MLflow holds (an earlier driver's
        too) times the trial's own resources; the leaderboard counts the same way from Tune's results."""
        seconds = sum(metric.value for metric in self._client.get_metric_history(run_id, TIME_THIS_ITER_S))
        settings = self._settings
        hours = settings.resources.for_config(trial.config).hours(seconds, settings.trial_runner)
        self._client.log_batch(run_id, metrics=[Metric(key, value, _now_ms(), 0) for key, value in hours.items()])
