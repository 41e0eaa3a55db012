"""Which top-level modules a replayed package may import: some distributions and what they require.

The stand-in ``sitecustomize`` blocks everything else, so the replay proves that the package runs
with torch, torchaudio, numpy, Levenshtein and soundfile alone, as on NSML, and not with whatever the project
has installed (Ray, Optuna, MLflow, pandas, the project itself).
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
from collections.abc import Iterable

from packaging.requirements import Requirement


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def required_distributions(names: Iterable[str]) -> set[str]:
    """``names`` and every installed distribution they require, recursively, extras and markers honoured."""
    seen: set[str] = set()
    todo = [(name, frozenset[str]()) for name in names]
    visited: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (_normalise(name), extras) in visited:
            continue
        visited.add((_normalise(name), extras))
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here, so not importable either
        seen.add(_normalise(name))
        for spec in requires:
            requirement = Requirement(spec)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if requirement.marker is None or any(requirement.marker.evaluate(env) for env in environments):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return seen


def importable_names(distributions: Iterable[str]) -> set[str]:
    """Top-level import names provided by ``distributions`` and their requirements."""
    wanted = required_distributions(distributions)
    return {top for top, owners in metadata.packages_distributions().items() if any(_normalise(o) in wanted for o in owners)}
