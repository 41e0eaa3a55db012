"""Soak: a CPU search of many short trials while faults hit it throughout (issue 20).

Runs ``python -m tune_asr.search`` on a tiny space (trials of 1 to 3 epochs, ASHA), SIGKILLs a
training trial process every ``--kill-every`` seconds (each trial at most once: the search retries a
trial once), SIGKILLs the driver once, when half the trials have started, and runs ``--resume``. Then
it checks and prints: trials lost, duplicate MLflow runs, every finished trial's MLflow metric history
against its ``result.json``, each trial's GPU/CPU-hours in MLflow against the leaderboard's, and the
RSS of reused processes from their 2nd trial to their last (each trial reports its process's RSS).

Trial processes are the driver's descendants that Ray titles ``ray::ResourceTrainable.train`` (the
trainable, as ``tune.with_resources`` wraps it, running a trial's step). Which trial a process serves is read from the fault-injection ledger
(``trainables.faults`` with no faults: each attempt of a trial appends its process id).

Usage: python benchmarks/soak/run.py --data DIR [--trials 60] [--kill-every 20] [--storage DIR]
       python benchmarks/soak/run.py --smoke --data DIR   (CI: 4 trials, a kill every 3 s)
Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import ray  # noqa: F401  (first: it puts its bundled psutil on sys.path, as trial processes use it)
import psutil

from trainables.faults import FAULTS_ENV
from tune_asr.results import leaderboard, load_experiment
from tune_asr.tracking import TAG_ROLE, TAG_TRIAL, epoch_metrics, last_error_line, tracking_client

NAME = "soak"
TRIAL_TITLE = "ray::ResourceTrainable.train"  # AsrTrial, as tune.with_resources wraps it, running a step
RSS_TOLERANCE = 0.10  # reused processes: RSS after their last trial within 10% of after their 2nd
SPACE = """unit: grapheme
n_mels: 40
conv_channels: 4
rnn_layers: 1
rnn_hidden: 32
batch_size: 8
epochs: 3
lr: {loguniform: {low: 1.0e-3, high: 3.0e-2}}
dropout: {uniform: {low: 0.0, high: 0.3}}
"""
SUMMARY_METRICS = {"best_val_cer", "gpu_hours", "cpu_hours"}  # logged once at a trial's end, not per epoch


@dataclass
class Faults:
    """What the soak did to the search, for the report."""

    trial_kills: list[tuple[float, int, str]] = field(default_factory=list)  # (seconds in, pid, trial)
    driver_killed_at: float | None = None
    orphans: list[str] = field(default_factory=list)  # processes of the killed driver's Ray that outlived it
    driver_pids: set[int] = field(default_factory=set)  # the killed driver's Ray processes (trials there died with it)


class Ledger:
    """The trials' attempts as ``trainables.faults`` records them: ``<trial>.attempts``, one pid a line."""

    def __init__(self, folder: Path):
        self.folder = folder

    def attempts(self) -> dict[str, list[int]]:
        return {path.name.removesuffix(".attempts"): [int(pid) for pid in path.read_text(encoding="utf-8").split()]
                for path in self.folder.glob("*.attempts")}

    def started(self) -> int:
        return len(list(self.folder.glob("*.order")))

    def serving(self, pid: int) -> str | None:
        """The trial that ``pid`` took last (its newest attempt file ending with that pid)."""
        latest = None
        for path in self.folder.glob("*.attempts"):
            lines = path.read_text(encoding="utf-8").split()
            if lines and int(lines[-1]) == pid and (latest is None or path.stat().st_mtime_ns > latest.stat().st_mtime_ns):
                latest = path
        return latest.name.removesuffix(".attempts") if latest else None


def trial_processes(driver: psutil.Process) -> list[psutil.Process]:
    """The driver's descendants now running a trial's step."""
    found = []
    for process in driver.children(recursive=True):
        try:
            if " ".join(process.cmdline()).startswith(TRIAL_TITLE):
                found.append(process)
        except psutil.Error:  # ended meanwhile
            continue
    return found


def kill_a_trial(driver: psutil.Process, ledger: Ledger, faults: Faults, started: float) -> bool:
    """SIGKILL one process training a trial that was never killed (its first attempt); False if none is."""
    attempts = ledger.attempts()
    for process in trial_processes(driver):
        trial = ledger.serving(process.pid)
        if trial is not None and attempts.get(trial) == [process.pid]:
            try:
                process.kill()
            except psutil.Error:
                continue
            faults.trial_kills.append((time.time() - started, process.pid, trial))
            print(f"[{time.time() - started:6.0f} s] SIGKILL trial process {process.pid} (trial {trial})", flush=True)
            return True
    return False


def kill_driver(driver: psutil.Process, faults: Faults, started: float) -> None:
    """SIGKILL the driver alone; its Ray must go with it (anything left after 120 s is an orphan, killed)."""
    ray_processes = driver.children(recursive=True)
    faults.driver_pids = {process.pid for process in ray_processes}
    driver.kill()
    faults.driver_killed_at = time.time() - started
    print(f"[{faults.driver_killed_at:6.0f} s] SIGKILL driver {driver.pid} ({len(ray_processes)} Ray processes under it)", flush=True)
    _, alive = psutil.wait_procs(ray_processes, timeout=120)
    for process in alive:
        try:
            faults.orphans.append(f"{process.pid} {' '.join(process.cmdline())[:80]}")
            process.kill()
        except psutil.Error:
            continue


def drive(command: list[str], env: dict[str, str], log: Path, ledger: Ledger, faults: Faults, started: float,
          kill_every: float, kill_driver_after: int | None) -> int | None:
    """Run one driver, injecting faults; its exit status, or None when the soak killed it."""
    with open(log, "a", encoding="utf-8") as out:
        popen = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    driver = psutil.Process(popen.pid)
    last_kill = time.time()
    while popen.poll() is None:
        if kill_driver_after is not None and ledger.started() >= kill_driver_after and trial_processes(driver):
            kill_driver(driver, faults, started)
            popen.wait()
            return None
        if time.time() - last_kill >= kill_every and kill_a_trial(driver, ledger, faults, started):
            last_kill = time.time()
        time.sleep(0.5)
    return popen.returncode


def result_rows(trial_dir: Path) -> list[dict]:
    path = trial_dir / "result.json"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] if path.exists() else []


def check(storage: Path, trials: int, faults: Faults, ledger: Ledger) -> bool:
    """Print the figures and one line per check; True when all pass."""
    from ray.tune import ExperimentAnalysis

    experiment_dir = storage / NAME
    tune_trials = ExperimentAnalysis(str(experiment_dir)).trials
    finished = [t for t in tune_trials if t.status == "TERMINATED"]
    failed = [t for t in tune_trials if t.status == "ERROR"]
    lost = trials - len(finished)

    client = tracking_client(f"sqlite:///{storage / 'mlflow.db'}")
    found = client.search_runs([client.get_experiment_by_name(NAME).experiment_id], max_results=50_000)
    parents = [r for r in found if r.data.tags.get(TAG_ROLE) == "search"]
    children = [r for r in found if r.data.tags.get(TAG_ROLE) == "trial"]
    by_trial = {r.data.tags[TAG_TRIAL]: r for r in children}
    duplicates = len(children) - len(by_trial) + max(len(parents) - 1, 0)
    without_run = [t.trial_id for t in tune_trials if t.trial_id not in by_trial]

    mismatched, compared = [], 0
    for trial in finished:
        rows = result_rows(experiment_dir / f"trial_{trial.trial_id}")
        expected: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for row in rows:
            for key, value in epoch_metrics(row).items():
                expected[key].append((int(row["epoch"]), value))
        run = by_trial.get(trial.trial_id)
        logged = {key: sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, key))
                  for key in set(run.data.metrics) - SUMMARY_METRICS} if run else {}
        compared += 1
        if logged != dict(expected):
            differing = sorted(k for k in set(logged) | set(expected) if logged.get(k) != expected.get(k))
            mismatched.append(f"{trial.trial_id}: {differing[:4]} (MLflow {logged.get(differing[0])} "
                              f"result.json {expected.get(differing[0])})")

    table = leaderboard(load_experiment(experiment_dir)).set_index("trial")
    hours_off = [t for t in table.index if t in by_trial
                 and not math.isclose(by_trial[t].data.metrics.get("cpu_hours", math.nan), table.at[t, "cpu_hours"], rel_tol=1e-9)]

    processes = rss_by_process(experiment_dir, [t.trial_id for t in tune_trials])
    reused = {pid: served for pid, served in processes.items() if len(served) >= 3}
    growth = {pid: served[-1] / served[1] - 1 for pid, served in reused.items()}

    attempts = ledger.attempts()
    killed = {pid for _, pid, _ in faults.trial_kills} | faults.driver_pids
    reported = {t.trial_id: {int(row["pid"]) for row in result_rows(experiment_dir / f"trial_{t.trial_id}")} for t in tune_trials}
    idle_setups = {trial: [pid for pid in pids if pid not in reported.get(trial, set()) | killed]
                   for trial, pids in attempts.items()}
    idle_setups = {trial: pids for trial, pids in idle_setups.items() if pids}
    print("\n| figure | value |\n|---|---|")
    figures = {
        "trials asked": trials, "trials in Tune's state": len(tune_trials), "finished (TERMINATED)": len(finished),
        "failed (ERROR)": len(failed), "trials lost": lost,
        "trial processes SIGKILLed": len(faults.trial_kills), "trials that ran again (after a kill or the resume)": sum(len(a) > 1 for a in attempts.values()),
        "driver SIGKILLed at (s)": f"{faults.driver_killed_at:.0f}" if faults.driver_killed_at is not None else "never",
        "Ray processes that outlived the killed driver": len(faults.orphans),
        "MLflow parent runs": len(parents), "MLflow trial runs": len(children), "duplicate MLflow runs": duplicates,
        "trials without an MLflow run": len(without_run),
        "finished trials whose MLflow history equals result.json": f"{compared - len(mismatched)} of {compared}",
        "trials whose MLflow cpu_hours differ from the leaderboard's": len(hours_off),
        "trial processes (pids)": len(processes), "processes that served 3+ trials": len(reused),
        "RSS change, 2nd trial to last (worst)": f"{max(growth.values(), key=abs):+.1%}" if growth else "-",
    }
    for name, value in figures.items():
        print(f"| {name} | {value} |")
    if reused:
        print("\n| pid | trials served | RSS after 2nd trial (MB) | RSS after last (MB) | change |\n|---|---|---|---|---|")
        for pid, served in sorted(reused.items(), key=lambda item: -len(item[1])):
            print(f"| {pid} | {len(served)} | {served[1]:.0f} | {served[-1]:.0f} | {growth[pid]:+.1%} |")

    checks = {
        "0 trials lost": lost == 0,
        "0 duplicate MLflow runs (one parent)": duplicates == 0 and len(parents) == 1 and not without_run,
        "every finished trial's MLflow history equals its result.json": not mismatched,
        "every trial's MLflow hours equal the leaderboard's": not hours_off,
        f"reused processes' RSS flat (within {RSS_TOLERANCE:.0%}, 2nd trial to last)":
            all(abs(g) <= RSS_TOLERANCE for g in growth.values()),
        "no Ray process outlived the killed driver": not faults.orphans,
        "no trial set up in a process that never trained it": not idle_setups,
    }
    print("\nSoak checks:")
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    for line in [*(f"failed: {t.trial_id} {last_error_line(t)}" for t in failed), *(f"history: {m}" for m in mismatched[:10]),
                 *(f"hours: {t}" for t in hours_off[:10]), *(f"orphan: {o}" for o in faults.orphans),
                 *(f"set up but not trained: {trial} in {pids}" for trial, pids in list(idle_setups.items())[:10])]:
        print(f"    {line}")
    return all(checks.values())


def rss_by_process(experiment_dir: Path, trial_ids: list[str]) -> dict[int, list[float]]:
    """Per process: the RSS each of its trials last reported, in the order the process took them."""
    served: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for trial_id in trial_ids:
        last: dict[int, dict] = {}
        for row in result_rows(experiment_dir / f"trial_{trial_id}"):
            last[int(row["pid"])] = row  # a retried trial has rows from two processes
        for pid, row in last.items():
            served[pid].append((float(row["trial_started"]), float(row["rss_mb"])))
    return {pid: [rss for _, rss in sorted(rows)] for pid, rows in served.items()}


def soak(data: Path, storage: Path, trials: int, kill_every: float) -> bool:
    storage.mkdir(parents=True, exist_ok=True)
    space, ledger = storage / "space.yaml", Ledger(storage / "ledger")
    space.write_text(SPACE, encoding="utf-8")
    (storage / "faults.json").write_text(json.dumps({"dir": str(ledger.folder)}), encoding="utf-8")  # no faults: the ledger
    env = {**os.environ, FAULTS_ENV: str(storage / "faults.json"), "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    search = [sys.executable, "-m", "tune_asr.search", "--storage", str(storage), "--name", NAME]
    first = [*search, "--data", str(data), "--space", str(space), "--trials", str(trials), "--seed", "0",
             "--grace-period", "1", "--reduction-factor", "2"]
    log, faults, started = storage / "search.log", Faults(), time.time()
    print(f"Soak: {trials} trials of {data} in {storage}, a trial process SIGKILLed every {kill_every:g} s; log {log}", flush=True)
    status = drive(first, env, log, ledger, faults, started, kill_every, kill_driver_after=max(1, trials // 2))
    if status is None:
        status = drive([*search, "--resume"], env, log, ledger, faults, started, kill_every, kill_driver_after=None)
    print(f"[{time.time() - started:6.0f} s] search exited {status}", flush=True)
    return check(storage, trials, faults, ledger) and status == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="an NSML corpus (python -m tune_asr.data.demo DIR --utterances 240)")
    parser.add_argument("--storage", type=Path, help="a fresh folder for the search (default: a temporary one)")
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--kill-every", type=float, default=20.0, help="seconds between trial-process kills")
    parser.add_argument("--smoke", action="store_true", help="4 trials, a kill every 3 s (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.trials, args.kill_every = 4, 3.0
    storage = args.storage or Path(tempfile.mkdtemp(prefix="soak_"))
    if (storage / NAME).exists():
        parser.error(f"--storage {storage} already holds a soak search; give a fresh folder")
    sys.exit(0 if soak(args.data.resolve(), storage.resolve(), args.trials, args.kill_every) else 1)


if __name__ == "__main__":
    main()
