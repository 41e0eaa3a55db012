"""``python -m tune_asr.results [results/<name>]``: leaderboard, plots and MLflow artifacts of a search."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tune_asr.results.experiment import ResultsError, newest_experiment
from tune_asr.results.report import report


def main(argv: list[str] | None = None) -> int:
    """0 on success, 2 when the folder or its MLflow run cannot be read."""
    parser = argparse.ArgumentParser(prog="python -m tune_asr.results", description=__doc__.split(": ", 1)[1])
    parser.add_argument("experiment", type=Path, nargs="?", help="a search folder (default: the newest under --storage)")
    parser.add_argument("--storage", type=Path, default=Path("results"), help="where to look for the newest search")
    parser.add_argument("--mlflow-uri", help="MLflow tracking URI (default: the one the search saved in search.json)")
    parser.add_argument("--no-mlflow", action="store_true", help="write the files only; log nothing to MLflow")
    args = parser.parse_args(argv)
    try:
        report(args.experiment or newest_experiment(args.storage), mlflow=not args.no_mlflow, tracking_uri=args.mlflow_uri)
    except ResultsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
