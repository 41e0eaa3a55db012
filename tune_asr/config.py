"""One typed configuration travels from a search space through Tune into training and checkpoints.

Defaults follow kospeech's DeepSpeech2 recipe, so a checkpoint always says how it was trained.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, fields
from typing import Any, Literal

Unit = Literal["character", "grapheme"]
TextNormalization = Literal["none", "kspon_phonetic", "kspon_spelling"]  # KsponSpeech's dual transcriptions and tags
Schedule = Literal["constant", "warmup_cosine", "tri_stage", "one_cycle"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; every field can be set as ``--set key=value``.

    Every way of building one (the constructor, ``from_dict``, ``dataclasses.replace``) checks the
    values, so an invalid config never reaches training.
    """

    # Data
    unit: Unit = "character"  # output units: syllables (as the seed) or jamo graphemes
    vocab_path: str | None = None  # kospeech labels.csv; None builds one from the training labels
    val_fraction: float = 0.2
    split_by: Literal["text", "file", "speaker"] = "text"  # see tune_asr.data.corpus.split
    min_seconds: float = 0.1
    max_seconds: float = 30.0
    text_normalization: TextNormalization = "none"  # see tune_asr.data.kspon: none, or the phonetic or spelled reading
    # Features (log-mel) and SpecAugment
    n_mels: int = 80
    win_ms: float = 20.0
    hop_ms: float = 10.0
    freq_mask_width: int = 18  # widest frequency mask, in mel bins
    freq_mask_count: int = 2
    time_mask_fraction: float = 0.05  # widest time mask, as a fraction of the utterance's frames
    time_mask_count: int = 4
    # Waveform augmentation of training batches (tune_asr.augment); the defaults leave the audio as it is
    speed_perturb: float = 0.0  # s: each utterance plays at a speed drawn from {1-s, 1, 1+s} (Kaldi's recipe)
    noise_prob: float = 0.0  # share of utterances given coloured noise ...
    noise_snr_db_min: float = 10.0  # ... at an SNR drawn uniformly from [min, max]
    noise_snr_db_max: float = 30.0
    gain_db: float = 0.0  # g: a gain drawn uniformly from [-g, +g] dB
    # Model
    conv_channels: int = 32
    rnn_type: Literal["gru", "lstm"] = "gru"
    rnn_layers: int = 3
    rnn_hidden: int = 1024
    dropout: float = 0.3
    # Optimisation
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-4  # peak learning rate
    weight_decay: float = 1e-5
    schedule: Schedule = "tri_stage"
    warmup_fraction: float = 0.1  # share of optimizer steps spent warming up (not for "constant")
    hold_fraction: float = 0.4  # tri_stage only: share of steps held at the peak
    grad_clip: float = 400.0
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on GPU, fp32 on CPU
    seed: int = 1

    def __post_init__(self) -> None:
        self._validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Build from a mapping, rejecting unknown keys and coercing to the declared types."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown config key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        defaults = cls()
        coerced = {key: _coerce(key, value, getattr(defaults, key)) for key, value in values.items()}
        return dataclasses.replace(defaults, **coerced)

    def with_overrides(self, assignments: list[str]) -> "TrainConfig":
        """Apply ``key=value`` strings (the CLI's ``--set``) on top of this config."""
        values = self.to_dict()
        for assignment in assignments:
            key, sep, raw = assignment.partition("=")
            if not sep:
                raise ValueError(f"--set expects key=value, got {assignment!r}")
            values[key.strip()] = raw.strip()
        return TrainConfig.from_dict(values)

    def _validate(self) -> None:
        checks = {key: getattr(self, key) in allowed for key, allowed in _LITERAL_VALUES.items()}
        checks |= {
            "val_fraction": 0.0 < self.val_fraction < 1.0,
            "min_seconds": 0.0 <= self.min_seconds < self.max_seconds,
            "n_mels": self.n_mels >= 8,
            "hop_ms": 0.0 < self.hop_ms <= self.win_ms,
            "freq_mask_width": 0 <= self.freq_mask_width < self.n_mels,
            "time_mask_fraction": 0.0 <= self.time_mask_fraction < 1.0,
            "freq_mask_count": self.freq_mask_count >= 0,
            "time_mask_count": self.time_mask_count >= 0,
            "speed_perturb": 0.0 <= self.speed_perturb < 0.5 and round(self.speed_perturb, 2) == self.speed_perturb,
            "noise_prob": 0.0 <= self.noise_prob <= 1.0,
            "noise_snr_db_max": self.noise_snr_db_min <= self.noise_snr_db_max,
            "gain_db": 0.0 <= self.gain_db <= 30.0,
            "rnn_layers": self.rnn_layers >= 1,
            "rnn_hidden": self.rnn_hidden >= 1,
            "conv_channels": self.conv_channels >= 1,
            "dropout": 0.0 <= self.dropout < 1.0,
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0.0,
            "warmup_fraction": 0.0 <= self.warmup_fraction < 1.0,
            "hold_fraction": 0.0 <= self.hold_fraction and self.warmup_fraction + self.hold_fraction <= 1.0,
            "grad_clip": self.grad_clip > 0.0,
        }
        bad = [key for key, ok in checks.items() if not ok]
        if bad:
            shown = ", ".join(f"{key}={getattr(self, key)!r}" for key in bad)
            raise ValueError(f"invalid config value(s): {shown}")


# The allowed values of each Literal field, read from its annotation: the type is the one list of them.
_LITERAL_VALUES: dict[str, tuple[Any, ...]] = {
    name: typing.get_args(hint)
    for name, hint in typing.get_type_hints(TrainConfig).items()
    if typing.get_origin(hint) is Literal
}


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Turn CLI strings (and YAML/Tune values) into the type of the field's default."""
    if key == "vocab_path":
        return None if value in (None, "", "none", "None") else str(value)
    try:
        if isinstance(default, int):
            number = float(value)
            if number != int(number):
                raise ValueError
            return int(number)
        if isinstance(default, float):
            return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"config key {key!r} expects {type(default).__name__}, got {value!r}") from None
    return str(value)


# The fields that decide which utterances a run reads and how they are split (load_corpus): trials that
# agree on these share one loaded corpus, and the search driver checks the data with these alone.
DATA_FIELDS = ("unit", "vocab_path", "val_fraction", "split_by", "min_seconds", "max_seconds", "text_normalization", "seed")


def data_config(values: dict[str, Any]) -> TrainConfig:
    """TrainConfig's defaults with only the :data:`DATA_FIELDS` of ``values`` (validated as usual)."""
    return TrainConfig.from_dict({key: value for key, value in values.items() if key in DATA_FIELDS})
