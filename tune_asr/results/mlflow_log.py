"""Put the leaderboard and the plots on the search's MLflow parent run, beside its trials' child runs.

The parent run is found by the tags ``tune_asr.tracking`` gives it (search id + role), so running
the results command again overwrites the same artifacts instead of adding runs.
"""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

from tune_asr.results.experiment import SETTINGS_FILE, Experiment, ResultsError
from tune_asr.tracking import role_filter, tracking_client
from tune_asr.tracking_uri import sqlite_path

ARTIFACT_DIR = "results"  # the parent run's artifact folder that holds them


def log_results(experiment: Experiment, files: list[Path], tracking_uri: str | None = None) -> str:
    """Log ``files`` under ``results/`` of the parent run in ``tracking_uri`` (default: the URI that
    ``search.json`` saved); returns the run id."""
    client = client_for(experiment, tracking_uri)
    run_id = parent_run_id(client, experiment)
    for path in files:
        client.log_artifact(run_id, str(path), ARTIFACT_DIR)
    return run_id


def client_for(experiment: Experiment, tracking_uri: str | None = None) -> MlflowClient:
    uri = tracking_uri or experiment.settings.mlflow_uri
    database = sqlite_path(uri)
    if database is not None and not database.is_file():  # MLflow would quietly create an empty one
        raise ResultsError(f"MLflow database {database} not found (named by {experiment.path / SETTINGS_FILE}); "
                           "pass --mlflow-uri, or --no-mlflow")
    return tracking_client(uri)


def parent_run_id(client: MlflowClient, experiment: Experiment) -> str:
    """The run ``tune_asr.tracking`` made for the whole search (its trials' runs are its children)."""
    found = client.get_experiment_by_name(experiment.settings.name)
    search = role_filter(experiment.settings.search_id, "search")
    runs = client.search_runs([found.experiment_id], filter_string=search) if found else []
    if len(runs) != 1:
        raise ResultsError(f"MLflow {client.tracking_uri}: expected one parent run of search {experiment.settings.name!r} "
                           f"(search id {experiment.settings.search_id}), found {len(runs)}")
    return runs[0].info.run_id
