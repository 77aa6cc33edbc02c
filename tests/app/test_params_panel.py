"""The settings panel is built generically from core.params descriptions."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from levelset_studio.core.errors import ConfigError
from levelset_studio.core.params import param, validate_config

pytestmark = pytest.mark.gui


@dataclass(frozen=True)
class DemoConfig:
    steps: int = param(500, "Steps", "How many steps", minimum=1, maximum=10_000)
    rate: float = param(1e-4, "Learning rate", "Adam step size", minimum=1e-7, maximum=1.0, advanced=True)
    method: str = param("levelset", "Method", "Which loss", choices=("levelset", "igr"))
    fast: bool = param(True, "Fast", "Use the fast path")
    budget: float = param(None, "Time budget", "Seconds (empty: no limit)", kind=float, minimum=0.1, unit="s")
    name: str = param("run", "Name", "A label")

    def __post_init__(self) -> None:
        validate_config(self)


def test_panel_editors_ranges_tooltips_and_advanced(qtbot):
    from levelset_studio.app.widgets.params_panel import ParamsPanel

    panel = ParamsPanel(DemoConfig)
    qtbot.addWidget(panel)
    panel.show()
    steps = panel.editor("steps")
    assert isinstance(steps, QSpinBox) and (steps.minimum(), steps.maximum(), steps.value()) == (1, 10_000, 500)
    rate = panel.editor("rate")
    assert isinstance(rate, QDoubleSpinBox) and rate.value() == pytest.approx(1e-4) and rate.decimals() >= 6
    assert isinstance(panel.editor("method"), QComboBox)
    assert isinstance(panel.editor("fast"), QCheckBox)
    assert isinstance(panel.editor("budget"), QLineEdit)
    assert "How many steps" in steps.toolTip() and "[1, 10000]" in steps.toolTip()
    # the advanced parameter is folded away until asked for
    assert not rate.isVisible()
    panel.advanced_button.setChecked(True)
    assert rate.isVisible()
    cfg = panel.config()
    assert cfg == DemoConfig()
    panel.editor("method").setCurrentIndex(1)
    panel.editor("budget").setText("12.5")
    panel.editor("fast").setChecked(False)
    cfg = panel.config()
    assert (cfg.method, cfg.budget, cfg.fast) == ("igr", 12.5, False)
    panel.set_values({"steps": 42, "budget": None})
    assert panel.values()["steps"] == 42 and panel.values()["budget"] is None
    panel.reset_defaults()
    assert panel.config() == DemoConfig()


def test_panel_reports_invalid_values_by_field(qtbot):
    from levelset_studio.app.widgets.params_panel import ParamsPanel

    panel = ParamsPanel(DemoConfig)
    qtbot.addWidget(panel)
    panel.editor("budget").setText("0.01")
    with pytest.raises(ConfigError, match="budget"):
        panel.config()
    panel.editor("budget").setText("soon")
    with pytest.raises(ConfigError, match="budget"):
        panel.config()


@dataclass(frozen=True)
class GatedConfig:
    method: str = param("levelset", "Method", "Which loss", choices=("levelset", "igr"))
    eikonal: float = param(0.1, "Eikonal", "IGR weight", minimum=0.0, maximum=10.0, when={"method": "igr"})
    rate: float = param(0.0, "Rate", "0: automatic", minimum=0.0, maximum=1.0, zero="auto")
    batch: int = param(0, "Batch", "0: automatic", minimum=0, maximum=100, zero="auto", advanced=True)
    noise: float = param(0.1, "Noise", "only for scans", minimum=0.0, maximum=1.0, when={"dataset": "scan"})

    def __post_init__(self) -> None:
        validate_config(self)


def test_panel_shows_auto_and_hides_settings_that_do_not_apply(qtbot):
    from levelset_studio.app.widgets.params_panel import ParamsPanel

    panel = ParamsPanel(GatedConfig)
    qtbot.addWidget(panel)
    panel.show()
    rate, batch = panel.editor("rate"), panel.editor("batch")
    assert rate.text() == "auto" and batch.text() == "auto"  # not 0.000000
    rate.setValue(0.25)
    assert rate.text() != "auto" and panel.values()["rate"] == pytest.approx(0.25)
    eik = panel.editor("eikonal")
    assert not eik.isVisible() and not panel.applies("eikonal")
    panel.editor("method").setCurrentIndex(1)  # igr
    assert eik.isVisible() and panel.applies("eikonal")
    assert panel.config().eikonal == pytest.approx(0.1)
    panel.editor("method").setCurrentIndex(0)
    assert not eik.isVisible()
    assert panel.config().eikonal == pytest.approx(0.1)  # hidden, not lost
    # a setting gated on another panel's value follows set_context
    noise = panel.editor("noise")
    assert noise.isVisible()
    panel.set_context({"dataset": "mnist"})
    assert not noise.isVisible()
    panel.set_context({"dataset": "scan"})
    assert noise.isVisible()


def test_reconstruction_panel_hides_igr_weights_for_the_level_set_method(qtbot):
    from levelset_studio.app.widgets.params_panel import ParamsPanel
    from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig

    panel = ParamsPanel(ReconstructionConfig)
    qtbot.addWidget(panel)
    panel.show()
    panel.advanced_button.setChecked(True)
    assert panel.editor("learning_rate").text() == "auto"
    assert not panel.editor("eikonal_weight").isVisible() and panel.editor("surface_weight").isVisible()
    panel.set_values({"method": "igr"})
    assert panel.editor("eikonal_weight").isVisible() and not panel.editor("surface_weight").isVisible()
