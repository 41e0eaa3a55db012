"""The search's live view: one line per trial, within a terminal's width, instead of Ray's CLIReporter.

Each line holds a trial's status (finished, ASHA-stopped, failed, running, ... by
:func:`tune_asr.trial_status.trial_status`, the rule the leaderboard uses), its epoch, its latest and
best validation CER, and its searched parameters under short names that a legend spells out once.
A heading line counts trials by status and names the best so far. On a terminal the block is
redrawn in place; in a log (stdout not a terminal) only the lines that changed are appended, so a
search of hours writes a few lines per epoch, not a table every 15 seconds.

It is a Ray Tune ``ProgressReporter``: Tune calls ``should_report`` after every step of its loop and
``report`` when that says yes. Tune pickles it with the experiment for ``--resume``; what it has
printed is reset in ``setup``, which Tune calls at each start. :func:`quiet_ray_startup` keeps Ray's
start-up messages that nobody can act on off the same screen.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

from ray.tune import ProgressReporter
from ray.tune.experiment import Trial

from tune_asr.best_checkpoint import best_trial
from tune_asr.metrics import METRIC, MODE
from tune_asr.search_space import Categorical, Fixed, IntRange, Param, SearchSpace
from tune_asr.short_names import abbreviations
from tune_asr.settings import SearchSettings
from tune_asr.trial_status import ENDED, UNFINISHED, trial_status

DEFAULT_WIDTH = 100  # when the terminal's width is unknown (a log file, a pipe)
REDRAW_SECONDS = 1.0  # on a terminal: the elapsed time ticks at most this often
LONG_VALUE = 6  # string options longer than this are shown abbreviated (the legend spells them out)
TRIAL_ID = 8  # Tune's trial ids with a searcher: 8 hex digits
HEADER_EVERY = 30  # in a log, the column names again after this many trial lines
ANSI_UP_AND_CLEAR = "\x1b[{n}F\x1b[J"  # cursor up n lines to column 1, clear to the end of the screen
# Ray's raylet warns once a node has started 4x its worker start-up concurrency (the CPU count by default)
# in worker processes. A search holds a few per trial (its Tune actor, Train controller and workers), so
# on 2 cores every search tripped it. A higher concurrency lifts that threshold (and lets as many start at once).
WORKER_STARTUP_CONCURRENCY = 16


def quiet_ray_startup(local_cluster: bool) -> None:
    """Call before ``ray.init``: keep Ray's and MLflow's start-up messages that a user cannot act on off
    the screen, and leave every real warning. Values the user set in the environment win.

    - ``RAY_AIR_NEW_OUTPUT=0``: Tune's engine that calls a ``ProgressReporter`` (the newer one ignores
      it and prints a block per result).
    - Ray's notice that a new local cluster turned token authentication on (the safe default, nothing
      to do); its warning that authentication is off stays.
    - ``RAY_worker_maximum_startup_concurrency`` for a cluster started here: see WORKER_STARTUP_CONCURRENCY.
      Never for ``--address``: the cluster joined was configured by whoever started it.
    - Tune's INFO lines (where it wrote its state, its total run time; the summary gives the search
      time) and MLflow's on creating a new database's tables.
    """
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if local_cluster:
        os.environ.setdefault("RAY_worker_maximum_startup_concurrency", str(max(WORKER_STARTUP_CONCURRENCY, os.cpu_count() or 1)))
    token_notices = logging.getLogger("ray._private.authentication.authentication_token_setup")
    if not any(isinstance(f, _DropFrom) for f in token_notices.filters):
        token_notices.addFilter(_DropFrom("_warn_token_auth_enabled"))
    for name in ("ray.tune.tune", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)


class _DropFrom(logging.Filter):
    """Drops the records that one function of a module logs; the module's other records pass."""

    def __init__(self, function: str):
        super().__init__()
        self.function = function

    def filter(self, record: logging.LogRecord) -> bool:
        return record.funcName != self.function


def searched_params(space: SearchSpace) -> dict[str, Param]:
    """Every key the space samples, conditional ones (under a choice's option) included, in file order."""
    found: dict[str, Param] = {}

    def walk(params: dict[str, Param]) -> None:
        for key, param in params.items():
            if not isinstance(param, Fixed):
                found.setdefault(key, param)
            if isinstance(param, Categorical):
                for branch in param.branches.values():
                    walk(dict(branch))

    walk(dict(space.params))
    return found


class LiveView(ProgressReporter):
    """Tune's progress output for one search: ``LiveView(settings, space)`` as ``RunConfig.progress_reporter``."""

    def __init__(self, settings: SearchSettings, space: SearchSpace, width: int | None = None):
        self.settings = settings
        params = searched_params(space)
        self.short = abbreviations(params)  # key -> column name
        self.value_short = {  # key -> {option -> short option}, for choices with long string options
            key: abbreviations(o for o in param.options if isinstance(o, str)) for key, param in params.items()
            if isinstance(param, Categorical) and any(isinstance(o, str) and len(o) > LONG_VALUE for o in param.options)
        }
        self.keys = list(params)
        self.value_widths = {key: self._value_width(key, param) for key, param in params.items()}
        self.width = width
        self._reset()

    def _reset(self) -> None:
        self._started = time.time()
        self._shown: dict[str, str] = {}  # trial id -> its line as last printed (a log appends only changes)
        self._heading = ""
        self._drawn_lines = 0  # a terminal's block height, to redraw it in place
        self._lines_since_header = HEADER_EVERY
        self._last_report = 0.0
        self._legend_printed = False

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if not key.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    def setup(self, start_time: float | None = None, total_samples: int | None = None, **kwargs: Any) -> None:
        self._reset()
        self._started = start_time or time.time()

    def should_report(self, trials: list[Trial], done: bool = False) -> bool:
        if done:
            return True
        if _is_terminal(self.stream):
            return time.time() - self._last_report >= REDRAW_SECONDS
        heading_changed = _without_clock(self._heading) != _without_clock(self.heading(trials))
        return heading_changed or any(self._shown.get(t.trial_id) != self.line(t, trials) for t in trials)

    def report(self, trials: list[Trial], done: bool, *sys_info: str) -> None:
        self._last_report = time.time()
        out = self.stream
        if not self._legend_printed:
            out.write("\n".join(self.legend()) + "\n")
            self._legend_printed = True
        if _is_terminal(out):
            block = [self.heading(trials)[: self.line_width], self.columns(),
                     *(self.line(t, trials) for t in self._fitting_trials(trials))]
            if self._drawn_lines:
                out.write(ANSI_UP_AND_CLEAR.format(n=self._drawn_lines))
            out.write("\n".join(block) + "\n")
            self._drawn_lines = 0 if done else len(block)
        else:
            self._append_changes(out, trials, done)
        out.flush()

    def _fitting_trials(self, trials: list[Trial]) -> list[Trial]:
        """As many trials as the terminal has rows for (a block taller than the screen cannot be redrawn in
        place): those not ended first, then the ended ones by best CER; the log and the leaderboard keep all."""
        rows = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).lines - 3
        if len(trials) <= rows:
            return trials
        leader_first = sorted(trials, key=lambda t: (self.status(t) in ENDED, (_best(t) or {METRIC: math.inf})[METRIC]))
        return leader_first[: max(rows, 1)]

    def _append_changes(self, out: TextIO, trials: list[Trial], done: bool) -> None:
        """A log's share: the heading when it changed, and each trial line that changed (all of them at the end)."""
        heading = self.heading(trials)
        changed = [t for t in trials if done or self._shown.get(t.trial_id) != self.line(t, trials)]
        if _without_clock(heading) != _without_clock(self._heading) or done:
            out.write(heading[: self.line_width] + "\n")
            self._heading = heading
        if changed and self._lines_since_header + len(changed) > HEADER_EVERY:
            out.write(self.columns() + "\n")
            self._lines_since_header = 0
        for trial in changed:
            self._shown[trial.trial_id] = self.line(trial, trials)
            out.write(self._shown[trial.trial_id] + "\n")
        self._lines_since_header += len(changed)

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @property
    def line_width(self) -> int:
        return self.width or shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns

    def legend(self) -> list[str]:
        """What the short column names mean, said once, wrapped to the width."""
        words = [f"{self.short[key]}={key}" for key in self.keys if self.short[key] != key]
        words += [f"{self.short[key]}: " + " ".join(f"{s}={o}" for o, s in options.items() if s != o)
                  for key, options in self.value_short.items()]
        shown, hidden = self._fitting_keys()
        if hidden:
            words.append(f"(too wide to show: {', '.join(hidden)}; the leaderboard has them)")
        said = textwrap.wrap(" ".join(["Parameters:", *words]), self.line_width, subsequent_indent="  ", break_on_hyphens=False)
        imported = (f"; {self.settings.imported_trials} trials imported by --warm-start (not run again)"
                    if self.settings.warm_start else "")
        return [f"Search {self.settings.name}: {METRIC} per trial, best so far marked *{imported}", *(said if words else [])]

    def heading(self, trials: Sequence[Trial]) -> str:
        """Elapsed time, trials by status, and the best validation CER so far with its trial."""
        counts = Counter(self.status(t) for t in trials)
        told = ", ".join(f"{n} {status}" for status, n in sorted(counts.items(), key=lambda item: _status_order(item[0])))
        leader = _leader(trials)
        best = f"; best {_best(leader)[METRIC]:.4f} ({leader.trial_id})" if leader else ""
        return f"[{self._elapsed()}] {len(trials)}/{self.settings.trials}: {told or 'starting'}{best}"

    def status(self, trial: Trial) -> str:
        """The leaderboard's word for an ended trial; Ray's (running, pending, paused) for one that has not ended."""
        status = trial_status(trial.status, _epoch(trial), self.settings)
        return trial.status.lower() if status == UNFINISHED else status

    def columns(self) -> str:
        shown, _ = self._fitting_keys()
        cells = ["trial", "status", "epoch", METRIC, "best"] + [self.short[key] for key in shown]
        return self._row(cells, shown)

    def line(self, trial: Trial, trials: Sequence[Trial]) -> str:
        """One trial of ``trials``: a ``*`` marks the best so far."""
        shown, _ = self._fitting_keys()
        result, best = trial.last_result or {}, _best(trial)
        mark = "*" if _leader(trials) is trial else " "
        cells = [mark + trial.trial_id, self.status(trial),
                 f"{_epoch(trial)}/{self.settings.max_epochs}" if _epoch(trial) else "-",
                 _cer(result.get(METRIC)), _cer(best[METRIC] if best else None)]
        cells += [self._value(key, trial.config.get(key)) for key in shown]
        return self._row(cells, shown)

    def _value(self, key: str, value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return _number(value)
        return self.value_short.get(key, {}).get(value, str(value))

    def _widths(self) -> list[int]:
        """Column widths: fixed ones, then each parameter's widest of its name and its values."""
        fixed = [1 + TRIAL_ID, max(map(len, (*ENDED, "running", "pending", "terminated"))),
                 len(f"{self.settings.max_epochs}/{self.settings.max_epochs}"), 7, 6]
        return fixed + [max(len(self.short[key]), self.value_widths[key]) for key in self.keys]

    def _value_width(self, key: str, param: Param) -> int:
        """The widest value ``param`` can show: its options, its integer bounds, or 6 for any float."""
        if isinstance(param, Categorical):
            return max(len(self._value(key, option)) for option in param.options)
        if isinstance(param, IntRange):
            return max(len(str(param.low)), len(str(param.high)))
        return 6  # _number keeps floats to 6 characters

    def _fitting_keys(self) -> tuple[list[str], list[str]]:
        """The parameters that fit the width, in the space's order, and those left out."""
        widths = self._widths()
        used = sum(widths[:5]) + 4
        for index, key in enumerate(self.keys):
            used += 1 + widths[5 + index]
            if used > self.line_width:
                return self.keys[:index], self.keys[index:]
        return self.keys, []

    def _row(self, cells: list[str], shown: list[str]) -> str:
        widths = self._widths()
        widths = widths[:5] + [widths[5 + self.keys.index(key)] for key in shown]
        left = {0, 1}  # trial and status read left to right; numbers line up on the right
        text = " ".join(cell.ljust(w) if i in left else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths)))
        return text.rstrip()[: self.line_width]

    def _elapsed(self) -> str:
        seconds = int(time.time() - self._started)
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _epoch(trial: Trial) -> int:
    return int((trial.last_result or {}).get("epoch", 0) or 0)


def _best(trial: Trial) -> dict[str, float] | None:
    """The trial's lowest ``val_cer`` so far, from Tune's own summary of its results (``metric_analysis``)."""
    value = trial.metric_analysis.get(METRIC, {}).get(MODE)
    return {METRIC: value} if isinstance(value, (int, float)) and math.isfinite(value) else None


def _leader(trials: Sequence[Trial]) -> Trial | None:
    """The trial with the best ``val_cer`` so far, by the leaderboard's rule (the first of equal ones)."""
    leader = best_trial({t.trial_id: _best(t) for t in trials})
    return next(t for t in trials if t.trial_id == leader) if leader else None


def _without_clock(heading: str) -> str:
    """A heading without its elapsed time: a log appends a heading only when something else changed."""
    return heading.split("] ", 1)[-1]


def _status_order(status: str) -> int:
    order = ["running", "pending", *ENDED]
    return order.index(status) if status in order else len(order)


def _cer(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) and math.isfinite(value) else "-"


def _number(value: float) -> str:
    """At most 6 characters: 0.1234 -> 0.123, 0.0034 -> 3.4e-3, 12.5 -> 12.5."""
    if value == 0 or 0.01 <= abs(value) < 1000:
        return f"{value:.3g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _is_terminal(stream: TextIO) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()
