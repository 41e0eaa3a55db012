"""The search end to end on 2 CPUs: DDP trials over gloo, ASHA, MLflow runs, Ctrl-C and --resume.

Determinism: the space offers a learning rate that trains and one that leaves the model as it was
initialised (validation CER ~3, far above a trained model's ~1). TPE's first draws depend only on
its seed; seed 0 draws [frozen, trained, frozen], so the third trial is worse than the median at
epoch 1 and ASHA (grace 1, reduction 2) must stop it. Trials run one at a time (two 0.95-CPU
workers each on a 2-CPU Ray), so the order is the draw order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import ray
from mlflow import MlflowClient
from ray.tune import ExperimentAnalysis

from trainables.resources import TRIAL_DRIVER_CPU, TrialResources
from trainables.train_run import scaling_config
from tests.helpers import HANG_GUARD_S, SENTENCES, SPACE, needs_espeak, refuse_ray, run_search, runs, tiny_space, write_nsml
from tune_asr.data.demo import make_demo
from tune_asr.results import leaderboard, load_experiment
from tune_asr.results.experiment import BUDGET_STOPPED
from tune_asr.search import DEFAULT_SPACE, init_ray, main, new_settings, parse_args, saved_settings
from tune_asr.search_space import load_space
from tune_asr.tracking import TAG_PARENT, TAG_TRIAL, MLflowTracker


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo(tmp_path_factory.mktemp("demo") / "data", 60, seed=0, test_utterances=0, progress=False)


@pytest.fixture(scope="module")
def space(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("space") / "asha.yaml"
    path.write_text(SPACE, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def two_cpu_ray():
    """One Ray for the module (main() joins it), pinned to 2 CPUs so any CI runner plays alike."""
    init_ray(num_cpus=2)
    yield
    ray.shutdown()


def search_args(demo: Path, space: Path, storage: Path, name: str, workers: int = 2) -> list[str]:
    """3 seeded trials with ASHA; ``workers`` 2: Ray Train DDP runs, 1: trials in reused Tune actors."""
    return ["--data", str(demo), "--space", str(space), "--trials", "3", "--workers-per-trial", str(workers), "--seed", "0",
            "--grace-period", "1", "--reduction-factor", "2", "--storage", str(storage), "--name", name]


@pytest.fixture(scope="module")
def finished_search(two_cpu_ray, demo: Path, space: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    storage = tmp_path_factory.mktemp("results")
    return storage, main(search_args(demo, space, storage, "plain"))


def val_cer_steps(storage: Path, run) -> list[int]:
    client = MlflowClient(f"sqlite:///{storage / 'mlflow.db'}")
    return [m.step for m in client.get_metric_history(run.info.run_id, "val_cer")]


def test_bad_space_fails_before_ray_starts(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray, "init", refuse_ray)
    bad = tmp_path / "bad.yaml"
    bad.write_text("n_mels: 40\nrnn_hidden: {int: {low: 96, high: 32}}\n", encoding="utf-8")
    assert main(["--space", str(bad), "--storage", str(tmp_path)]) == 2
    assert f"{bad}:2: rnn_hidden: low > high" in capsys.readouterr().err


def saved_search(storage: Path, name: str, started: bool = True) -> Path:
    """A search folder as a first run leaves it (settings, and Tune's state once Ray ran), without running one."""
    settings = new_settings(parse_args(["--storage", str(storage), "--name", name, "--trials", "3"]), load_space(DEFAULT_SPACE))
    settings.save()
    if started:
        (settings.experiment_dir / "experiment_state-2026-11-29_00-00-00.json").write_text("{}", encoding="utf-8")
    return settings.experiment_dir


def test_resume_accepts_the_first_commands_flags_and_refuses_only_those_that_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray, "init", refuse_ray)
    saved_search(tmp_path, "s")
    same = saved_settings(parse_args(["--resume", "--name", "s", "--trials", "3", "--space", str(DEFAULT_SPACE),
                                      "--storage", str(tmp_path)]))
    assert same.trials == 3 and same.name == "s"
    assert main(["--resume", "--name", "s", "--trials", "5", "--seed", "0", "--storage", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --resume continues the saved search; these flags differ from it: --trials (saved: 3)")


def test_resume_of_a_search_that_never_started_says_so(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray, "init", refuse_ray)
    stub = saved_search(tmp_path, "stub", started=False)
    assert main(["--resume", "--storage", str(tmp_path)]) == 2
    assert f"{stub} holds a search that never started" in capsys.readouterr().err


def test_whole_gpus_give_one_ddp_worker_each_and_fractions_pack_trials() -> None:
    ddp = TrialResources(gpus_per_trial=2)
    assert scaling_config(ddp).num_workers == 2 and scaling_config(ddp).resources_per_worker["GPU"] == 1
    assert ddp.uses_train() and ddp.actor_request() == {"CPU": TRIAL_DRIVER_CPU}  # the Train workers hold the GPUs
    assert ddp.max_concurrent({"CPU": 16, "GPU": 8}) == 4
    quarter = TrialResources(gpus_per_trial=0.25)
    assert not quarter.uses_train() and quarter.actor_request() == {"CPU": 1.0, "GPU": 0.25}  # trains in its actor
    assert quarter.max_concurrent({"CPU": 16, "GPU": 1}) == 4
    assert quarter.uses_train("train") and scaling_config(quarter).resources_per_worker["GPU"] == 0.25


def test_cpu_trials_fill_whole_cores_with_one_torch_thread_per_worker() -> None:
    assert TrialResources(workers_per_trial=2).max_concurrent({"CPU": 2}) == 1
    assert TrialResources().max_concurrent({"CPU": 2}) == 2
    assert TrialResources(workers_per_trial=2).torch_threads == 1
    with pytest.raises(ValueError, match="one trial needs 3 CPU but the Ray cluster has 2 CPU"):
        TrialResources(workers_per_trial=3).max_concurrent({"CPU": 2})


def test_a_trial_config_may_choose_its_own_resources() -> None:
    base = TrialResources(gpus_per_trial=0.25)
    assert base.for_config({"lr": 1e-3}) is base
    assert base.for_config({"gpus_per_trial": 2}).uses_train() and base.for_config({"gpus_per_trial": 2}).num_workers == 2


@pytest.mark.parametrize("kwargs", [{"gpus_per_trial": 1.5}, {"gpus_per_trial": 1, "workers_per_trial": 2}, {"cpus_per_worker": 0}])
def test_impossible_trial_shapes_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        TrialResources(**kwargs)


@pytest.mark.slow
@needs_espeak
def test_three_trial_search_with_two_ddp_workers_completes(finished_search: tuple[Path, int]) -> None:
    storage, code = finished_search
    assert code == 0
    trials = ExperimentAnalysis(str(storage / "plain")).trials
    assert len(trials) == 3 and all(t.status == "TERMINATED" for t in trials)
    assert all(t.last_result["world_size"] == 2 for t in trials)
    assert all(Path(t.last_result["checkpoint_path"], "checkpoint.pt").is_file() for t in trials)


@pytest.mark.slow
@needs_espeak
def test_asha_stops_the_worse_trial_early(finished_search: tuple[Path, int]) -> None:
    storage, _ = finished_search
    _, children = runs(storage, "plain")
    epochs = sorted(len(val_cer_steps(storage, run)) for run in children)
    assert epochs[0] == 1 and epochs[-1] == 3
    assert sum(run.data.tags["stopped_early"] == "True" for run in children) >= 1


@pytest.mark.slow
@needs_espeak
def test_mlflow_holds_one_parent_and_three_children_with_epoch_metrics(finished_search: tuple[Path, int]) -> None:
    storage, _ = finished_search
    parents, children = runs(storage, "plain")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(children) == 3 and len({r.data.tags[TAG_TRIAL] for r in children}) == 3
    client = MlflowClient(f"sqlite:///{storage / 'mlflow.db'}")
    for run in children:
        assert run.data.tags[TAG_PARENT] == parents[0].info.run_id
        assert run.info.status == "FINISHED"
        assert {"lr", "n_mels", "rnn_hidden"} <= set(run.data.params)
        steps = val_cer_steps(storage, run)
        assert steps == list(range(1, len(steps) + 1))
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"config.json", "best_checkpoint"} <= artifacts


@pytest.mark.slow
@needs_espeak
def test_interrupted_search_resumes_to_three_trials_without_duplicate_runs(
    two_cpu_ray, demo: Path, space: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    complete = MLflowTracker.on_trial_complete

    def complete_then_ctrl_c(self, *args, **kwargs) -> None:
        complete(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does, right after the first trial ends

    monkeypatch.setattr(MLflowTracker, "on_trial_complete", complete_then_ctrl_c)
    assert main(search_args(demo, space, tmp_path, "interrupted", workers=1)) == 1  # the default, reused path
    parents, children = runs(tmp_path, "interrupted")
    assert parents[0].info.status == "KILLED"
    assert sum(r.info.status == "FINISHED" for r in children) == 1

    monkeypatch.undo()
    assert main(["--resume", "--name", "interrupted", "--storage", str(tmp_path)]) == 0
    trials = ExperimentAnalysis(str(tmp_path / "interrupted")).trials
    assert len(trials) == 3 and all(t.status == "TERMINATED" for t in trials)
    parents, children = runs(tmp_path, "interrupted")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(r.data.tags[TAG_TRIAL] for r in children) == sorted(t.trial_id for t in trials)
    assert all(r.info.status == "FINISHED" for r in children)


@pytest.mark.slow
@needs_espeak
def test_time_budget_ends_the_search_and_names_the_trials_it_stopped(two_cpu_ray, demo: Path, space: Path, tmp_path: Path) -> None:
    args = search_args(demo, space, tmp_path, "budget")
    args[args.index("--trials") + 1] = "50"
    # No trial can reach 1,000 epochs in 30 s, so the budget always ends one that is running, whatever the load
    assert main([*args, "--scheduler", "fifo", "--max-epochs", "1000", "--time-budget-s", "30"]) == 0
    table = leaderboard(load_experiment(tmp_path / "budget"))
    assert 1 <= len(table) < 50
    assert set(table["status"]) == {BUDGET_STOPPED}
    parents, children = runs(tmp_path, "budget")
    # every trial that started has its run; on a loaded machine the budget may end before a trial's process starts
    assert parents[0].info.status == "FINISHED" and (table["epochs"] > 0).sum() <= len(children) <= len(table)


def test_time_budget_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--time-budget-s", "0", "--storage", str(tmp_path)]) == 2
    assert "--time-budget-s" in capsys.readouterr().err


@pytest.mark.slow
@needs_espeak
def test_trials_that_choose_their_own_workers_mix_reused_processes_and_ddp_runs(two_cpu_ray, demo: Path, tmp_path: Path) -> None:
    """A space that searches ``workers_per_trial``: one-worker trials train in reused actors, two-worker
    trials as Ray Train DDP runs, in one search paced by what each trial needs (2 CPUs in all)."""
    space = tmp_path / "mixed.yaml"
    space.write_text(tiny_space("1.0e-2", epochs=1, workers_per_trial="{choice: [1, 2]}"), encoding="utf-8")
    args = ["--data", str(demo), "--space", str(space), "--trials", "4", "--seed", "2", "--scheduler", "fifo",
            "--storage", str(tmp_path), "--name", "mixed"]
    assert main(args) == 0
    trials = ExperimentAnalysis(str(tmp_path / "mixed")).trials
    assert len(trials) == 4 and all(t.status == "TERMINATED" for t in trials)  # seed 2 draws workers 1, 1, 1, 2
    shapes = {(t.config["workers_per_trial"], t.last_result["world_size"]) for t in trials}
    assert shapes == {(1, 1), (2, 2)}  # both runners ran, each trial with the workers it chose
    assert any(t.last_result["reused_process"] for t in trials if t.config["workers_per_trial"] == 1)


@pytest.mark.slow
def test_a_reused_process_does_not_grow_over_twenty_trials(tmp_path: Path) -> None:
    """Memory of one process serving 20 trials in a row: RSS after the last within 10% of after the 2nd."""
    data = write_nsml(tmp_path / "data", [SENTENCES[i % len(SENTENCES)] for i in range(12)])
    space = tmp_path / "space.yaml"
    space.write_text(tiny_space("{loguniform: {low: 1.0e-3, high: 1.0e-2}}", epochs=1), encoding="utf-8")
    done = run_search(["--data", str(data), "--space", str(space), "--trials", "20", "--scheduler", "fifo",  # a Ray of
                       "--storage", str(tmp_path), "--name", "memory"], {}, num_cpus=1)  # 1 CPU: one process
    assert done.returncode == 0, done.stdout[-3000:]
    trials = sorted(ExperimentAnalysis(str(tmp_path / "memory")).trials, key=lambda t: t.last_result["trial_started"])
    assert len(trials) == 20 and len({t.last_result["pid"] for t in trials}) == 1
    assert [t.last_result["reused_process"] for t in trials] == [0] + [1] * 19
    second, last = trials[1].last_result["rss_mb"], trials[-1].last_result["rss_mb"]
    assert last <= 1.1 * second, (second, last)


@pytest.mark.slow
@needs_espeak
def test_a_trial_the_cluster_cannot_hold_is_one_line_and_leaves_nothing_behind(
    two_cpu_ray, demo: Path, space: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["--data", str(demo), "--space", str(space), "--gpus-per-trial", "1", "--storage", str(tmp_path),
                 "--name", "nogpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: one trial needs 1 CPU, 1 GPU but the Ray cluster has 2 CPU, 0 GPU; "
                   "ask for less (--gpus-per-trial, --workers-per-trial, --cpus-per-worker)"]
    assert not (tmp_path / "nogpu").exists()  # no stub search.json for --resume or the results to trip on


def test_the_driver_checks_the_data_with_the_spaces_data_fields_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """n_mels 16 alone fails TrainConfig (freq_mask_width defaults to 18): the data check must still use
    the space's unit and bounds, not fall back to defaults."""
    from tune_asr.data import corpus
    from tune_asr.search import check_data

    checked = []

    class Checked(Exception):
        """Stops check_data once it has asked for the check (no data here to read)."""

    def record(data: str, config, strict: bool) -> None:
        checked.append(config)
        raise Checked

    monkeypatch.setattr(corpus, "check_corpus", record)
    path = tmp_path / "space.yaml"
    path.write_text("unit: grapheme\nmax_seconds: 12.0\nn_mels: 16\nfreq_mask_width: {int: {low: 2, high: 8}}\n", encoding="utf-8")
    settings = new_settings(parse_args(["--storage", str(tmp_path), "--space", str(path)]), load_space(path))
    with pytest.raises(Checked):
        check_data(settings, load_space(path))
    assert (checked[0].unit, checked[0].max_seconds) == ("grapheme", 12.0)


def test_a_bad_space_answers_before_ray_torch_or_mlflow_is_imported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("n_mels: 40\nrnn_hidden: {int: {low: 96, high: 32}}\n", encoding="utf-8")
    code = ("import sys; from tune_asr.search import main; code = main(['--space', sys.argv[1], '--storage', sys.argv[2]]); "
            "heavy = sorted(m for m in ('ray', 'torch', 'mlflow') if m in sys.modules); print(heavy); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, str(bad), str(tmp_path)], capture_output=True, text=True,
                          timeout=HANG_GUARD_S)
    assert done.returncode == 2 and f"{bad}:2: rnn_hidden: low > high" in done.stderr
    assert done.stdout.strip() == "[]"


def test_checking_the_flags_imports_no_mlflow_or_torch(tmp_path: Path) -> None:
    """Flags are checked before Ray starts: an MLflow import there (4 s on 2 cores) delayed every first trial."""
    code = ("import sys; from tune_asr.search import DEFAULT_SPACE, new_settings, parse_args; "
            "from tune_asr.search_space import load_space; "
            "settings = new_settings(parse_args(['--storage', sys.argv[1]]), load_space(DEFAULT_SPACE)); "
            "print(settings.mlflow_uri, sorted(m for m in ('ray', 'torch', 'mlflow') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'} []"


def test_every_ray_process_of_a_local_cluster_knows_its_api_server(two_cpu_ray) -> None:
    """Inherited, not a runtime_env: Train's placement-group cleaner needs it, and a runtime_env kept the first
    trials off Ray's pre-started workers. The driver's own environment is left as it was, so nothing started
    later from this process (another cluster's nodes) inherits a stale address."""
    from tune_asr.search import API_SERVER_ENV

    @ray.remote
    def api_server() -> str | None:
        return os.environ.get(API_SERVER_ENV)

    dashboard = ray._private.worker.global_worker.node.address_info["webui_url"]
    assert ray.get(api_server.remote()) == f"http://{dashboard}"
    assert API_SERVER_ENV not in os.environ
    assert not ray.get_runtime_context().runtime_env.get("env_vars")
