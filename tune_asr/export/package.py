"""Write an exported model as a folder that ``nsml run`` / ``nsml submit`` (or ``nova``) run as is.

Layout: ``main.py`` (entry point), ``recognizer.py`` (inference), ``tune_asr/`` (the vendored core),
``model/`` (weights, config, vocabulary: the bundle), ``setup.py`` (Docker image and pip packages),
the platform's apt package list, and ``README.md`` with the exact commands.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tune_asr.checkpoint import config_from_checkpoint, vocab_from_state
from tune_asr.export.readme import render_readme
from tune_asr.export.recognizer import Recognizer
from tune_asr.export.vendor import vendor

HERE = Path(__file__).resolve().parent
MAIN_TEMPLATE = HERE / "package_main.py"
RECOGNIZER = HERE / "recognizer.py"
TEMPLATE_IMPORT = "import nsml\n"
BUNDLE_DIR = "model"
# CUDA 12.8 is the last CUDA line that runs the competition's V100s (CUDA 13 dropped Volta).
DEFAULT_IMAGE = "pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime"


class ExportError(ValueError):
    """The export cannot be written as asked; the message says what to change."""


@dataclass(frozen=True)
class Platform:
    """What differs between the 2022 NSML competition and the 2023 ``nova`` one: names only."""

    module: str  # the module main.py imports (same API on both)
    setup_marker: str  # setup.py's first line starts with this, then the Docker image
    apt_file: str  # apt packages to install, one a line

    @property
    def import_line(self) -> str:
        return TEMPLATE_IMPORT if self.module == "nsml" else f"import {self.module} as nsml\n"


PLATFORMS = {
    "nsml": Platform(module="nsml", setup_marker="#nsml:", apt_file="nsml_package.txt"),
    "nova": Platform(module="nova", setup_marker="#!nova:", apt_file="nova_package.txt"),
}


def write_package(
    state: dict[str, Any], out: Path, *, platform: str = "nsml", image: str = DEFAULT_IMAGE, source: str = "", dataset: str = "DATASET"
) -> Path:
    """Write the package for training checkpoint ``state`` into ``out`` (absent or empty) and return it.

    ``source`` says where the weights came from (trial, epoch, CER) and ``dataset`` is the platform's
    dataset name; the README quotes both.
    """
    target = PLATFORMS[platform]
    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out} is not empty; choose a new --out or remove it first")
    out.mkdir(parents=True, exist_ok=True)
    requirements = vendor([RECOGNIZER], [MAIN_TEMPLATE], {"recognizer", "nsml"}, out)
    shutil.copyfile(RECOGNIZER, out / "recognizer.py")
    (out / "main.py").write_text(_main_source(target), encoding="utf-8")
    recognizer = _bundle(state, out / BUNDLE_DIR)
    (out / "setup.py").write_text(_setup_source(target, image, requirements), encoding="utf-8")
    (out / target.apt_file).write_text("", encoding="utf-8")  # raw PCM is read with numpy: no apt package needed
    readme = render_readme(target.module, recognizer.config, len(recognizer.vocab), source,
                           folder=str(out), dataset=dataset, apt_file=target.apt_file)
    (out / "README.md").write_text(readme, encoding="utf-8")
    return out


def _main_source(target: Platform) -> str:
    source = MAIN_TEMPLATE.read_text(encoding="utf-8")
    if source.count(TEMPLATE_IMPORT) != 1:
        raise ExportError(f"{MAIN_TEMPLATE} must hold the line {TEMPLATE_IMPORT!r} exactly once")
    return source.replace(TEMPLATE_IMPORT, target.import_line)


def _bundle(state: dict[str, Any], folder: Path) -> Recognizer:
    """Write weights, config and vocabulary; fail now if the vocabulary CSV does not read back the same."""
    vocab = vocab_from_state(state["vocab"])
    recognizer = Recognizer(config_from_checkpoint(state), vocab, state["model"], device=torch.device("cpu"))
    recognizer.save(folder)
    reread = Recognizer.from_folder(folder, torch.device("cpu")).vocab.symbols
    if reread != vocab.symbols:
        raise ExportError(f"{folder / 'vocab.csv'} reads back as another vocabulary ({len(reread)} vs {len(vocab)} symbols)")
    return recognizer


def _setup_source(target: Platform, image: str, requirements: list[str]) -> str:
    listed = "".join(f"        {req!r},\n" for req in requirements)
    return (
        f"{target.setup_marker} {image}\n"
        f'"""The platform reads the Docker image from the first line and pip-installs install_requires."""\n'
        "from setuptools import setup\n\n"
        "setup(\n"
        "    name='tune-asr-export',\n"
        "    version='1',\n"
        f"    install_requires=[\n{listed}    ],\n"
        ")\n"
    )
