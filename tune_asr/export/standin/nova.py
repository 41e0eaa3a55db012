"""The 2023 competition's ``nova`` module: NSML's API under another name, so the same stand-in."""

from nsml import *  # noqa: F403 (the whole public API)
from nsml import __all__  # noqa: F401
