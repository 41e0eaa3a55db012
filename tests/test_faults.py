"""The fault suite: bad input, a diverging trial, injected out-of-memory errors and a killed Train worker.

Cheap cases call ``load_corpus`` or ``main`` with Ray refused. The Ray cases share one search, run as a
subprocess (``python -m tune_asr.search`` on a 1-CPU Ray, so trials run one at a time and in draw
order) under a hard timeout, so that nothing here can hang CI. Its data holds every kind of bad input;
its space offers a learning rate that trains (1e-2) and one that diverges at once (1e30). TPE with seed
0 draws [1e30, 1e-2, 1e30, 1e30, 1e-2]; faults are injected by trial order
(``trainables.worker.FAULTS_ENV``): trial 2 (trains) loses its worker after epoch 1's checkpoint,
trial 4 (would diverge) runs out of memory on every attempt, trial 5 (trains) on its first only.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import ray
from mlflow import MlflowClient
from ray.tune import ExperimentAnalysis

from tests.helpers import (HANG_GUARD_S, KOSPEECH_LABELS, SENTENCES, refuse_ray, run_search, runs, start_search,
                           tiny_space, write_nsml)
from trainables.faults import FAULTS_ENV
from tune_asr.config import TrainConfig
from tune_asr.data import corpus as corpus_module
from tune_asr.data.audio import read_pcm
from tune_asr.data.corpus import load_corpus
from tune_asr.ports import free_ports
from tune_asr.search import main
from tune_asr.tracking import TAG_FAILURE, TAG_TRIAL

QUOTED = "네, 좋아요."
HOUR_BYTES = 3600 * 16000 * 2  # 115.2 MB, sparse
# name → the start of the reason the validation report must give
BAD_INPUT = {
    "idx_000001": "bad audio: odd byte length",
    "idx_000002": "bad audio: empty file",
    "idx_000003": "audio missing for label",
    "idx_000004": "too long: 3600.0 s",
    "idx_000005": "characters outside the vocabulary: '679'",
    "orphan": "audio without a label",
}
LABELS = 20
KEPT = LABELS - 5  # orphan has no label

FAULT_LR = "{choice: [1.0e-2, 1.0e+30]}"  # trains / diverges (NaN) in its first epoch
DIVERGES = 1e30
FAULTS = {"oom": [{"trial": 4, "attempts": 2}, {"trial": 5, "attempts": 1}], "kill": [{"trial": 2, "after_epoch": 1}]}


def label_bytes(rows: list[tuple[str, str]], variant: str) -> bytes:
    """A label CSV in one of the variants seen in the wild (every variant quotes the comma text)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if variant == "bom-crlf-extra" else "\n")
    if variant == "bom-crlf-extra":
        writer.writerow(["filename", "text", "speaker"])
        writer.writerows([(name, text, "spk1") for name, text in rows])
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")
    if variant == "cp949":
        writer.writerow(["filename", "text"])
    writer.writerows(rows)
    return buffer.getvalue().encode("cp949" if variant == "cp949" else "utf-8")


def write_bad_nsml(root: Path, variant: str = "bom-crlf-extra") -> Path:
    """20 labelled utterances (one with a quoted comma) of which 5 are bad, plus an unlabelled file."""
    texts = [SENTENCES[i % len(SENTENCES)] for i in range(LABELS)]
    texts[5] = "숫자 6 7 9"  # outside the vocabulary
    texts[6] = QUOTED
    write_nsml(root, texts)
    audio = root / "train" / "train_data"
    (audio / "idx_000001").write_bytes(b"\x01\x02\x03")
    (audio / "idx_000002").write_bytes(b"")
    (audio / "idx_000003").unlink()
    with open(audio / "idx_000004", "wb") as handle:
        handle.truncate(HOUR_BYTES)  # an hour of silence that takes no disk
    np.zeros(16000, dtype="<i2").tofile(audio / "orphan")
    rows = [(f"idx_{i:06d}", text) for i, text in enumerate(texts)]
    (root / "train" / "train_label").write_bytes(label_bytes(rows, variant))
    return root


def write_vocab(path: Path) -> Path:
    """kospeech's vocabulary plus the comma (so that the quoted-comma label is kept)."""
    text = KOSPEECH_LABELS.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(text + '\n2001,",",1\n', encoding="utf-8")
    return path


def check_config(vocab: Path) -> TrainConfig:
    return TrainConfig(unit="grapheme", vocab_path=str(vocab))


def assert_reported(problems: dict[str, str]) -> None:
    for name, reason in BAD_INPUT.items():
        assert problems.get(name, "").startswith(reason), (name, problems.get(name))


# ---- bad input, without Ray -------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["bom-crlf-extra", "no-header", "cp949"])
def test_every_bad_input_is_reported_by_name_and_the_rest_is_kept(tmp_path: Path, variant: str) -> None:
    root = write_bad_nsml(tmp_path / "data", variant)
    corpus = load_corpus(root, check_config(write_vocab(tmp_path / "vocab.csv")))
    problems = dict(corpus.report.problems)
    assert_reported(problems)
    assert len(problems) == len(BAD_INPUT)
    kept = {u.name: u.text for u in corpus.train + corpus.val}
    assert len(kept) == KEPT and kept["idx_000006"] == QUOTED
    assert not set(kept) & set(problems)


def test_hour_long_file_is_reported_as_too_long_without_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_bad_nsml(tmp_path / "data")
    hour = root / "train" / "train_data" / "idx_000004"
    assert hour.stat().st_blocks * 512 < HOUR_BYTES // 100  # sparse: the test costs no disk
    assert len(read_pcm(hour)) == HOUR_BYTES // 2  # read_pcm itself copes with it
    decoded: list[str] = []

    def recording_read_pcm(path: Path) -> np.ndarray:
        decoded.append(path.name)
        return read_pcm(path)

    monkeypatch.setattr(corpus_module, "read_pcm", recording_read_pcm)
    corpus = load_corpus(root, check_config(write_vocab(tmp_path / "vocab.csv")))
    assert dict(corpus.report.problems)["idx_000004"] == "too long: 3600.0 s > max_seconds=30.0"
    assert "idx_000004" not in decoded and "idx_000005" in decoded


def test_driver_check_reports_the_same_without_decoding_any_audio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tune_asr.data.corpus import check_corpus

    root = write_bad_nsml(tmp_path / "data")
    config = check_config(write_vocab(tmp_path / "vocab.csv"))
    loaded = load_corpus(root, config).report

    def no_decoding(path: Path) -> np.ndarray:
        raise AssertionError(f"decoded {path.name}")

    monkeypatch.setattr(corpus_module, "read_pcm", no_decoding)
    checked = check_corpus(root, config)
    assert sorted(checked.problems) == sorted(loaded.problems) and checked.kept == loaded.kept == KEPT


def test_strict_search_exits_non_zero_with_the_list_before_ray_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray, "init", refuse_ray)
    space = tmp_path / "space.yaml"
    space.write_text(tiny_space(FAULT_LR, epochs=3, vocab_path=str(write_vocab(tmp_path / "vocab.csv"))), encoding="utf-8")
    data = write_bad_nsml(tmp_path / "data")
    code = main(["--data", str(data), "--space", str(space), "--storage", str(tmp_path / "results"), "--name", "s", "--strict"])
    assert code == 2
    err = capsys.readouterr().err
    assert "strict mode" in err
    for name, reason in BAD_INPUT.items():
        assert f"skipped {name}: {reason}" in err
    assert not (tmp_path / "results" / "s" / "search.json").exists()  # nothing saved: the same command may run again


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--trials", "0"], "--trials"),
        (["--grace-period", "9", "--max-epochs", "3"], "--grace-period"),
        (["--gpus-per-trial", "1.5"], "--gpus-per-trial"),
        (["--data", "NOWHERE"], "NOWHERE"),
        (["--space", "NOWHERE.yaml"], "NOWHERE.yaml"),
    ],
)
def test_bad_flags_fail_before_ray_starts_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, flags: list[str], named: str
) -> None:
    monkeypatch.setattr(ray, "init", refuse_ray)
    flags = [str(tmp_path / f) if f.startswith("NOWHERE") else f for f in flags]
    assert main([*flags, "--storage", str(tmp_path)]) == 2
    assert named in capsys.readouterr().err


# ---- faults in a real search (one subprocess, bounded) ------------------------------------------------------


@pytest.fixture(scope="module")
def fault_search(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("faults")
    space = root / "space.yaml"
    space.write_text(tiny_space(FAULT_LR, epochs=3, vocab_path=str(write_vocab(root / "vocab.csv"))), encoding="utf-8")
    markers = root / "markers"
    spec = root / "faults.json"
    spec.write_text(json.dumps({"dir": str(markers), **FAULTS}), encoding="utf-8")
    storage = root / "results"
    args = ["--data", str(write_bad_nsml(root / "data")), "--space", str(space), "--trials", "5", "--seed", "0",
            "--workers-per-trial", "1", "--scheduler", "fifo", "--storage", str(storage), "--name", "faults"]
    started = time.time()
    done = run_search(args, {FAULTS_ENV: str(spec)})
    print(f"fault search: {time.time() - started:.0f} s")
    trials = ExperimentAnalysis(str(storage / "faults")).trials
    order = {int((markers / f"{t.trial_id}.order").read_text()): t for t in trials if (markers / f"{t.trial_id}.order").exists()}
    attempts = {t.trial_id: len((markers / f"{t.trial_id}.attempts").read_text().split()) for t in trials}
    parents, children = runs(storage, "faults")
    return {"done": done, "storage": storage, "trials": trials, "order": order, "attempts": attempts,
            "children": {r.data.tags[TAG_TRIAL]: r for r in children}, "all_children": children, "parents": parents}


def epochs_reported(fault_search: dict, trial) -> list[int]:
    frame = ExperimentAnalysis(str(fault_search["storage"] / "faults")).trial_dataframes[trial.trial_id]
    return [int(e) for e in frame["epoch"]]


@pytest.mark.slow
def test_fault_search_completes_every_trial_once_with_one_mlflow_run_each(fault_search: dict) -> None:
    done = fault_search["done"]
    assert done.returncode == 0, done.stdout[-5000:]
    trials = fault_search["trials"]
    assert len(trials) == 5 and sorted(fault_search["order"]) == [1, 2, 3, 4, 5]
    assert [t.config["lr"] for _, t in sorted(fault_search["order"].items())] == [DIVERGES, 1e-2, DIVERGES, DIVERGES, 1e-2]
    assert len(fault_search["all_children"]) == 5 == len(fault_search["children"])  # no duplicate runs
    assert len(fault_search["parents"]) == 1 and fault_search["parents"][0].info.status == "FINISHED"
    assert not any(r.info.status == "RUNNING" for r in fault_search["all_children"])


@pytest.mark.slow
def test_bad_input_is_reported_once_by_the_driver_and_trials_train_on_the_rest(fault_search: dict) -> None:
    out = fault_search["done"].stdout
    assert out.count("Data check:") == 1
    for name, reason in BAD_INPUT.items():
        assert f"skipped {name}: {reason}" in out
    loaded = [t.last_result["utterances"] for t in fault_search["trials"] if "utterances" in t.last_result]
    assert loaded and set(loaded) == {KEPT}


@pytest.mark.slow
def test_diverged_trials_are_marked_failed_and_not_retried(fault_search: dict) -> None:
    from tune_asr.results import load_experiment
    from tune_asr.results.experiment import FAILED

    statuses = {t.trial_id: t.status for t in load_experiment(fault_search["storage"] / "faults").trials}
    for ordinal in (1, 3):
        trial = fault_search["order"][ordinal]
        assert trial.status == "ERROR" and trial.last_result["diverged"] == 1
        assert fault_search["attempts"][trial.trial_id] == 1 and trial.run_metadata.num_failures == 1  # no retry
        run = fault_search["children"][trial.trial_id]
        assert run.info.status == "FAILED" and run.data.tags[TAG_FAILURE].startswith("diverged: epoch 1")
        assert statuses[trial.trial_id] == FAILED  # in the leaderboard too


@pytest.mark.slow
def test_out_of_memory_is_retried_per_failure_config_then_marked_failed(fault_search: dict) -> None:
    always, once = fault_search["order"][4], fault_search["order"][5]
    assert fault_search["attempts"][always.trial_id] == 2  # the first try and FailureConfig(max_failures=1)'s retry
    assert always.status == "ERROR"
    run = fault_search["children"][always.trial_id]
    assert run.info.status == "FAILED" and "OutOfMemoryError" in run.data.tags[TAG_FAILURE]
    assert fault_search["attempts"][once.trial_id] == 2
    assert once.status == "TERMINATED" and epochs_reported(fault_search, once) == [1, 2, 3]
    assert fault_search["children"][once.trial_id].info.status == "FINISHED"


@pytest.mark.slow
def test_killed_worker_resumes_from_its_last_checkpoint_without_losing_epochs(fault_search: dict) -> None:
    trial = fault_search["order"][2]
    assert fault_search["attempts"][trial.trial_id] == 2  # the killed attempt and the resumed one
    assert trial.status == "TERMINATED"
    frame = ExperimentAnalysis(str(fault_search["storage"] / "faults")).trial_dataframes[trial.trial_id]
    assert [int(e) for e in frame["epoch"]] == [1, 2, 3]  # contiguous, none repeated, none lost
    assert [int(e) for e in frame["resumed_after_epoch"]] == [0, 1, 1]  # the retry started after epoch 1's checkpoint
    client = MlflowClient(f"sqlite:///{fault_search['storage'] / 'mlflow.db'}")
    run = fault_search["children"][trial.trial_id]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_cer")] == [1, 2, 3]
    assert run.info.status == "FINISHED"


# ---- a driver killed with SIGKILL, then --resume ------------------------------------------------------------

RESUME_LR = "{choice: [1.0e-2, 3.0e-2]}"  # both train
RESUME_EPOCHS = 3
# The third trial to start (it starts once one of the first two has finished) stops after epoch 1's
# checkpoint and waits there to be killed: the kill always finds one trial finished and one running.
HOLD = {"hold": [{"trial": 3, "after_epoch": 1}]}


def poll_until(condition: Callable[[], bool], process: subprocess.Popen, failure: Callable[[], str],
               limit_s: float = HANG_GUARD_S) -> None:
    """Until ``condition()`` holds; fail with ``failure()`` if ``process`` ends first (or hangs)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"{failure()} (exit {process.wait()})")
        time.sleep(0.5)


def child_statuses(storage: Path, name: str) -> dict[str, str]:
    _, children = runs(storage, name)
    return {r.data.tags[TAG_TRIAL]: r.info.status for r in children}


@pytest.mark.slow
def test_driver_killed_with_sigkill_resumes_to_all_trials_without_duplicate_runs(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(tiny_space(RESUME_LR, epochs=RESUME_EPOCHS), encoding="utf-8")
    data = write_nsml(tmp_path / "data", [SENTENCES[i % len(SENTENCES)] for i in range(24)])
    storage, name, db = tmp_path / "results", "killed", tmp_path / "results" / "mlflow.db"
    markers, spec = tmp_path / "markers", tmp_path / "faults.json"
    spec.write_text(json.dumps({"dir": str(markers), **HOLD}), encoding="utf-8")
    args = ["--data", str(data), "--space", str(space), "--trials", "3", "--seed", "0", "--workers-per-trial", "1",
            "--scheduler", "fifo", "--storage", str(storage), "--name", name]
    driver = start_search(args, {FAULTS_ENV: str(spec)}, num_cpus=2)
    poll_until(lambda: any(markers.glob("*.holding")), driver,
               lambda: f"no trial held in {markers}:\n{driver.communicate()[0][-5000:]}")
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and the Ray it started, mid-search
    driver.communicate()
    before = child_statuses(storage, name)
    finished_before = {trial for trial, status in before.items() if status == "FINISHED"}
    assert finished_before and "RUNNING" in before.values()  # the kill left an open run behind
    client = MlflowClient(f"sqlite:///{db}")
    history = {trial: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "val_cer")]
               for trial, run in ((r.data.tags[TAG_TRIAL], r) for r in runs(storage, name)[1]) if trial in finished_before}

    resumed = run_search(["--resume", "--name", name, "--storage", str(storage)], {}, num_cpus=2)
    assert resumed.returncode == 0, resumed.stdout[-5000:]
    trials = ExperimentAnalysis(str(storage / name)).trials
    assert len(trials) == 3 and all(t.status == "TERMINATED" for t in trials)
    parents, children = runs(storage, name)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(r.data.tags[TAG_TRIAL] for r in children) == sorted(t.trial_id for t in trials)  # no duplicates
    assert all(r.info.status == "FINISHED" for r in children)
    for run in children:  # epochs contiguous; trials finished before the kill kept their results unchanged
        trial = run.data.tags[TAG_TRIAL]
        steps = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "val_cer")]
        assert [step for step, _ in steps] == list(range(1, RESUME_EPOCHS + 1))
        if trial in finished_before:
            assert steps == history[trial]


def test_resume_marks_runs_a_killed_driver_left_running_as_killed(tmp_path: Path) -> None:
    from tune_asr.tracking import TAG_ROLE, TAG_SEARCH, MLflowTracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MLflowTracker(uri, "orphans", "search-1", {"trials": 2}, str(tmp_path / "space.yaml"))
    (tmp_path / "space.yaml").write_text("lr: 1.0e-3\n", encoding="utf-8")
    tracker.setup(total_num_samples=2)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("orphans").experiment_id
    tags = {TAG_SEARCH: "search-1", TAG_ROLE: "trial"}
    open_run = client.create_run(experiment, tags={**tags, TAG_TRIAL: "a"}).info.run_id  # RUNNING, as a kill leaves it
    done = client.create_run(experiment, tags={**tags, TAG_TRIAL: "b"}).info.run_id
    client.set_terminated(done, "FINISHED")
    MLflowTracker(uri, "orphans", "search-1", {"trials": 2}, str(tmp_path / "space.yaml")).setup(total_num_samples=2)  # --resume
    assert client.get_run(open_run).info.status == "KILLED"
    assert client.get_run(done).info.status == "FINISHED"
    assert len(client.search_runs([experiment])) == 3  # the parent was found again, not duplicated


# ---- a Train run whose workers never start ------------------------------------------------------------------


@pytest.mark.slow
def test_a_train_run_whose_workers_cannot_start_fails_in_the_stated_time_and_frees_what_it_reserved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another actor holds both CPUs for good, so the run's 2 workers can never be placed: Ray Train alone
    retries for ever. The run must end with one line, and leave no placement group behind (a controller
    killed while it waits for its workers leaves its group to Ray, which keeps it while the search runs)."""
    import yaml

    from trainables.resources import TrialResources
    from trainables.train_run import START_TIMEOUT_ENV, TrainRun, TrainStartTimeout
    from tune_asr.search import init_ray

    monkeypatch.setenv(START_TIMEOUT_ENV, "5")  # the workers can never start: any limit gives the same outcome
    data = write_nsml(tmp_path / "data", [SENTENCES[i % len(SENTENCES)] for i in range(12)])
    init_ray(num_cpus=2)
    try:
        holder = ray.remote(num_cpus=2)(CpuHolder).remote()
        ray.get(holder.ready.remote())  # placed: it holds both CPUs
        run = TrainRun(yaml.safe_load(tiny_space("1.0e-2", epochs=1)), str(data), TrialResources(workers_per_trial=2),
                       str(tmp_path / "train_runs"), "never", False, time.time())
        with pytest.raises(TrainStartTimeout) as raised:
            run.next_result()
        assert str(raised.value) == f"the Train run never: its 2 workers did not start within 5 s ({START_TIMEOUT_ENV} sets the limit)"
        deadline = time.monotonic() + HANG_GUARD_S  # the controller soon asks for its workers' group
        while "PENDING" not in group_states() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "PENDING" in group_states()  # the workers' group, waiting for the held CPUs
        run.close()
        assert set(group_states()) == {"REMOVED"} and not run.thread.is_alive()
        ray.kill(holder)
        assert ray.get(ray.remote(num_cpus=2)(lambda: "ran").remote(), timeout=HANG_GUARD_S) == "ran"  # both CPUs free
    finally:
        ray.shutdown()


def group_states() -> list[str]:
    return sorted(group["state"] for group in ray.util.placement_group_table().values())


class CpuHolder:
    """An actor that only holds the CPUs it was given."""

    def ready(self) -> bool:
        return True


# ---- several nodes: storage every node can reach ----------------------------------------------------------------


def test_local_storage_is_refused_on_a_multi_node_cluster_unless_shared(tmp_path: Path) -> None:
    from tune_asr.search import StorageError, check_storage, filesystem_type

    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\nserver:/export /mnt/shared nfs4 rw 0 0\n", encoding="utf-8")
    assert filesystem_type(Path("/mnt/shared/results"), mounts) == "nfs4"
    assert filesystem_type(Path("/home/me/results"), mounts) == "ext4"
    check_storage(tmp_path, nodes=1, shared=False)  # one node: any path
    check_storage(tmp_path, nodes=2, shared=True)  # declared shared
    with pytest.raises(StorageError, match="--shared-storage"):
        check_storage(tmp_path, nodes=2, shared=False)


WORKER_PORTS_PER_NODE = 64  # worker processes a node may start in the two-node test, with room to spare


def free_port() -> int:
    return free_ports(1)[0]


def start_node(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """``ray start --block ...`` in its own process group, so that stopping it ends this node only."""
    with open(log, "w") as out:
        return subprocess.Popen(["ray", "start", "--block", "--disable-usage-stats", *args], env={**os.environ, **env},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_node(node: subprocess.Popen) -> None:
    """SIGTERM the node's process group, SIGKILL it after 5 s (never ``ray stop``, which ends every Ray here)."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
        try:
            os.killpg(node.pid, sig)
        except ProcessLookupError:
            return
        try:
            node.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.mark.slow
def test_existing_two_node_cluster_runs_trials_on_both_nodes_with_shared_storage_only(tmp_path: Path) -> None:
    import secrets
    import shutil
    import tempfile

    ray_tmp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}  # this cluster's own token
    port = free_port()
    address = f"127.0.0.1:{port}"
    # Each node's own --worker-port-list, drawn at once: two nodes on one machine must not pick from one range.
    ports = [str(p) for p in free_ports(2 * WORKER_PORTS_PER_NODE)]
    head_ports, node2_ports = ",".join(ports[:WORKER_PORTS_PER_NODE]), ",".join(ports[WORKER_PORTS_PER_NODE:])
    nodes: list[subprocess.Popen] = []
    markers = tmp_path / "markers"
    spec = tmp_path / "faults.json"
    spec.write_text(json.dumps({"dir": str(markers), "barrier": 2}), encoding="utf-8")
    env[FAULTS_ENV] = str(spec)  # the nodes' processes train the trials: they read it from the node's environment
    try:
        nodes.append(start_node(["--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
                                 "--temp-dir", str(ray_tmp), "--dashboard-port", str(free_port()),
                                 "--ray-client-server-port", str(free_port()),
                                 "--worker-port-list", head_ports], env, tmp_path / "head.log"))
        poll_until(lambda: "Ray runtime started" in (tmp_path / "head.log").read_text(), nodes[-1],
                   lambda: "ray start failed:\n" + (tmp_path / "head.log").read_text()[-3000:])
        nodes.append(start_node(["--address", address, "--node-ip-address", "127.0.0.1", "--num-cpus", "2",
                                 "--worker-port-list", node2_ports], env, tmp_path / "node2.log"))
        poll_until(lambda: "Ray runtime started" in (tmp_path / "node2.log").read_text(), nodes[-1],
                   lambda: "ray start failed:\n" + (tmp_path / "node2.log").read_text()[-3000:])

        space = tmp_path / "space.yaml"
        space.write_text(tiny_space(RESUME_LR, epochs=2), encoding="utf-8")
        data = write_nsml(tmp_path / "data", [SENTENCES[i % len(SENTENCES)] for i in range(12)])
        storage = tmp_path / "results"
        args = ["--address", address, "--data", str(data), "--space", str(space), "--trials", "3", "--scheduler", "fifo",
                "--workers-per-trial", "1", "--cpus-per-worker", "1.5", "--storage", str(storage), "--name", "cluster"]
        refused = run_search(args, env, num_cpus=None)
        assert refused.returncode == 2 and "2 nodes" in refused.stdout and "--shared-storage" in refused.stdout
        done = run_search([*args, "--shared-storage"], env, num_cpus=None)  # one machine: the path is shared
        assert done.returncode == 0, done.stdout[-5000:]
        trials = ExperimentAnalysis(str(storage / "cluster")).trials
        assert len(trials) == 3 and all(t.status == "TERMINATED" for t in trials)
        # 1.5-CPU trials on two 2-CPU nodes, and the first two wait after their first epoch until both
        # got there: they run at once, one on each node (a reused process may then serve the third on either)
        assert len({t.last_result["node_id"] for t in trials}) == 2
    finally:
        for node in reversed(nodes):
            stop_node(node)
        shutil.rmtree(ray_tmp, ignore_errors=True)
