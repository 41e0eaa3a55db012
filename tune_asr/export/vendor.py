"""Copy the core modules a package imports into it, so that NSML runs the code that trained the model.

The modules are found by reading the imports of the package's own files (``recognizer.py`` and the
``main.py`` template) and following every ``tune_asr.*`` import, so the copy can never miss a module
or drift from the project. Each copied module's third-party imports are checked here, at export
time: inference may use only torch, torchaudio, numpy, Levenshtein and soundfile; the optional fine-tune
(the core's training loop) adds tqdm.
"""

from __future__ import annotations

import ast
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import tune_asr

CORE = Path(tune_asr.__file__).resolve().parent
CORE_NAME = "tune_asr"
# import name → requirement for setup.py
INFERENCE_REQUIREMENTS = {"torch": "torch", "torchaudio": "torchaudio", "numpy": "numpy", "Levenshtein": "Levenshtein>=0.25",
                          "soundfile": "soundfile"}  # soundfile: FLAC test files (tune_asr.data.audio imports it only for FLAC)
FINETUNE_REQUIREMENTS = {"tqdm": "tqdm"}  # tune_asr.training's progress bar; imported only by --finetune-epochs


class VendorError(ValueError):
    """A module the package needs imports something NSML must not need; the message names both."""


@dataclass(frozen=True)
class Closure:
    modules: frozenset[Path]  # core files, with the __init__.py of every package above them
    third_party: dict[str, Path]  # top-level import name → the first file that imports it


def module_imports(path: Path) -> set[str]:
    """Absolute module names a file imports, anywhere in it (a function's lazy import included).

    ``from a.b import c`` yields ``a.b`` and ``a.b.c``: ``c`` may be a module or just a name.
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _core_file(name: str) -> Path | None:
    """The file of core module ``name`` (``tune_asr.x.y``), or None when ``name`` is no module."""
    base = CORE.joinpath(*name.split(".")[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def closure(sources: list[Path], local_names: set[str]) -> Closure:
    """Every core module that ``sources`` import, directly or not, and all third-party imports.

    ``local_names`` are top-level modules the package itself provides (``recognizer``, ``nsml``).
    """
    modules: set[Path] = set()
    third_party: dict[str, Path] = {}
    todo = list(sources)
    while todo:
        path = todo.pop()
        for name in sorted(module_imports(path)):
            top = name.partition(".")[0]
            if top == CORE_NAME:
                found = _core_file(name)
                if found is not None and found not in modules:
                    modules.add(found)
                    todo.append(found)
            elif top not in sys.stdlib_module_names and top not in local_names:
                third_party.setdefault(top, path)
    packages = {parent / "__init__.py" for module in modules for parent in module.parents if parent.is_relative_to(CORE)}
    return Closure(frozenset(modules | packages), third_party)


def check_requirements(found: Closure, allowed: dict[str, str], purpose: str) -> None:
    extra = {name: path for name, path in found.third_party.items() if name not in allowed}
    if extra:
        shown = "; ".join(f"{path} imports {name}" for name, path in sorted(extra.items()))
        raise VendorError(f"{purpose} may import only {', '.join(allowed)}: {shown}")


def vendor(inference_sources: list[Path], finetune_sources: list[Path], local_names: set[str], out_dir: Path) -> list[str]:
    """Copy the core modules both closures need to ``out_dir/tune_asr``; return setup.py's requirements."""
    inference = closure(inference_sources, local_names)
    check_requirements(inference, INFERENCE_REQUIREMENTS, "inference")
    everything = closure(inference_sources + finetune_sources, local_names)
    check_requirements(everything, INFERENCE_REQUIREMENTS | FINETUNE_REQUIREMENTS, "fine-tuning")
    for module in sorted(everything.modules):
        target = out_dir / CORE_NAME / module.relative_to(CORE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module, target)
    return [INFERENCE_REQUIREMENTS.get(name) or FINETUNE_REQUIREMENTS[name] for name in sorted(everything.third_party, key=str.lower)]
