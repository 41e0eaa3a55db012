"""The search's live view: one line per trial within 100 columns, statuses told apart, a log that grows
only by what changed, a terminal block redrawn in place. Tune's own Trial objects, no Ray cluster."""

from __future__ import annotations

import io
import logging
import os
import pickle
import random
import re
import sys
from pathlib import Path

import pytest
from ray.tune.experiment import Trial

from tune_asr.live_view import ANSI_UP_AND_CLEAR, LiveView, quiet_ray_startup, searched_params
from tune_asr.search_space import load_space
from tune_asr.settings import SearchSettings
from tune_asr.short_names import abbreviations

DEFAULT_SPACE = Path(__file__).parents[1] / "search_spaces" / "default.yaml"
MAX_EPOCHS = 4
CONFIG = {"batch_size": 16, "rnn_type": "lstm", "rnn_layers": 2, "rnn_hidden": 96, "dropout": 0.2718, "lr": 0.00314,
          "freq_mask_width": 12, "freq_mask_count": 2, "time_mask_fraction": 0.0999, "time_mask_count": 4,
          "schedule": "warmup_cosine", "warmup_fraction": 0.1999}


def _settings(**changes: object) -> SearchSettings:
    values = dict(name="demo", storage="/tmp", data="/tmp", space=str(DEFAULT_SPACE), trials=8, max_epochs=MAX_EPOCHS,
                  gpus_per_trial=0.0, workers_per_trial=1, cpus_per_worker=None, seed=0, grace_period=1,
                  reduction_factor=2.0, mlflow_uri="sqlite:///x.db", search_id="s")
    return SearchSettings(**{**values, **changes})


def _trial(trial_id: str, ray_status: str, cers: list[float], **config: object) -> Trial:
    trial = Trial("__fake", config={**CONFIG, **config}, trial_id=trial_id, stub=True)
    for epoch, cer in enumerate(cers, start=1):
        trial.update_last_result({"epoch": epoch, "val_cer": cer, "training_iteration": epoch})
    trial.set_status(ray_status)
    return trial


def _view(width: int | None = 100, **changes: object) -> LiveView:
    view = LiveView(_settings(**changes), load_space(DEFAULT_SPACE), width=width)
    view.setup(start_time=None)
    return view


@pytest.fixture
def trials() -> list[Trial]:
    return [
        _trial("a0000001", "TERMINATED", [0.9, 0.7, 0.6, 0.55]),
        _trial("a0000002", "TERMINATED", [0.95], schedule="tri_stage", hold_fraction=0.3),
        _trial("a0000003", "RUNNING", [0.8, 0.5], schedule="constant", warmup_fraction=None),
        _trial("a0000004", "ERROR", []),
        _trial("a0000005", "PENDING", []),
    ]


def _report(view: LiveView, trials: list[Trial], done: bool = False) -> list[str]:
    stream = io.StringIO()
    sys_stdout, sys.stdout = sys.stdout, stream
    try:
        view.report(trials, done)
    finally:
        sys.stdout = sys_stdout
    return stream.getvalue().splitlines()


def test_short_names_are_unique_stable_and_never_longer() -> None:
    keys = list(searched_params(load_space(DEFAULT_SPACE)))
    short = abbreviations(keys)
    assert len(set(short.values())) == len(keys)
    assert all(len(short[key]) <= len(key) for key in keys)
    assert short["freq_mask_width"] == "fmw" and short["dropout"] == "dro" and short["lr"] == "lr"
    assert abbreviations(random.Random(1).sample(keys, len(keys))) == short


def test_clashing_short_names_take_more_letters_until_they_differ() -> None:
    short = abbreviations(["rnn_type", "rnn_time", "rnn_hidden", "time_mask", "ti_m", "ab", "a_b"])
    assert len(set(short.values())) == 7 and (short["ab"], short["a_b"]) == ("ab", "a_b")
    assert short["rnn_hidden"] == "rh" and (short["time_mask"], short["ti_m"]) == ("tima", "ti_m")
    assert {short["rnn_type"], short["rnn_time"]} == {"rnty", "rnti"}


def test_conditional_keys_are_columns_too() -> None:
    assert {"warmup_fraction", "hold_fraction", "lr"} <= set(searched_params(load_space(DEFAULT_SPACE)))
    assert "n_mels" not in searched_params(load_space(DEFAULT_SPACE))  # fixed


def test_every_line_fits_100_columns_and_the_legend_names_what_is_left_out(trials: list[Trial]) -> None:
    lines = _report(_view(), trials)
    assert max(map(len, lines)) <= 100
    assert lines[0].startswith("Search demo")
    legend = " ".join(lines[:5])
    assert "fmw=freq_mask_width" in legend and "wc=warmup_cosine" in legend
    hidden = re.search(r"too wide to show: ([\w, ]+);", legend)
    columns = next(line for line in lines if line.startswith("trial"))
    shown = columns.split()[5:]
    assert len(shown) + len(hidden.group(1).split(", ")) == len(searched_params(load_space(DEFAULT_SPACE)))


def test_a_wide_terminal_shows_every_parameter(trials: list[Trial]) -> None:
    lines = _report(_view(width=160), trials)
    assert not any("too wide" in line for line in lines)
    assert "hf" in next(line for line in lines if line.startswith("trial")).split()


def test_status_tells_finished_asha_stopped_failed_running_and_pending_apart(trials: list[Trial]) -> None:
    lines = {line.split()[0].lstrip("*"): line.split()[1] for line in _report(_view(), trials) if re.match(r"[ *]a0", line)}
    assert lines == {"a0000001": "finished", "a0000002": "ASHA-stopped", "a0000003": "running", "a0000004": "failed",
                     "a0000005": "pending"}


def test_a_time_budget_stop_is_not_called_asha(trials: list[Trial]) -> None:
    view = _view(time_budget_s=60.0, scheduler="fifo")
    assert view.status(trials[1]) == "budget-stopped"


def test_cer_is_shown_as_measured_and_the_best_so_far_is_marked(trials: list[Trial]) -> None:
    lines = _report(_view(), trials)
    heading = next(line for line in lines if line.startswith("["))
    assert "best 0.5000 (a0000003)" in heading
    assert "1 running, 1 pending, 1 finished, 1 ASHA-stopped, 1 failed" in heading
    running = next(line for line in lines if "a0000003" in line and not line.startswith("["))
    assert running.startswith("*a0000003") and running.split()[2:5] == ["2/4", "0.5000", "0.5000"]
    finished = next(line for line in lines if "a0000001" in line).split()
    assert finished[2:5] == ["4/4", "0.5500", "0.5500"]
    assert not re.search(r"(?<!e)-\d", "\n".join(lines)), "no negative number (ASHA's internal sign), only exponents"


def test_a_log_appends_only_what_changed(trials: list[Trial]) -> None:
    view = _view()
    _report(view, trials)
    assert not view.should_report(trials)
    trials[4].set_status("RUNNING")
    assert view.should_report(trials)
    appended = _report(view, trials)
    assert [line for line in appended if "a000000" in line and not line.startswith("[")] == [
        next(line for line in appended if line.startswith(" a0000005"))]
    assert "running" in appended[-1] and "Search demo" not in "\n".join(appended)
    assert len(_report(view, trials, done=True)) >= len(trials) + 1  # the last snapshot holds every trial


def test_a_terminal_redraws_the_block_in_place(trials: list[Trial], monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setenv("LINES", "40")
    view = _view()
    view.report(trials, False)
    first = terminal.getvalue()
    block = len(trials) + 2  # heading, column names, one line per trial
    assert ANSI_UP_AND_CLEAR.format(n=block) not in first
    view.report(trials, False)
    assert terminal.getvalue()[len(first):].startswith(ANSI_UP_AND_CLEAR.format(n=block))
    assert terminal.getvalue().count("Parameters:") == 1


def test_a_short_terminal_shows_the_live_trials_and_the_best_ones(trials: list[Trial], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINES", "6")  # room for 3 trial lines
    shown = _view()._fitting_trials(trials)
    assert [t.trial_id for t in shown] == ["a0000003", "a0000005", "a0000001"]


def test_a_resumed_search_prints_its_legend_again(trials: list[Trial]) -> None:
    view = _view()
    _report(view, trials)
    restored = pickle.loads(pickle.dumps(view))
    restored.setup(start_time=None)
    assert _report(restored, trials)[0].startswith("Search demo")


def test_quieting_ray_leaves_the_users_settings_and_a_joined_clusters_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_AIR_NEW_OUTPUT", raising=False)
    monkeypatch.setenv("RAY_worker_maximum_startup_concurrency", "3")
    quiet_ray_startup(local_cluster=True)
    assert os.environ["RAY_worker_maximum_startup_concurrency"] == "3" and os.environ["RAY_AIR_NEW_OUTPUT"] == "0"
    monkeypatch.delenv("RAY_worker_maximum_startup_concurrency")
    quiet_ray_startup(local_cluster=False)
    assert "RAY_worker_maximum_startup_concurrency" not in os.environ


def test_ray_says_auth_is_off_but_not_that_it_turned_it_on() -> None:
    from ray._private.authentication import authentication_token_setup as auth

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            printed.append(record.funcName)

    printed: list[str] = []
    quiet_ray_startup(local_cluster=True)
    quiet_ray_startup(local_cluster=True)  # twice: still one filter
    handler = Collect()
    auth.logger.addHandler(handler)
    try:
        auth._warn_token_auth_enabled()
        auth._warn_token_auth_disabled()
    finally:
        auth.logger.removeHandler(handler)
    assert printed == ["_warn_token_auth_disabled"]
    assert len(auth.logger.filters) == 1
