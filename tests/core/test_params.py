import argparse
from dataclasses import dataclass

import pytest

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.params import (
    add_arguments,
    config_from_args,
    config_from_dict,
    config_to_dict,
    param,
    params_of,
    validate_config,
)


@dataclass(frozen=True)
class Demo:
    iterations: int = param(100, "Iterations", "training steps", minimum=1, maximum=10**6)
    lr: float = param(1e-3, "Learning rate", "Adam step size", minimum=1e-7, maximum=1.0, advanced=True)
    method: str = param("levelset", "Method", "what to run", choices=("levelset", "igr"))
    eikonal: bool = param(False, "Eikonal", "add the eikonal term")

    def __post_init__(self):
        validate_config(self)


def test_validation_names_field_and_range():
    with pytest.raises(ConfigError, match=r"iterations: 0 is outside \[1, 1e\+06\]"):
        Demo(iterations=0)
    with pytest.raises(ConfigError, match="method"):
        Demo(method="x")
    with pytest.raises(ConfigError, match="lr"):
        Demo(lr=float("nan"))
    assert Demo(iterations="12").iterations == 12


def test_cli_and_dict_round_trip():
    p = argparse.ArgumentParser()
    add_arguments(p, Demo)
    ns = p.parse_args(["--iterations", "5", "--eikonal"])
    cfg = config_from_args(Demo, ns)
    assert cfg.iterations == 5 and cfg.eikonal is True and cfg.method == "levelset"
    assert config_from_dict(Demo, config_to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match="unknown"):
        config_from_dict(Demo, {"bogus": 1})
    assert [q.name for q in params_of(Demo)] == ["iterations", "lr", "method", "eikonal"]
    assert params_of(Demo)[1].advanced
