"""Replay an exported package as NSML runs it: ``nsml run``, then ``nsml submit`` in a fresh process.

``python -m tune_asr.export.replay PACKAGE DATA`` (or ``export-best ... --check DATA``). Both steps
run ``python main.py`` in the package folder with the stand-in ``nsml`` module on PYTHONPATH and
every module but the allowed libraries blocked (see :mod:`tune_asr.export.isolation`):

1. ``main.py --mode train``: the package saves checkpoint 0 through its bound ``save`` into a
   temporary session folder (with ``finetune_epochs``, it then fine-tunes on ``DATA/train``).
2. ``main.py --mode test --pause 1``: ``nsml.paused`` calls the bound ``load`` on that checkpoint and
   the bound ``infer`` on ``DATA/test/test_data``.

The predictions are checked (one per file, sorted) and scored against ``DATA/test/test_label``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from tune_asr.data.audio import AudioError, probe
from tune_asr.data.labels import read_labels
from tune_asr.export.isolation import importable_names
from tune_asr.export.vendor import FINETUNE_REQUIREMENTS, INFERENCE_REQUIREMENTS
from tune_asr.metrics import cer

STANDIN = Path(__file__).resolve().parent / "standin"
FORBIDDEN = ("ray", "optuna", "mlflow", "pandas", "trainables")  # the search's libraries
SUBMIT_LIMIT_S = 3600  # NSML ends a submit session after this long


class ReplayError(RuntimeError):
    """The package failed where NSML would fail it; the message says which step and why."""


@dataclass(frozen=True)
class ReplayResult:
    predictions: list[dict[str, str]]
    cer: float
    audio_seconds: float
    infer_seconds: float  # wall time inside the bound infer only, as the platform's time limit counts it
    infer_cpu_seconds: float  # CPU time of the submit process meanwhile, all threads: less swayed by other processes than wall time
    reports: list[dict]  # what nsml.report received during nsml run (one per fine-tuned epoch)

    @property
    def files(self) -> int:
        return len(self.predictions)

    @property
    def speed(self) -> float:
        """Times faster than real time (the inverse of the real-time factor)."""
        return self.audio_seconds / max(self.infer_seconds, 1e-9)

    @property
    def rtf(self) -> float:
        """The real-time factor the replay measured: infer's seconds per second of test audio (inf without audio)."""
        return self.infer_seconds / self.audio_seconds if self.audio_seconds > 0 else math.inf

    def summary(self) -> str:
        return (f"CER {self.cer:.4f}  files {self.files}  audio {self.audio_seconds:.1f} s  infer {self.infer_seconds:.2f} s  "
                f"(CPU {self.infer_cpu_seconds:.2f} s)  speed {self.speed:.1f}x real time (RTF {self.rtf:.4f})")


def _environment(package: Path, data: Path, session: Path, requirements: list[str], gpus: int) -> dict[str, str]:
    """The stand-in first on PYTHONPATH (inherited entries stay: the allow-list hides all but ``requirements``)."""
    local = {path.stem for path in package.iterdir()} | {path.stem for path in STANDIN.glob("*.py") if not path.stem.startswith("_")}
    env = {key: value for key, value in os.environ.items() if not key.startswith("NSML_LOCAL_")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(STANDIN), os.environ.get("PYTHONPATH")])),
        PYTHONDONTWRITEBYTECODE="1",  # leave the package folder as exported
        TUNE_ASR_REPLAY_ALLOWED=",".join(sorted(importable_names(requirements) | local)),
        NSML_LOCAL_SESSION=str(session),
        NSML_LOCAL_DATASET_PATH=str(data.resolve()),
        NSML_LOCAL_GPU_NUM=str(gpus),
    )
    return env


def _run(step: str, arguments: list[str], package: Path, env: dict[str, str], timeout: float | None = None) -> None:
    command = f"python main.py {' '.join(arguments)}"
    try:
        done = subprocess.run([sys.executable, "main.py", *arguments], cwd=package, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ReplayError(f"{step} ({command}) ran past NSML's {timeout:.0f} s limit") from None
    if done.returncode != 0:
        output = (done.stdout[-2000:] + done.stderr[-4000:]).strip()
        raise ReplayError(f"{step} ({command}) exited with {done.returncode}:\n{output}")


def _check_modules(modules: dict[str, str | None], package: Path) -> None:
    loaded = sorted(name for name in FORBIDDEN if name in modules)
    if loaded:
        raise ReplayError(f"the submit imported {', '.join(loaded)}: NSML will not have them")
    origin = Path(modules.get("tune_asr") or "").resolve()
    if not origin.is_relative_to(package.resolve()):
        raise ReplayError(f"the submit imported tune_asr from {origin}, not from the package's own copy")


def _check_predictions(predictions: object, test_dir: Path) -> list[dict[str, str]]:
    """One ``{'filename', 'text'}`` per file of the test folder, sorted by filename, as NSML expects."""
    files = sorted(path.name for path in test_dir.iterdir() if path.is_file())
    if not isinstance(predictions, list) or not all(isinstance(p, dict) and set(p) == {"filename", "text"} and isinstance(p["text"], str) for p in predictions):
        raise ReplayError("infer must return a list of {'filename': str, 'text': str}")
    names = [p["filename"] for p in predictions]
    if names != sorted(names):
        raise ReplayError("infer's results are not sorted by filename")
    if names != files:
        missing, extra = sorted(set(files) - set(names)), sorted(set(names) - set(files))
        raise ReplayError(f"infer's results do not match the test files one to one (missing {missing[:5]}, unexpected {extra[:5]}, {len(names)} results for {len(files)} files)")
    return predictions


def _score(predictions: list[dict[str, str]], label_path: Path) -> float:
    rows, problems = read_labels(label_path)
    if problems:
        raise ReplayError(f"{label_path}: unusable lines {[p.line for p in problems]}")
    hypotheses = {p["filename"]: p["text"] for p in predictions}
    unknown = sorted({row.filename for row in rows} - set(hypotheses))
    if unknown:
        raise ReplayError(f"{label_path} labels files that infer did not return: {unknown[:5]}")
    return cer([row.text for row in rows], [hypotheses[row.filename] for row in rows])


def _audio_seconds(test_dir: Path) -> float:
    """The test audio's length from its headers (PCM, WAV or FLAC); unreadable files count as none."""
    total = 0.0
    for path in test_dir.iterdir():
        try:
            total += probe(path).seconds if path.is_file() else 0.0
        except (AudioError, OSError):
            continue  # infer transcribed it as '' with a warning; it holds no audio to time
    return total


def replay(package: Path, data: Path, *, finetune_epochs: int = 0) -> ReplayResult:
    """Run ``package`` as ``nsml run`` and ``nsml submit`` would, on ``data``; raise ReplayError where NSML would fail.

    The submit loads the last checkpoint the run saved: 0 (the exported weights), or the last
    fine-tuned epoch. Fine-tuning may import the fine-tune's extra requirements; the submit may not.
    """
    package, data = Path(package).resolve(), Path(data).resolve()
    test_dir, label_path = data / "test" / "test_data", data / "test" / "test_label"
    for required in (package / "main.py", test_dir, label_path):
        if not required.exists():
            raise ReplayError(f"{required} not found")
    inference, gpus = list(INFERENCE_REQUIREMENTS), torch.cuda.device_count()
    train_requirements = inference + list(FINETUNE_REQUIREMENTS) if finetune_epochs else inference
    with tempfile.TemporaryDirectory(prefix="nsml-session-") as temporary:
        session = Path(temporary)
        _run("nsml run", ["--mode", "train", "--finetune-epochs", str(finetune_epochs)], package,
             _environment(package, data, session, train_requirements, gpus))
        checkpoint = str(finetune_epochs)
        if not (session / "checkpoints" / checkpoint).is_dir():
            raise ReplayError(f"nsml run saved no checkpoint {checkpoint!r}")
        submit_env = _environment(package, data, session, inference, gpus)
        submit_env.update(NSML_LOCAL_SUBMIT=checkpoint, NSML_LOCAL_RESULT=str(session / "submit.json"))
        _run("nsml submit", ["--mode", "test", "--pause", "1"], package, submit_env, timeout=SUBMIT_LIMIT_S)
        if not (session / "submit.json").is_file():
            raise ReplayError("nsml submit ended before nsml.paused ran infer")
        result = json.loads((session / "submit.json").read_text(encoding="utf-8"))
        reported = session / "report.jsonl"
        reports = [json.loads(line) for line in reported.read_text(encoding="utf-8").splitlines()] if reported.exists() else []
    _check_modules(result["modules"], package)
    predictions = _check_predictions(result["predictions"], test_dir)
    return ReplayResult(predictions, _score(predictions, label_path), _audio_seconds(test_dir),
                        result["seconds"], result["cpu_seconds"], reports)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tune_asr.export.replay", description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="an exported package folder (export-best --out)")
    parser.add_argument("data", type=Path, help="NSML dataset root holding test/test_data and test/test_label (and train/ to fine-tune)")
    parser.add_argument("--finetune-epochs", type=int, default=0, help="fine-tune this many epochs on DATA/train first")
    args = parser.parse_args(argv)
    try:
        result = replay(args.package, args.data, finetune_epochs=args.finetune_epochs)
    except ReplayError as error:
        print(f"replay failed: {error}", file=sys.stderr)
        return 1
    for report in result.reports:
        print("nsml.report:", json.dumps(report))
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
