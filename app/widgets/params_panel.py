"""A settings panel built from a config's parameter descriptions (core.params).

The same descriptions build the CLI flags and the session files, so labels, help
texts, defaults and ranges are identical everywhere. Any frozen config dataclass
declared with ``core.params.param`` works: the Reconstruct tab uses it for the
reconstruction, cleaning and Poisson settings, the Robustness tab for its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from levelset_studio.core.params import Param, config_from_dict, config_to_dict, params_of

_INT_LIMIT = 2**31 - 1
_FLOAT_LIMIT = 1e12


def _decimals_for(p: Param) -> int:
    """Enough decimals to show the default and the minimum (e.g. 1e-4 -> 6)."""
    vals = [abs(float(v)) for v in (p.default, p.minimum) if isinstance(v, (int, float)) and v]
    if not vals:  # e.g. 0 meaning "automatic": small ranges need room for small values
        return 6 if p.maximum is not None and p.maximum <= 1 else 3
    smallest = min(vals)
    return int(min(10, max(2, -math.floor(math.log10(smallest)) + 2)))


def _step_for(p: Param) -> float:
    """A tenth of the default's order of magnitude (0.1 when the default is 0)."""
    v = abs(float(p.default)) if isinstance(p.default, (int, float)) and p.default else 1.0
    return 10 ** math.floor(math.log10(v)) / 10


def tooltip_for(p: Param) -> str:
    unit = f" [{p.unit}]" if p.unit else ""
    zero = f" (0: {p.zero})" if p.zero else ""
    when = f"\nApplies {p.when_text()}." if p.when else ""
    return (
        f"{p.help}{unit}\nDefault: {p.value_text(p.default)}; allowed: {p.range_text()}{zero}{when}"
        f"\n(--{p.name.replace('_', '-')})"
    )


class ParamsPanel(QWidget):
    """One editor per parameter; advanced ones folded away under "Advanced".

    ``values()`` returns the raw field values, ``config()`` builds (and so validates)
    the config and raises ``core.errors.ConfigError`` with a message naming the field.
    A setting whose ``when`` does not hold (given this panel's values and the context
    set by :meth:`set_context`, e.g. another panel's dataset) is hidden; its value stays.
    A setting with ``zero`` shows that word ("auto", "off") instead of 0.
    """

    changed = Signal()

    def __init__(
        self,
        config_cls: type,
        parent: QWidget | None = None,
        *,
        exclude: Iterable[str] = (),
        values: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(parent)
        self.config_cls = config_cls
        skip = set(exclude)
        self.params: list[Param] = [p for p in params_of(config_cls) if p.name not in skip]
        self._editors: dict[str, QWidget] = {}
        self._labels: dict[str, QLabel] = {}
        self._forms: dict[str, QFormLayout] = {}
        self._context: dict[str, Any] = {}

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        basic = QFormLayout()
        outer.addLayout(basic)
        self.advanced_button = QToolButton(self)
        self.advanced_button.setText("Advanced")
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_box = QWidget(self)
        adv = QFormLayout(self.advanced_box)
        adv.setContentsMargins(12, 0, 0, 0)
        outer.addWidget(self.advanced_button)
        outer.addWidget(self.advanced_box)
        self.advanced_box.setVisible(False)
        self.advanced_button.toggled.connect(self._toggle_advanced)

        n_adv = 0
        for p in self.params:
            editor = self._make_editor(p)
            editor.setToolTip(tooltip_for(p))
            editor.setObjectName(f"param_{p.name}")
            label = QLabel(p.label + (f" [{p.unit}]" if p.unit else ""))
            label.setToolTip(tooltip_for(p))
            form = adv if p.advanced else basic
            form.addRow(label, editor)
            n_adv += p.advanced
            self._editors[p.name] = editor
            self._labels[p.name] = label
            self._forms[p.name] = form
        self.advanced_button.setVisible(n_adv > 0)
        if values:
            self.set_values(values)
        self.changed.connect(self._update_applicable)
        self._update_applicable()

    # -- editors -----------------------------------------------------------------
    def _make_editor(self, p: Param) -> QWidget:
        if p.choices is not None:
            w = QComboBox(self)
            for c in p.choices:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(self.changed)
        elif p.kind is bool:
            w = QCheckBox(self)
            w.toggled.connect(self.changed)
        elif p.kind is int and not p.optional:
            w = QSpinBox(self)
            w.setRange(
                int(p.minimum) if p.minimum is not None else -_INT_LIMIT,
                int(p.maximum) if p.maximum is not None else _INT_LIMIT,
            )
            w.setSingleStep(max(1, int(abs(p.default or 1)) // 10) if abs(p.default or 0) >= 100 else 1)
            if p.zero and w.minimum() == 0:
                w.setSpecialValueText(p.zero)  # shown at the minimum, 0
            w.valueChanged.connect(self.changed)
        elif p.kind is float and not p.optional:
            w = QDoubleSpinBox(self)
            w.setDecimals(_decimals_for(p))
            w.setRange(
                float(p.minimum) if p.minimum is not None else -_FLOAT_LIMIT,
                float(p.maximum) if p.maximum is not None else _FLOAT_LIMIT,
            )
            w.setSingleStep(_step_for(p))
            if p.zero and w.minimum() == 0:
                w.setSpecialValueText(p.zero)  # shown at the minimum, 0
            w.valueChanged.connect(self.changed)
        else:  # strings and optional numbers: free text, empty = not set
            w = QLineEdit(self)
            if p.optional:
                w.setPlaceholderText("not set")
            w.textChanged.connect(self.changed)
        self._set_editor(p, w, p.default)
        return w

    def _set_editor(self, p: Param, w: QWidget, value: Any) -> None:
        if isinstance(w, QComboBox):
            idx = w.findData(value)
            if idx < 0:
                idx = w.findText(str(value))
            if idx >= 0:
                w.setCurrentIndex(idx)
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QSpinBox):
            w.setValue(int(value))
        elif isinstance(w, QDoubleSpinBox):
            w.setValue(float(value))
        elif isinstance(w, QLineEdit):
            w.setText("" if value is None else str(value))

    def _get_editor(self, p: Param, w: QWidget) -> Any:
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QSpinBox):
            return w.value()
        if isinstance(w, QDoubleSpinBox):
            return w.value()
        text = w.text().strip()  # type: ignore[union-attr]
        if text == "" and p.optional:
            return None
        return text  # coerced (and validated) by the config

    def _update_applicable(self) -> None:
        values = {**self._context, **self.values()}
        any_advanced = False
        for p in self.params:
            on = p.applies(values)
            self._forms[p.name].setRowVisible(self._editors[p.name], on)
            any_advanced |= p.advanced and on
        self.advanced_button.setVisible(any_advanced)

    def _toggle_advanced(self, on: bool) -> None:
        self.advanced_box.setVisible(on)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    # -- public API --------------------------------------------------------------
    def editor(self, name: str) -> QWidget:
        return self._editors[name]

    def applies(self, name: str) -> bool:
        """Whether setting ``name`` is shown (its ``when`` holds)."""
        p = next(q for q in self.params if q.name == name)
        return p.applies({**self._context, **self.values()})

    def set_context(self, values: Mapping[str, Any]) -> None:
        """Values of settings shown elsewhere (another panel) that ``when`` may name."""
        self._context = dict(values)
        self._update_applicable()

    def values(self) -> dict[str, Any]:
        """The field values as shown (not yet validated)."""
        return {p.name: self._get_editor(p, self._editors[p.name]) for p in self.params}

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show ``values`` (unknown names are ignored; missing ones keep their value)."""
        for p in self.params:
            if p.name in values:
                self._set_editor(p, self._editors[p.name], values[p.name])

    def config(self, **overrides: Any) -> Any:
        """The validated config; raises ConfigError naming the bad field."""
        values = self.values()
        values.update(overrides)
        return config_from_dict(self.config_cls, values)

    def set_config(self, config: Any) -> None:
        self.set_values(config_to_dict(config))

    def reset_defaults(self) -> None:
        self.set_values({p.name: p.default for p in self.params})
