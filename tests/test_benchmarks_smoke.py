"""Every benchmark's ``run.py --smoke`` runs on the CPU, so a change elsewhere cannot leave one broken
until the next GPU call. The figures of a smoke run mean nothing; only that the script completes."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import HANG_GUARD_S
from tune_asr.data.demo import make_demo

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
QUESTIONS = sorted(path.parent.name for path in BENCHMARKS.glob("*/run.py"))
# question → its arguments after --smoke ({demo}: a small spoken corpus, {scratch}: an empty folder),
# and a line its output must hold
SMOKE = {
    "throughput": (["--data", "{demo}"], "| model-alone | "),
    "augmentation": (["--data", "{demo}"], "| augmented | "),
    "inference_rtf": (["--data", "{demo}"], "| CPU, "),
    "inference_cost": (["--data", "{demo}"], "of the epoch it ran in"),
    "ddp_scaling": (["--data", "{demo}", "--storage", "{scratch}"], "| 1 | "),
    "packing": (["--data", "{demo}"], "audio-s trained per GPU-second over the whole command"),
    "search_efficiency": ([], "Ratio TPE + ASHA / random"),
    "corpus_cache": ([], "data part of start-up (load_corpus)"),
    "reused_trials": (["--data", "{demo}"], "| reused | 3 |"),
    "soak": (["--data", "{demo}", "--storage", "{scratch}"], "| trials lost | 0 |"),
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed: the benchmarks' smoke data is spoken demo audio")
    return make_demo(tmp_path_factory.mktemp("smoke") / "demo", 12, seed=0, test_utterances=3, progress=False)


RAY_SMOKES = {"reused_trials", "ddp_scaling", "packing", "soak"}  # they start Ray: part of the slow suite


@pytest.mark.parametrize("question", [pytest.param(q, marks=pytest.mark.slow) if q in RAY_SMOKES else q for q in QUESTIONS])
def test_benchmark_runs_in_smoke_mode(question: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    assert question in SMOKE, f"benchmarks/{question}/run.py has no --smoke entry in SMOKE"
    arguments, expected = SMOKE[question]
    demo = request.getfixturevalue("demo") if "{demo}" in arguments else None
    command = [sys.executable, str(BENCHMARKS / question / "run.py"), "--smoke",
               *(argument.format(demo=demo, scratch=tmp_path) for argument in arguments)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), "CUDA_VISIBLE_DEVICES": "",
           "OMP_NUM_THREADS": "1"}  # on a loaded CPU, spinning torch threads only slow each other
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert expected in done.stdout


def test_every_question_with_a_run_py_is_smoke_tested() -> None:
    assert set(SMOKE) == set(QUESTIONS)
