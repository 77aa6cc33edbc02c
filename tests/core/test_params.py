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


@dataclass(frozen=True)
class Gated:
    method: str = param("levelset", "Method", "what to run", choices=("levelset", "igr"))
    eikonal: float = param(0.1, "Eikonal", "IGR weight", minimum=0.0, when={"method": "igr"})
    rate: float = param(0.0, "Rate", "step size (0: automatic)", minimum=0.0, zero="auto")
    field: int = param(128, "Field", "grid", minimum=16, when={"method": "levelset", "kind": ("a", "b")})

    def __post_init__(self):
        validate_config(self)


def test_when_and_zero_describe_applicability_and_automatic_values():
    by = {q.name: q for q in params_of(Gated)}
    assert by["eikonal"].when == (("method", ("igr",)),)
    assert by["eikonal"].applies({"method": "igr"}) and not by["eikonal"].applies({"method": "levelset"})
    # a field the caller does not know about does not hide the setting
    assert by["field"].applies({"method": "levelset"}) and not by["field"].applies({"method": "levelset", "kind": "c"})
    assert by["field"].when_text() == "only when method is levelset and kind is a or b"
    assert by["rate"].value_text(0.0) == "auto" and by["rate"].value_text(0.5) == "0.5"
    assert by["method"].value_text(0) == "0" and by["rate"].value_text(None) == "none"
    p = argparse.ArgumentParser()
    add_arguments(p, Gated)
    text = p.format_help().replace("\n", " ")
    assert "0: auto" in text and "only when method is igr" in " ".join(text.split())
    # the values still travel: configs and sessions are unchanged by when=
    assert config_to_dict(Gated(method="levelset"))["eikonal"] == 0.1
    with pytest.raises(TypeError):
        param(1, "X", "x", when={"method": ()})
