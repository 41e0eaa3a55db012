"""Where a search's MLflow tracking store is, worked out without importing MLflow.

The search resolves the URI while it checks its flags, before Ray starts; importing MLflow there would
put seconds on the way to the first trial (BENCHMARKS.md, "Time to first result").
"""

from __future__ import annotations

import os
from pathlib import Path

SQLITE = "sqlite:///"  # a local tracking store: the project's default


def resolve_tracking_uri(cli_uri: str | None, results_dir: Path) -> str:
    """``--mlflow-uri``, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///<results>/mlflow.db``.

    A relative sqlite path is made absolute now, on the driver: Ray runs trials in other folders.
    """
    uri = cli_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"{SQLITE}{results_dir / 'mlflow.db'}"
    database = sqlite_path(uri)
    return f"{SQLITE}{database.resolve()}" if database else uri


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a local ``sqlite:///`` tracking URI; None for a tracking server."""
    return Path(tracking_uri.removeprefix(SQLITE)) if tracking_uri.startswith(SQLITE) else None
