"""Short column names for searched parameters, derived from the names themselves: the live view's and
the leaderboard's columns, each spelled out once in a legend."""

from __future__ import annotations

from collections.abc import Iterable


def abbreviations(names: Iterable[str]) -> dict[str, str]:
    """Short, unique names, the same for the same set every time: the initials of the words of a
    ``snake_case`` name (``freq_mask_width`` -> ``fmw``), the first three letters of a one-word name
    (``dropout`` -> ``dro``). Names whose short forms clash all take one more letter per word until
    none clash; a name never gets longer than itself."""
    names = sorted(set(names))
    letters = dict.fromkeys(names, 1)
    while True:
        short = {name: _shorten(name, letters[name]) for name in names}
        clashing = [name for name in names if list(short.values()).count(short[name]) > 1 and short[name] != name]
        if not clashing:
            return short
        for name in clashing:
            letters[name] += 1


def _shorten(name: str, letters: int) -> str:
    words = [word for word in name.split("_") if word]
    if letters >= max(map(len, words), default=0):
        return name  # as long as it can get: the name itself, unique among the names
    short = "".join(word[:letters] for word in words) if len(words) > 1 else name[:letters + 2]
    return short if len(short) < len(name) else name
