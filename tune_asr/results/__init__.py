"""Results of a search a person can read: ``python -m tune_asr.results [results/<name>]``.

Reads the folder a search wrote (``search.json`` + Ray Tune's experiment state + the trials'
checkpoints), prints a leaderboard sorted by validation CER (with a bootstrap 95% interval over
validation utterances, epochs run, GPU-hours and how each trial ended), writes
``leaderboard.csv`` and ``plots/*.png`` beside it, and logs them to the search's MLflow parent run.
"""

from tune_asr.results.experiment import Experiment, ResultsError, TrialRun, load_experiment, newest_experiment
from tune_asr.results.leaderboard import format_leaderboard, leaderboard, write_leaderboard_csv
from tune_asr.results.report import Report, report

__all__ = ["Experiment", "Report", "ResultsError", "TrialRun", "format_leaderboard", "leaderboard", "load_experiment",
           "newest_experiment", "report", "write_leaderboard_csv"]
