"""``python -m tune_asr.search``: a Ray Tune search (Optuna TPE + ASHA) over DeepSpeech2 trials.

With no arguments it builds the espeak-ng demo corpus once (``results/demo_data``) and runs a small
CPU search of ``search_spaces/default.yaml`` that finishes in minutes on 2 cores. Every trial is a
Ray Train run (``trainables``); every trial is an MLflow child run of the search's parent run
(``mlflow ui --backend-store-uri sqlite:///results/mlflow.db``). Ctrl-C leaves a state that
``--resume`` continues, up to the same number of trials, with the searcher's memory intact.

Ray, Optuna and MLflow are imported where used, so that ``--help`` and a bad flag or space file
answer at once, before anything starts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, replace
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tune_asr.metrics import METRIC, OBJECTIVES, RUNG_METRICS
from tune_asr.ports import free_ports
from tune_asr.search_space import SearchSpace, SpaceError, load_space
from tune_asr.settings import SETTINGS_FILE, SearchSettings, latest_search
from tune_asr.strategy import SCHEDULERS, SEARCHERS, Strategy, StrategyError
from tune_asr.warm_start import load_warm_start, resolve_search

if TYPE_CHECKING:
    from trainables.resources import TrialResources
    from tune_asr.warm_start import PriorTrial

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPACE = Path(str(files("search_spaces").joinpath("default.yaml")))  # package data: any install finds it
DEMO_UTTERANCES = 240
# Flags whose values the saved search fixes; --resume rejects them.
SEARCH_FLAGS = ("data", "space", "trials", "max_epochs", "gpus_per_trial", "workers_per_trial", "cpus_per_worker",
                "seed", "mlflow_uri", "grace_period", "reduction_factor", "searcher", "scheduler", "strict", "time_budget_s",
                "trial_runner", "tpe_startup_trials", "rung_metric", "brackets", "objectives", "warm_start")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tune_asr.search", description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--data", type=Path, help="NSML dataset root (default: the demo corpus, built once under STORAGE/demo_data)")
    add("--space", type=Path, help="search-space YAML (default: search_spaces/default.yaml)")
    add("--trials", type=int, help="number of trials (default: 8)")
    add("--max-epochs", type=int, help="epochs of a trial that ASHA never stops (default: the space's epochs)")
    add("--gpus-per-trial", type=float, help="0: CPU trials; 0.25: four trials share a GPU; 2: two DDP workers, one GPU each (default: 0)")
    add("--workers-per-trial", type=int, help="CPU trials: DDP workers over gloo (default: 1)")
    add("--cpus-per-worker", type=float, help="CPUs per worker (default: one core per worker on CPU, 1 on GPU)")
    add("--name", help="search name: the folder STORAGE/NAME and the MLflow experiment (default: search-<time>)")
    add("--storage", type=Path, default=Path("results"), help="where searches, checkpoints and mlflow.db live (default: results)")
    add("--resume", action="store_true", help="continue the search NAME (default: the latest one under STORAGE)")
    add("--address", help="an existing Ray cluster (default: RAY_ADDRESS, else a new local one)")
    add("--seed", type=int, help="seed of the TPE sampler (default: 0)")
    add("--mlflow-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else sqlite:///STORAGE/mlflow.db)")
    add("--grace-period", type=int, help=f"epochs before ASHA may stop a trial (default: {Strategy.grace_period})")
    add("--reduction-factor", type=float,
        help=f"ASHA keeps 1/this of the trials at each rung (default: {Strategy.reduction_factor:g})")
    add("--rung-metric", choices=RUNG_METRICS,
        help=f"the figure ASHA's rungs compare; the search still minimises val_cer (default: {Strategy.rung_metric}, "
             "which ranks trials that are still tied on CER early in training)")
    add("--brackets", type=int, help=f"ASHA brackets, HyperBand's spread of grace periods (default: {Strategy.brackets})")
    add("--searcher", choices=SEARCHERS, help="Optuna sampler: seeded TPE (default) or random search")
    add("--tpe-startup-trials", type=int,
        help=f"random draws before TPE models the results (default: {Strategy.tpe_startup_trials})")
    add("--objectives", type=_objectives, metavar=",".join(OBJECTIVES[:2]),
        help=f"what the sampler minimises, comma-separated: {METRIC} first, then any of {', '.join(OBJECTIVES[1:])} "
             "(Optuna's multi-objective TPE; the leaderboard marks the Pareto front; early stopping still decides on "
             f"--rung-metric) (default: {METRIC})")
    add("--warm-start", type=Path, nargs="+", metavar="SEARCH",
        help="earlier searches (folders, or names under --storage) whose finished trials the sampler starts from; "
             "trials outside this search's space are skipped and named")
    add("--scheduler", choices=SCHEDULERS, help="asha: stop bad trials early (default); fifo: run every trial to the end")
    add("--time-budget-s", type=float,
        help="stop the search after this many seconds of tuning, running trials included (default: none; "
             "--trials still caps it)")
    add("--shared-storage", action="store_true",
        help="STORAGE is mounted at the same path on every node of the cluster (NFS and the like); "
             "needed with several nodes unless STORAGE is on a network file system")
    add("--trial-runner", choices=["auto", "train"],
        help="auto: one-worker trials train in reused Tune actors, several-worker trials as Ray Train DDP runs "
             "(default); train: every trial a Ray Train run (for side-by-side comparisons)")
    add("--strict", action="store_true", default=None,
        help="stop with the list of bad input files instead of skipping them (checked before Ray starts)")
    return parser.parse_args(argv)


def _objectives(text: str) -> tuple[str, ...]:
    """``--objectives val_cer,rtf`` as a tuple; unknown names are refused when the strategy is checked."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def new_settings(args: argparse.Namespace, space: SearchSpace) -> SearchSettings:
    """Check flags (before Ray starts) and resolve every default; ``space`` is the loaded ``--space``."""
    from trainables.resources import TrialResources
    from tune_asr.tracking_uri import resolve_tracking_uri

    storage = args.storage.resolve()
    name = args.name or time.strftime("search-%Y%m%d-%H%M%S")
    if (storage / name / SETTINGS_FILE).exists():
        raise ValueError(f"{storage / name} already holds a search: pass --resume, or another --name")
    max_epochs = _or(args.max_epochs, space.fixed_value("epochs"))
    trials = _or(args.trials, 8)
    checks = {
        "--trials": (trials >= 1, f"must be at least 1, got {trials}"),
        "--max-epochs": (max_epochs >= 1, f"must be at least 1, got {max_epochs}"),
        "--time-budget-s": (args.time_budget_s is None or args.time_budget_s > 0, f"must be above 0, got {args.time_budget_s}"),
    }
    bad = [f"{flag} {why}" for flag, (ok, why) in checks.items() if not ok]
    if max_epochs >= 1:
        bad += _strategy_problems(args, max_epochs)
    if bad:
        raise ValueError("; ".join(bad))
    if args.data is not None and not (args.data / "train" / "train_label").is_file():
        raise ValueError(f"--data {args.data}: no train/train_label there (expected the NSML layout)")
    resources = TrialResources(_or(args.gpus_per_trial, 0.0), _or(args.workers_per_trial, 1), args.cpus_per_worker)
    return SearchSettings(
        name=name, storage=str(storage),
        data=str((args.data or storage / "demo_data").resolve()), space=str(Path(space.source).resolve()),
        trials=trials, max_epochs=max_epochs,
        gpus_per_trial=resources.gpus_per_trial, workers_per_trial=resources.workers_per_trial,
        cpus_per_worker=args.cpus_per_worker, seed=_or(args.seed, 0),
        grace_period=_or(args.grace_period, Strategy.grace_period),
        reduction_factor=_or(args.reduction_factor, Strategy.reduction_factor),
        mlflow_uri=resolve_tracking_uri(args.mlflow_uri, storage), search_id=uuid.uuid4().hex,
        searcher=_or(args.searcher, Strategy.searcher), scheduler=_or(args.scheduler, Strategy.scheduler),
        strict=bool(args.strict), time_budget_s=args.time_budget_s, trial_runner=_or(args.trial_runner, "auto"),
        tpe_startup_trials=_or(args.tpe_startup_trials, Strategy.tpe_startup_trials),
        rung_metric=_or(args.rung_metric, Strategy.rung_metric), brackets=_or(args.brackets, Strategy.brackets),
        objectives=_or(args.objectives, Strategy.objectives),
        warm_start=tuple(str(resolve_search(path, storage)) for path in args.warm_start or ()),
    )


def _strategy_problems(args: argparse.Namespace, max_epochs: int) -> list[str]:
    """What :class:`Strategy` refuses in the strategy flags, each named by its flag."""
    given = {key: getattr(args, key) for key in ("grace_period", "reduction_factor", "tpe_startup_trials", "brackets", "objectives")}
    try:
        Strategy(max_epochs=max_epochs, **{key: value for key, value in given.items() if value is not None})
    except StrategyError as error:
        return [f"--{key.replace('_', '-')} {why}" for key, why in error.problems]
    return []


def _or(value: Any, default: Any) -> Any:
    """The flag's value if given (0 included), else the default."""
    return default if value is None else value


def import_warm_start(settings: SearchSettings, space: SearchSpace) -> tuple[SearchSettings, list[PriorTrial]]:
    """The finished trials of ``--warm-start``'s searches that fit ``space``; prints how many it imported and
    names each one skipped; the returned settings count the imported trials (the live view says it)."""
    if not settings.warm_start:
        return settings, []
    warm = load_warm_start([Path(path) for path in settings.warm_start], space, settings.objectives)
    print("\n".join([warm.summary(), *(f"  skipped {line}" for line in warm.skipped)]), flush=True)
    return replace(settings, imported_trials=len(warm.trials)), warm.trials


def saved_settings(args: argparse.Namespace) -> SearchSettings:
    """The settings of the search to resume: ``--name``, else the latest search under ``--storage``.

    Flags given again must equal the saved values (re-running the first command with ``--resume``
    added works); a differing flag is refused, naming the saved value.
    """
    storage = args.storage.resolve()
    experiment_dir = storage / args.name if args.name else latest_search(storage)
    if experiment_dir is None:
        raise ValueError(f"--resume: no search found under {storage}")
    if not (experiment_dir / SETTINGS_FILE).is_file():
        raise ValueError(f"--resume: {experiment_dir} holds no search ({SETTINGS_FILE} missing)")
    if not any(experiment_dir.glob("experiment_state-*.json")):
        raise ValueError(f"--resume: {experiment_dir} holds a search that never started (no Ray Tune state); "
                         f"remove that folder and start the search again")
    settings = SearchSettings.load(experiment_dir)
    differing = [f"--{flag.replace('_', '-')} (saved: {getattr(settings, flag)})" for flag in SEARCH_FLAGS
                 if getattr(args, flag) is not None and not _same_as_saved(flag, getattr(args, flag), settings)]
    if differing:
        raise ValueError(f"--resume continues the saved search; these flags differ from it: {', '.join(differing)}")
    return settings


def _same_as_saved(flag: str, given: Any, settings: SearchSettings) -> bool:
    """A flag given again with ``--resume`` equals its saved value (paths resolved, numbers as numbers)."""
    from tune_asr.tracking_uri import resolve_tracking_uri

    saved = getattr(settings, flag)
    if flag == "warm_start":
        return [str(resolve_search(path, Path(settings.storage))) for path in given] == list(saved)
    if flag == "objectives":
        return list(given) == list(saved)
    if flag == "mlflow_uri":
        return resolve_tracking_uri(given, Path(settings.storage)) == saved
    if isinstance(given, Path):
        return str(given.resolve()) == saved
    if isinstance(given, (bool, str)) or saved is None:
        return given == saved
    return float(given) == float(saved)


def ensure_demo_data(settings: SearchSettings) -> None:
    """Build the demo corpus once; written aside and renamed, so Ctrl-C never leaves half of it."""
    target = Path(settings.data)
    if target.exists() or target != Path(settings.storage) / "demo_data":
        return
    from tune_asr.data.demo import make_demo

    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    print(f"Building the demo corpus ({DEMO_UTTERANCES} utterances, espeak-ng) in {target} ...", flush=True)
    make_demo(partial, DEMO_UTTERANCES, seed=0, progress=False)
    partial.rename(target)


def check_data(settings: SearchSettings, space: SearchSpace) -> Path:
    """Validate the data once, on the driver, before Ray starts: print the report of skipped files
    (name and reason each); with ``--strict`` any bad file raises ``DataError`` with that list. Then
    build (or find) the corpus cache, so that trials only map it; returns the cache's folder.

    The checks use the space's fixed values of the fields that decide the data
    (:data:`tune_asr.config.DATA_FIELDS`); trials whose searched values differ validate again with
    their own, quietly.
    """
    from tune_asr.config import data_config
    from tune_asr.data.cache import ensure_cache
    from tune_asr.data.corpus import check_corpus

    try:
        config = data_config(space.fixed_values())
    except ValueError as error:
        raise ValueError(f"{space.source}: {error}") from None
    report = check_corpus(settings.data, config, strict=settings.strict)  # file sizes only: no audio decoded
    if report.problems or report.notes:
        print(f"Data check: {report.summary()}", flush=True)
    # Decode once into the on-disk cache that every trial process maps (tune_asr.data.cache).
    cache = ensure_cache(settings.data, config, progress=True)
    print(cache.summary(), flush=True)
    return cache.path


def build_tuner(settings: SearchSettings, space: SearchSpace, concurrency: int | None, cluster: dict[str, float],
                corpus_cache: Path | None = None, prior: Sequence[PriorTrial] = ()):
    """The saved Tuner (trials, searcher, callbacks) if the experiment folder holds one, else a fresh one
    running at most ``concurrency`` trials at once (None: trials choose their resources, and a
    :class:`~trainables.pacing.ResourceLimiter` starts each when it fits the ``cluster``), its sampler
    starting from ``prior`` (``--warm-start``; a restored searcher already holds them)."""
    from ray import tune

    from trainables.divergence import NoRetryOnDivergence
    from trainables.trial import make_trainable
    from tune_asr.live_view import LiveView
    from tune_asr.tracking import MLflowTracker

    trainable = make_trainable(settings.data, settings.resources, settings.experiment_dir / "train_runs", settings.strict,
                               settings.trial_runner, corpus_cache)
    if tune.Tuner.can_restore(str(settings.experiment_dir)):
        return tune.Tuner.restore(str(settings.experiment_dir), trainable, resume_unfinished=True)

    space = space.with_fixed(epochs=settings.max_epochs)
    tracker = MLflowTracker(settings.mlflow_uri, settings.name, settings.search_id,
                            {k: v for k, v in asdict(settings).items() if k != "search_id"}, settings.space)
    strategy = settings.strategy  # the same builder the replay benchmark drives (tune_asr.strategy)
    searcher, scheduler = strategy.make_searcher(space, prior), strategy.make_scheduler()
    if concurrency is None:
        from trainables.pacing import ResourceLimiter

        searcher = ResourceLimiter(searcher, cluster, settings.resources, settings.trial_runner)
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=settings.trials,
            max_concurrent_trials=concurrency,
            trial_dirname_creator=trial_dirname,
            time_budget_s=settings.time_budget_s,
            reuse_actors=True,  # one-worker trials: one process serves trial after trial (trainables.trial)
        ),
        run_config=tune.RunConfig(
            name=settings.name,
            storage_path=settings.storage,
            callbacks=[tracker, NoRetryOnDivergence()],
            # A retry (or --resume) continues from the trial's own latest checkpoint (trainables.local_run, train_run);
            # Tune's checkpoint after each result only records how far it got (tiny, so all are kept).
            failure_config=tune.FailureConfig(max_failures=1),
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1),
            progress_reporter=LiveView(settings, space),
            verbose=1,
        ),
    )


def trial_dirname(trial) -> str:
    """Short trial folders (Ray's default packs every parameter into the name)."""
    return f"trial_{trial.trial_id}"


def print_summary(results, settings: SearchSettings, seconds: float) -> bool:
    """Print the leaderboard (``tune_asr.results``) and the best checkpoint; returns whether the search is complete."""
    from tune_asr.checkpoint import CHECKPOINT_FILE
    from tune_asr.results import format_leaderboard, leaderboard, load_experiment, write_leaderboard_csv

    experiment = load_experiment(settings.experiment_dir)
    table = leaderboard(experiment)
    write_leaderboard_csv(experiment, table)
    print(f"\n{format_leaderboard(experiment, table)}\n\nSearch time: {seconds:.0f} s")
    if table["val_cer"].notna().any():
        best = table.iloc[0]
        print(f"Best: trial {best['trial']}, val_cer {best['val_cer']:.4f} at epoch {int(best['best_epoch'])}"
              f"\nBest checkpoint: {best['checkpoint']}/{CHECKPOINT_FILE}")
    print(f"MLflow: mlflow ui --backend-store-uri {settings.mlflow_uri}"
          f"\nPlots: python -m tune_asr.results {settings.experiment_dir}")
    complete = results.num_terminated + results.num_errors >= settings.trials
    if not complete and settings.time_budget_s is not None and seconds >= settings.time_budget_s:
        print(f"\nThe time budget ({settings.time_budget_s:.0f} s) is spent: {len(table)} of {settings.trials} trials ran.")
        return True
    if not complete:
        print(f"\nThe search stopped early. Resume it with:\n  python -m tune_asr.search --resume --name {settings.name} "
              f"--storage {settings.storage}")
    return complete


API_SERVER_ENV = "RAY_API_SERVER_ADDRESS"  # where Ray's State API clients look for the cluster's dashboard


def init_ray(address: str | None = None, **kwargs: Any) -> None:
    """Join ``address`` (or ``RAY_ADDRESS``), else start a local Ray whose actors can find it again.

    A trial that ASHA or Ctrl-C kills leaves its Train placement group to a detached cleaner actor,
    which asks Ray's State API whether the trial's controller died. With no address to go by, that
    client scans the host, fails when several Ray clusters run there (other users, other searches),
    and the group leaks: the next trial's workers never start (a hang). A cluster started here
    serves its dashboard on a known port that every actor gets as ``RAY_API_SERVER_ADDRESS``.
    """
    import ray

    if address or os.environ.get("RAY_ADDRESS"):
        ray.init(address=address, log_to_driver=False, **kwargs)
        return
    port = free_ports(1)[0]
    # In the environment the local Ray's processes start with (they inherit it; this process's own is put
    # back after), not as a runtime_env: then the workers Ray starts ahead of need can serve the first
    # trials, where a runtime_env made each wait for a fresh process (BENCHMARKS.md, "Time to first result").
    before = os.environ.get(API_SERVER_ENV)
    os.environ[API_SERVER_ENV] = f"http://127.0.0.1:{port}"
    try:
        ray.init(address="local", dashboard_port=port, log_to_driver=False, **kwargs)
    finally:
        if before is None:
            del os.environ[API_SERVER_ENV]
        else:
            os.environ[API_SERVER_ENV] = before


NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "lustre", "gpfs", "beegfs", "ceph", "glusterfs", "9p",
                       "fuse.s3fs", "fuse.gcsfuse", "fuse.juicefs", "fuse.sshfs", "fuse.glusterfs", "fuse.cephfs")


class StorageError(ValueError):
    """``--storage`` cannot serve this cluster (not every node can reach it)."""


def filesystem_type(path: Path, mounts: Path = Path("/proc/mounts")) -> str | None:
    """The type of the file system holding ``path`` (longest mount point that contains it), if known."""
    try:
        lines = mounts.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    best, kind = "", None
    for line in lines:
        fields = line.split()
        if len(fields) >= 3:
            point = fields[1].replace("\\040", " ")
            if (str(path) == point or str(path).startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                best, kind = point, fields[2]
    return kind


def check_storage(storage: Path, nodes: int, shared: bool) -> None:
    """With several nodes, trials (Train checkpoints, Tune state) must reach ``storage`` from every node:
    a network file system, or a path that ``--shared-storage`` declares mounted alike everywhere."""
    if nodes <= 1 or shared or filesystem_type(storage) in NETWORK_FILESYSTEMS:
        return
    raise StorageError(
        f"--storage {storage} is on a local disk ({filesystem_type(storage) or 'unknown'} file system) but the Ray cluster "
        f"has {nodes} nodes, whose trials could not reach it. Put it on storage that every node mounts at the same path "
        "(e.g. NFS) and pass --shared-storage; see docs/cluster.md")


def run(settings: SearchSettings, space: SearchSpace, address: str | None, resume: bool, shared_storage: bool = False,
        corpus_cache: Path | None = None, prior: Sequence[PriorTrial] = ()) -> bool:
    """Start or join Ray, check that a trial fits the cluster, save a new search's settings, run the
    search (its sampler starting from ``prior``) and print its summary; returns whether it completed."""
    import ray

    from tune_asr.live_view import quiet_ray_startup

    quiet_ray_startup(local_cluster=not ray.is_initialized() and not (address or os.environ.get("RAY_ADDRESS")))
    # Tune's state is saved at most every 10 s by default; trials in reused processes start in under a
    # second, and one started since the last save would be lost (and run again) if the driver died.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "0")
    started_here = not ray.is_initialized()
    store = threading.Thread(target=open_tracking_store, args=(settings.mlflow_uri,), name="mlflow-store", daemon=True)
    store.start()
    if started_here:
        init_ray(address)
    store.join()
    try:
        check_storage(Path(settings.storage), sum(1 for node in ray.nodes() if node["Alive"]), shared_storage)
        cluster = ray.cluster_resources()
        shapes = trial_shapes(space, settings.resources.for_config(space.fixed_values()))
        try:
            for shape in shapes:  # each must fit, or its trials would wait for ever
                concurrency = min(settings.trials, shape.max_concurrent(cluster, settings.trial_runner))
        except ValueError as error:
            raise ClusterError(f"{error}; ask for less (--gpus-per-trial, --workers-per-trial, --cpus-per-worker)") from None
        if len(shapes) > 1:
            concurrency = None  # the trials' resources differ: pace by what each needs
        if cluster.get("GPU") and not any(shape.use_gpu for shape in shapes):
            print("Note: the cluster has GPUs, but trials run on CPU; pass --gpus-per-trial to use them.")
        if not resume:
            settings.save()
        start = time.time()
        results = build_tuner(settings, space, concurrency, cluster, corpus_cache, prior).fit()
        return print_summary(results, settings, time.time() - start)
    finally:
        if started_here:
            ray.shutdown()


def open_tracking_store(tracking_uri: str) -> None:
    """Import MLflow and open the tracking store (a first search builds its tables), in a thread while Ray
    starts: both lie on the way to the first trial (BENCHMARKS.md, "Time to first result"). A store that
    fails here fails again in the tracker's own setup, which reports it."""
    try:
        from tune_asr.tracking import tracking_client

        tracking_client(tracking_uri)
    except Exception:  # noqa: BLE001 -- only a head start; the tracker opens the store again
        pass


def trial_shapes(space: SearchSpace, resources: TrialResources) -> list[TrialResources]:
    """The resources a trial may get: one shape, or one per option of a searched resource key."""
    from trainables.resources import RESOURCE_KEYS
    from tune_asr.search_space import Categorical, Fixed

    shapes = [resources]
    for key, param in space.params.items():
        if key in RESOURCE_KEYS and isinstance(param, Categorical):
            shapes = [shape.for_config({key: option}) for shape in shapes for option in param.options]
        elif key in RESOURCE_KEYS and not isinstance(param, Fixed):
            raise ClusterError(f"{space.source}: {key}: a resource key takes a fixed value or a choice, not a range")
    return list(dict.fromkeys(shapes))


class ClusterError(ValueError):
    """One trial needs more than the Ray cluster has."""


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns 0 when the search completed, 1 when interrupted, 2 on bad input."""
    args = parse_args(argv)
    try:
        settings = saved_settings(args) if args.resume else None
        space = load_space(settings.space if settings else args.space or DEFAULT_SPACE)  # once: every step reads this
        prior: list[PriorTrial] = []
        if settings is None:
            settings, prior = import_warm_start(new_settings(args, space), space)
        ensure_demo_data(settings)
        corpus_cache = check_data(settings, space)  # DataError: --strict and bad files, or nothing usable left
    except (SpaceError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        return 0 if run(settings, space, args.address, args.resume, args.shared_storage, corpus_cache, prior) else 1
    except (StorageError, ClusterError) as error:  # found before anything was saved or run
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
