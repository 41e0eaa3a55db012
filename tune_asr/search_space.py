"""Search spaces as YAML files, checked before Ray starts and sampled by Optuna define-by-run.

Each key is a :class:`~tune_asr.config.TrainConfig` field and holds a fixed value or one
distribution::

    n_mels: 40                                          # fixed
    rnn_hidden: {int: {low: 32, high: 96, step: 32}}    # also log: true
    dropout: {uniform: {low: 0.0, high: 0.3}}
    lr: {loguniform: {low: 1.0e-4, high: 3.0e-3}}
    rnn_type: {choice: [gru, lstm]}
    schedule:                                           # a choice whose options carry their own keys
      choice:
        constant: {}
        tri_stage: {warmup_fraction: {uniform: {low: 0.05, high: 0.2}}, hold_fraction: 0.4}

Keys under an option are sampled only in trials that take that option (Optuna's conditional
parameters), so a trial's config holds exactly the keys it uses; the rest keep TrainConfig's defaults.
"""

from __future__ import annotations

import difflib
import random
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol, Union

import yaml

from trainables.resources import RESOURCE_KEYS, TrialResources, split_config
from tune_asr.config import TrainConfig

DISTRIBUTIONS = ("choice", "int", "uniform", "loguniform")
CHECK_SAMPLES = 256  # random draws (corners favoured) checked against TrainConfig's own rules


class SpaceError(ValueError):
    """A search-space file is wrong; the message names the file, the line and the key."""


class SuggestTrial(Protocol):
    """The part of ``optuna.Trial`` a space uses (Ray's captor and the checker provide it too)."""

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...
    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...
    def suggest_categorical(self, name: str, choices: list[Any]) -> Any: ...


@dataclass(frozen=True)
class Fixed:
    value: Any

    def sample(self, trial: SuggestTrial, key: str, out: dict[str, Any]) -> None:
        out[key] = self.value


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    step: int = 1
    log: bool = False

    def sample(self, trial: SuggestTrial, key: str, out: dict[str, Any]) -> None:
        out[key] = trial.suggest_int(key, self.low, self.high, step=self.step, log=self.log)


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False

    def sample(self, trial: SuggestTrial, key: str, out: dict[str, Any]) -> None:
        out[key] = trial.suggest_float(key, self.low, self.high, log=self.log)


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]
    branches: Mapping[Any, Mapping[str, "Param"]]  # option → keys sampled only when it is taken

    def sample(self, trial: SuggestTrial, key: str, out: dict[str, Any]) -> None:
        picked = trial.suggest_categorical(key, list(self.options))
        out[key] = picked
        for sub_key, param in self.branches.get(picked, {}).items():
            param.sample(trial, sub_key, out)


Param = Union[Fixed, IntRange, FloatRange, Choice]


@dataclass(frozen=True)
class SearchSpace:
    """A parsed space; calling it with an Optuna trial returns one trial's TrainConfig values.

    It is a picklable object rather than a closure because Tune pickles the searcher (and this
    define-by-run function with it) into the experiment state that ``--resume`` restores.
    """

    params: Mapping[str, Param]
    source: str

    def __call__(self, trial: SuggestTrial) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, param in self.params.items():
            param.sample(trial, key, out)
        return out

    def fixed_value(self, key: str) -> Any:
        """The value of a fixed top-level key, else TrainConfig's default; error if it is searched."""
        param = self.params.get(key)
        if param is None:
            return getattr(TrainConfig(), key)
        if not isinstance(param, Fixed):
            raise SpaceError(f"{self.source}: {key}: must be a fixed value here, not a distribution")
        return param.value

    def fixed_values(self) -> dict[str, Any]:
        """The top-level keys that every trial shares, with their values."""
        return {key: param.value for key, param in self.params.items() if isinstance(param, Fixed)}

    def with_fixed(self, **values: Any) -> "SearchSpace":
        """A copy with these keys fixed (e.g. ``epochs`` from ``--max-epochs``)."""
        return replace(self, params={**self.params, **{k: Fixed(v) for k, v in values.items()}})


def load_space(path: Path | str) -> SearchSpace:
    """Read and check a space file; any problem raises :class:`SpaceError` before Ray is touched."""
    path = Path(path)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 (SafeLoader subclass)
    except OSError as error:
        raise SpaceError(f"{path}: cannot read the search space: {error.strerror}") from None
    except UnicodeDecodeError:
        raise SpaceError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as error:
        raise SpaceError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, _LineDict):
        raise SpaceError(f"{path}: expected a mapping of TrainConfig keys, got {type(document).__name__}")
    parser = _Parser(str(path))
    space = SearchSpace(params=parser.space(document, under=None), source=str(path))
    _check_samples(space)
    return space


class _LineDict(dict):
    """A YAML mapping that remembers the line of each key, for error messages."""

    lines: dict[Any, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    mapping = _LineDict()
    mapping.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in mapping:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r} (line {line})", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = line
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1 reads 1e-3 (no dot) as text; learning rates are written that way, so read it as a number.
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789")
)

# TrainConfig's fields, and the per-trial resource keys (a space may choose a trial's GPUs, for example).
_FIELD_TYPES: dict[str, Any] = {**typing.get_type_hints(TrainConfig), **RESOURCE_KEYS}


class _Parser:
    """Turns the YAML tree into params, raising at the first problem with file:line: key."""

    def __init__(self, source: str):
        self.source = source
        self.kinds: dict[str, tuple[Any, ...]] = {}  # Optuna needs one distribution kind per name
        self.places: dict[str, list[tuple[str, Any] | None]] = {}  # (choice key, option) or top level

    def fail(self, line: int | None, key: str, message: str) -> typing.NoReturn:
        where = f"{self.source}:{line}" if line else self.source
        raise SpaceError(f"{where}: {key}: {message}")

    def space(self, mapping: _LineDict, under: tuple[str, Any] | None) -> dict[str, Param]:
        params: dict[str, Param] = {}
        for key, raw in mapping.items():
            line = mapping.lines[key]
            if key not in _FIELD_TYPES:
                close = difflib.get_close_matches(str(key), _FIELD_TYPES, n=1)
                hint = f"; did you mean {close[0]}?" if close else f"; known keys: {', '.join(_FIELD_TYPES)}"
                self.fail(line, str(key), f"unknown key (not a TrainConfig field nor a resource key){hint}")
            params[key] = self.param(key, raw, line)
            self.remember(key, params[key], line, under)
        return params

    def remember(self, key: str, param: Param, line: int, under: tuple[str, Any] | None) -> None:
        """A key may sit under several options of one choice (only one is ever taken), nowhere else,
        and Optuna needs the same distribution kind wherever the key is sampled."""
        places = self.places.setdefault(key, [])
        places.append(under)
        if len(places) > 1 and (None in places or len({choice for choice, _ in places}) > 1):
            shown = ", ".join("top level" if p is None else f"{p[0]}: {p[1]}" for p in places)
            self.fail(line, key, f"is set in places that can be active together ({shown}); keep it under one choice's options")
        kind = _kind(param)
        previous = self.kinds.setdefault(key, kind)
        if kind != previous and "fixed" not in (kind[0], previous[0]):
            self.fail(line, key, f"has different distributions under different options ({previous[0]} vs {kind[0]})")

    def param(self, key: str, raw: Any, line: int) -> Param:
        if not isinstance(raw, _LineDict):
            self.check_type(key, raw, line)
            return Fixed(raw)
        if len(raw) != 1:
            self.fail(line, key, f"expected one distribution ({', '.join(DISTRIBUTIONS)}), got keys {', '.join(map(str, raw))}")
        (name, args), = raw.items()
        if name not in DISTRIBUTIONS:
            self.fail(raw.lines[name], key, f"unknown distribution {name!r}; use one of {', '.join(DISTRIBUTIONS)}")
        if name == "choice":
            return self.choice(key, args, line)
        return self.numeric(key, name, args, raw.lines[name])

    def choice(self, key: str, args: Any, line: int) -> Choice:
        if isinstance(args, list) and args:
            options, branches = args, {}
        elif isinstance(args, _LineDict) and args:
            options, branches = list(args), {}
            for option, sub in args.items():
                if sub is None or sub == {}:
                    continue
                if not isinstance(sub, _LineDict):
                    self.fail(args.lines[option], f"{key}: {option}", "an option's value must be a mapping of its own keys (or {})")
                branches[option] = self.space(sub, under=(key, option))
        else:
            self.fail(line, key, "choice needs a non-empty list of options, or a mapping option → its own keys")
        if len(set(map(repr, options))) != len(options):
            self.fail(line, key, "choice lists an option twice")
        for option in options:
            self.check_type(key, option, line)
        return Choice(tuple(options), branches)

    def numeric(self, key: str, name: str, args: Any, line: int) -> IntRange | FloatRange:
        allowed = {"low", "high", "step", "log"} if name == "int" else {"low", "high"}
        if not isinstance(args, _LineDict) or not {"low", "high"} <= set(args) or set(args) - allowed:
            self.fail(line, key, f"{name} takes a mapping with low and high (optional: {', '.join(sorted(allowed - {'low', 'high'})) or 'nothing else'})")
        field_type = _FIELD_TYPES[key]
        if name == "int":
            if field_type is not int:
                self.fail(line, key, f"int range given, but {key} is {_type_name(field_type)}")
            step, log = args.get("step", 1), args.get("log", False)
            for arg, value in (("low", args["low"]), ("high", args["high"]), ("step", step)):
                if not _is_int(value):
                    self.fail(args.lines.get(arg, line), key, f"{arg} must be an integer, got {value!r}")
            if not isinstance(log, bool):
                self.fail(args.lines["log"], key, f"log must be true or false, got {log!r}")
            param: IntRange | FloatRange = IntRange(args["low"], args["high"], step, log)
            if step < 1 or (log and (step != 1 or args["low"] < 1)):
                self.fail(line, key, "step must be >= 1; log needs step 1 and low >= 1")
        else:
            if field_type is not float:
                self.fail(line, key, f"{name} range given, but {key} is {_type_name(field_type)}")
            for arg in ("low", "high"):
                if not _is_number(args[arg]):
                    self.fail(args.lines[arg], key, f"{arg} must be a number, got {args[arg]!r}")
            param = FloatRange(float(args["low"]), float(args["high"]), log=name == "loguniform")
            if param.log and param.low <= 0:
                self.fail(line, key, f"loguniform needs low > 0, got {param.low}")
        if param.low > param.high:
            self.fail(line, key, f"low > high ({param.low} > {param.high})")
        return param

    def check_type(self, key: str, value: Any, line: int) -> None:
        expected = _FIELD_TYPES[key]
        if not _matches(value, expected):
            self.fail(line, key, f"expected {_type_name(expected)}, got {value!r}")


def _kind(param: Param) -> tuple[Any, ...]:
    if isinstance(param, Choice):
        return ("choice", param.options)
    if isinstance(param, IntRange):
        return ("int", param.log)
    if isinstance(param, FloatRange):
        return ("float", param.log)
    return ("fixed",)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _matches(value: Any, expected: Any) -> bool:
    origin = typing.get_origin(expected)
    if origin is Literal:
        return value in typing.get_args(expected)
    if origin is Union:
        return any(_matches(value, option) for option in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if expected is int:
        return _is_int(value)
    if expected is float:
        return _is_number(value)
    return isinstance(value, expected)


def _type_name(expected: Any) -> str:
    origin = typing.get_origin(expected)
    if origin is Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(expected)))
    if origin is Union:
        return " or ".join(_type_name(option) for option in typing.get_args(expected))
    return "null" if expected is type(None) else expected.__name__


class _CornerTrial:
    """Draws bounds more often than inner values: TrainConfig's cross-field rules break at corners."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        return self.rng.choice([low, high, low + step * self.rng.randint(0, (high - low) // step)])

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return self.rng.choice([low, high, self.rng.uniform(low, high)])

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        return self.rng.choice(choices)


def _check_samples(space: SearchSpace) -> None:
    """Catch combinations TrainConfig rejects (e.g. freq_mask_width >= n_mels) before any trial runs."""
    rng = random.Random(0)
    for _ in range(CHECK_SAMPLES):
        values = space(_CornerTrial(rng))
        train, resources = split_config(values)
        try:
            TrainConfig.from_dict(train)
            TrialResources().for_config(resources)
        except ValueError as error:
            raise SpaceError(f"{space.source}: the space can produce an invalid config: {error}; e.g. {values}") from None

