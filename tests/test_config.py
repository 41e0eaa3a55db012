import dataclasses
import typing

import pytest

from tune_asr.config import Schedule, TrainConfig
from tune_asr.schedules import SCHEDULES, lr_scale

FIELD_TYPES = typing.get_type_hints(TrainConfig)
LITERAL_FIELDS = [name for name, hint in FIELD_TYPES.items() if typing.get_origin(hint) is typing.Literal]


def test_every_way_of_building_a_config_validates_it() -> None:
    with pytest.raises(ValueError, match="n_mels=4"):
        TrainConfig(n_mels=4, freq_mask_width=2)
    with pytest.raises(ValueError, match="dropout=1.5"):
        dataclasses.replace(TrainConfig(), dropout=1.5)
    with pytest.raises(ValueError, match="freq_mask_width=18"):
        TrainConfig.from_dict({"n_mels": 16})


def test_the_literal_fields_are_found() -> None:
    assert {"unit", "split_by", "rnn_type", "schedule", "precision"} <= set(LITERAL_FIELDS)


@pytest.mark.parametrize("field", LITERAL_FIELDS)
def test_literal_fields_accept_exactly_the_values_their_type_lists(field: str) -> None:
    for value in typing.get_args(FIELD_TYPES[field]):
        assert getattr(dataclasses.replace(TrainConfig(), **{field: value}), field) == value
    with pytest.raises(ValueError, match=f"{field}='not-a-{field}'"):
        dataclasses.replace(TrainConfig(), **{field: f"not-a-{field}"})


def test_the_schedule_table_holds_exactly_the_configurable_schedules() -> None:
    assert set(SCHEDULES) == set(typing.get_args(Schedule))


def test_an_unknown_schedule_name_is_refused_not_treated_as_tri_stage() -> None:
    config = TrainConfig()
    object.__setattr__(config, "schedule", "linear")  # as if validation had been bypassed
    with pytest.raises(ValueError, match="unknown schedule 'linear'; known: constant"):
        lr_scale(config, 100)
