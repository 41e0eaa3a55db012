"""A local stand-in for NSML's ``nsml`` module, driven by the replay check through the environment.

It keeps one session in ``NSML_LOCAL_SESSION``: ``save(name)`` calls the bound ``save`` on
``SESSION/checkpoints/<name>/``, ``report`` appends to ``SESSION/report.jsonl``. When
``NSML_LOCAL_SUBMIT`` names a checkpoint, ``paused`` plays ``nsml submit``: it calls the bound
``load`` on that checkpoint and the bound ``infer`` on ``DATASET_PATH/test/test_data``, writes the
predictions, the inference time (wall and CPU) and the loaded modules to ``NSML_LOCAL_RESULT`` (JSON), and ends
the process, as the platform ends the session.
"""

import json
import os
import shutil
import sys
import time

__all__ = ["DATASET_PATH", "DATASET_NAME", "HAS_DATASET", "IS_ON_NSML", "GPU_NUM", "bind", "save", "load", "report", "paused"]

DATASET_PATH = os.environ.get("NSML_LOCAL_DATASET_PATH")
DATASET_NAME = os.path.basename(DATASET_PATH or "")
HAS_DATASET = DATASET_PATH is not None
IS_ON_NSML = True  # the replay plays the platform
GPU_NUM = int(os.environ.get("NSML_LOCAL_GPU_NUM", "0"))

_SESSION = os.environ.get("NSML_LOCAL_SESSION", "")
_bound = {}


def bind(save=None, load=None, infer=None, **kwargs):
    _bound.update(save=save, load=load, infer=infer)


def _checkpoint_dir(checkpoint):
    if not _SESSION:
        raise RuntimeError("the stand-in nsml needs NSML_LOCAL_SESSION (set by tune_asr.export.replay)")
    return os.path.join(_SESSION, "checkpoints", str(checkpoint))


def _call(name, *args):
    function = _bound.get(name)
    if function is None:
        raise RuntimeError(f"nsml.{name}: no {name} function bound; call nsml.bind(save=..., load=..., infer=...) first")
    return function(*args)


def save(checkpoint=None, **kwargs):
    """Store a checkpoint under this name through the bound save; the same name overwrites."""
    directory = _checkpoint_dir(checkpoint)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    _call("save", directory)


def load(checkpoint, session=None, **kwargs):
    if session is not None:
        raise NotImplementedError("the stand-in nsml holds one session; load(checkpoint) without session=")
    _call("load", _checkpoint_dir(checkpoint))


def report(summary=False, scope=None, **kwargs):
    """Record scalars; like NSML, anything that is not a JSON scalar (a tensor, an array) is a TypeError."""
    for key, value in kwargs.items():
        if value is not None and type(value) not in (bool, int, float, str):
            raise TypeError(f"nsml.report: {key}={value!r} ({type(value).__name__}) is not a JSON scalar")
    with open(os.path.join(_SESSION, "report.jsonl"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"summary": summary, **kwargs}) + "\n")


def paused(scope=None):
    checkpoint = os.environ.get("NSML_LOCAL_SUBMIT")
    if checkpoint is None:
        raise RuntimeError("nsml.paused outside a submit: the replay sets NSML_LOCAL_SUBMIT to the checkpoint to load")
    load(checkpoint)
    start, cpu_start = time.perf_counter(), time.process_time()
    predictions = _call("infer", os.path.join(DATASET_PATH, "test", "test_data"))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    modules = {name: getattr(module, "__file__", None) for name, module in sys.modules.items() if "." not in name}
    with open(os.environ["NSML_LOCAL_RESULT"], "w", encoding="utf-8") as handle:
        json.dump({"predictions": predictions, "seconds": seconds, "cpu_seconds": cpu_seconds, "modules": modules}, handle, ensure_ascii=False)
    sys.exit(0)
