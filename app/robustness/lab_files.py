"""Files of the Robustness tab: save / load the lab, a user's exported model, a model for
a Compare slot, and the decision-region map as PNG or CSV.

A mixin of ``RobustnessTab``: it uses the tab's lab, widgets and error handler.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog

from levelset_studio.core.errors import LevelSetError
from levelset_studio.core.robust.lab import Lab


class LabFilesMixin:
    """Save / load / export for the Robustness tab (see ``RobustnessTab``)."""

    lab: Lab  # the tab's; so are the widgets and the _handlers this mixin calls

    def _ask_compare_load(self, slot: str) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, f"Load model for {slot}", "", "Lab or checkpoint (*.json *.ckpt *.pt)"
        )
        if path:
            self.load_compare_slot(slot, path)

    def load_compare_slot(self, slot: str, path: str | Path) -> None:
        """Put a saved lab's (or checkpoint's) model into a compare slot; the dataset must match."""
        try:
            other = Lab()
            if str(path).endswith(".json"):
                other.load(path)
                model = other.model
            else:
                from levelset_studio.core.robust import checkpoint

                model = checkpoint.load_classifier(path).model
            if model is None:
                raise LevelSetError("the lab file holds no trained model", path)
        except LevelSetError as exc:
            self._error(str(exc))
            return
        self.compare.set_slot(slot, Path(path).name, model)

    def _ask_user_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load exported model", "", "Exported model (*.pt2 *.pt)")
        if path:
            self.load_user_model(path)

    def load_user_model(self, path: str | Path) -> bool:
        self.ensure_initialized()
        self._stop_all()
        try:
            self.lab.settings = self._read_settings()
            self._refresh_data_view()
            self.lab.load_user_model(path)
        except LevelSetError as exc:
            self._error(str(exc))
            return False
        self._update_buttons()
        self._model_changed()
        return True

    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save lab", "robustness_lab.json", "Lab (*.json)")
        if path:
            self.save_lab(path)

    def _ask_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load lab", "", "Lab (*.json)")
        if path:
            self.load_lab(path)

    def save_lab(self, path: str | Path) -> bool:
        """Settings and seed as JSON, weights as a checkpoint beside it."""
        self.ensure_initialized()
        if self._running("train"):
            self._error("Stop training before saving the lab.")
            return False
        try:
            self.lab.settings = self._read_settings()
            self.lab.save(path)
        except LevelSetError as exc:
            self._error(str(exc))
            return False
        self._set_info(f"Saved lab to {path}")
        return True

    def load_lab(self, path: str | Path) -> bool:
        self.ensure_initialized()
        self._stop_all()
        new = Lab()
        try:
            new.load(path)
        except LevelSetError as exc:
            self._error(str(exc))
            return False
        self.lab = new
        self._show_settings(new.settings)
        model, source, trainer = new.model, new.model_source, new.trainer
        self._initialized = True
        self._refresh_data_view()  # clears the views (and the model it does not know yet)
        new.model, new.model_source, new.trainer = model, source, trainer
        for h in new.history:
            self.curves.add(h.get("epoch", 0), {k: v for k, v in h.items() if k not in ("epoch", "train_time")})
        self._update_buttons()
        self._model_changed()
        self._set_info(f"Loaded lab from {path}")
        return True

    def _ask_export(self, fn, default: str, filt: str) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export", default, filt)
        if path:
            try:
                fn(path)
            except OSError as exc:
                self._error(f"{path}: cannot write ({exc.strerror})")

    def export_map_png(self, path: str | Path) -> Path:
        self.map.grab().save(str(path), "PNG")
        return Path(path)

    def export_map_csv(self, path: str | Path) -> Path:
        """The region grid: x, y, predicted class, confidence (one row per grid cell)."""
        pred, conf = self.map.state.predicted, self.map.state.confidence
        if pred is None:
            raise OSError(0, "no decision regions computed yet")
        h, w = pred.shape
        x0, x1, y0, y1 = self.map.state.extent
        xs, ys = np.linspace(x0, x1, w), np.linspace(y0, y1, h)
        with Path(path).open("w", newline="") as fh:
            wr = csv.writer(fh)
            wr.writerow(["x", "y", "predicted_class", "confidence"])
            for i in range(h):
                for j in range(w):
                    wr.writerow([f"{xs[j]:.5f}", f"{ys[i]:.5f}", int(pred[i, j]), f"{conf[i, j]:.5f}"])
        return Path(path)
