"""Hides every module outside an allow-list from a replayed package's process.

Python imports ``sitecustomize`` at start-up from PYTHONPATH, where the replay puts this folder.
``TUNE_ASR_REPLAY_ALLOWED`` lists the importable top-level names beyond Python's own library (the
allowed libraries and their dependencies, the package's modules, the stand-ins). Every import
finder is wrapped so that any other top-level module is "not found", exactly as if it were not
installed (``importlib.util.find_spec`` returns None, ``import`` raises ModuleNotFoundError). A
package that needs Ray, Optuna, MLflow or pandas therefore fails the replay, not NSML.
"""

import os
import sys
from importlib.machinery import BuiltinImporter, FrozenImporter

_ALLOWED = os.environ.get("TUNE_ASR_REPLAY_ALLOWED")
_STDLIB = os.path.dirname(os.__file__) + os.sep


def _in_stdlib(spec):
    """Python's own modules, some of which (``_sysconfigdata_*``) are in no list of names."""
    origin = spec.origin if spec.origin and os.path.isabs(spec.origin) else ""
    inside = origin[len(_STDLIB):].split(os.sep) if origin.startswith(_STDLIB) else []
    return bool(inside) and "site-packages" not in inside and "dist-packages" not in inside


class _AllowListFinder:
    """Wraps a finder: a top-level module it finds is returned only when allowed."""

    def __init__(self, finder, allowed):
        self.finder, self.allowed = finder, allowed

    def find_spec(self, fullname, path=None, target=None):
        spec = self.finder.find_spec(fullname, path, target)
        if spec is None or path is not None or fullname in self.allowed or _in_stdlib(spec):
            return spec  # (a submodule's parent package was allowed already)
        return None

    def invalidate_caches(self):
        getattr(self.finder, "invalidate_caches", lambda: None)()


if _ALLOWED is not None:
    _allowed = set(filter(None, _ALLOWED.split(","))) | set(sys.stdlib_module_names) | set(sys.builtin_module_names)
    sys.meta_path[:] = [
        finder if finder in (BuiltinImporter, FrozenImporter) else _AllowListFinder(finder, _allowed) for finder in sys.meta_path
    ]
