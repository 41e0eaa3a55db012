"""Export a trained model as a self-contained NSML (or nova) submission, and replay it locally.

``export-best`` / ``python -m tune_asr.export``: see :mod:`tune_asr.export.cli`. The package's code
is ``package_main.py`` (its ``main.py``), ``recognizer.py`` and the vendored core; ``standin/`` holds
the local ``nsml`` module used by the replay only.
"""

from tune_asr.export.cli import main

__all__ = ["main"]
