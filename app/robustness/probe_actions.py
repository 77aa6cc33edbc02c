"""Gallery, noise, transformations, saliency and Compare (a mixin of ``RobustnessTab``).

Each action snapshots the model, runs one ``core.robust.probes`` (or lab) call in the
tab's runner, and hands the result to its panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from levelset_studio.core.events import Finished
from levelset_studio.core.robust import probes
from levelset_studio.core.robust.lab import ComparedCurve, ComparedSection

GALLERY_SIZE = 60  # test images in the gallery (and searched for their worst transformation)


class ProbeActionsMixin:
    """Gallery, noise, transformations, saliency and Compare (uses the tab's lab, runner and widgets)."""

    # ============================================================== gallery
    def _on_gallery_event(self, ev: Any) -> None:
        if isinstance(ev, Finished):
            self._gallery_data = ev.result
            self._show_gallery()

    def _show_gallery(self) -> None:
        """The gallery as chosen: the test images, or each under its worst transformation."""
        ds = self.lab.dataset
        if ds is None or self._gallery_data is None:
            return
        images, labels, preds = self._gallery_data
        notes = None
        if self.image_page.show_combo.currentData() == "worst" and self._worst is not None:
            w = self._worst
            images, preds = w.images, w.predicted
            notes = [f"{a:+.0f}° {sx:+.0f},{sy:+.0f}px" for a, sx, sy in w.params]
        sel = self.gallery.currentRow()
        self.gallery.set_images(images, labels, preds, ds.class_names, notes=notes)
        if sel >= 0:
            self.gallery.blockSignals(True)
            self.gallery.setCurrentRow(sel)
            self.gallery.blockSignals(False)

    # ============================================================== noise, transformations, saliency
    def _probe_selection(self) -> None:
        """Random lines through a clicked 2D point; the saliency of a selected image."""
        if self.selection is None or self.lab.model is None or self.lab.dataset is None:
            return
        set_name, index = self.selection
        model, ds, seed = self.lab.snapshot_model(), self.lab.dataset, self.lab.settings.seed
        if ds.is_2d:
            self._run("point_noise", lambda tok: probes.point_noise(ds, model, set_name, index, seed=seed))
        else:
            name = self._model_name()
            self._run("saliency", lambda tok: probes.saliency_pair(ds, {name: model}, index, seed=seed))

    def _on_point_noise_event(self, ev: Any) -> None:
        if isinstance(ev, Finished):
            r: probes.PointNoise = ev.result
            self.last_point_noise = r
            self.map.set_noise(r.x, r.hits)

    def _on_saliency_event(self, ev: Any) -> None:
        if isinstance(ev, Finished) and self.lab.dataset is not None:
            self.saliency_view.set_pair(ev.result, self.lab.dataset.class_names)

    def measure_noise(self) -> None:
        """Random-direction against DeepFool distance and Gaussian-noise accuracy, in the background."""
        if self.lab.model is None or self.lab.dataset is None:
            self._error("Train or load a model first.")
            return
        model, ds, name, seed = self.lab.snapshot_model(), self.lab.dataset, self._model_name(), self.lab.settings.seed
        self.noise_panel.set_busy("noise", True)
        self._run("noise", lambda tok: probes.noise_summary(ds, model, name, seed=seed, cancel=tok))

    def _on_noise_event(self, ev: Any) -> None:
        if isinstance(ev, Finished):
            r: probes.NoiseSummary = ev.result
            self.noise_panel.set_busy("noise", False)
            self.noise_panel.set_noise(r.report, r.model_name)

    def search_transformations(self) -> None:
        """The worst rotation / shift of each gallery image, in the background."""
        ds = self.lab.dataset
        if self.lab.model is None or ds is None:
            self._error("Train or load a model first.")
            return
        if ds.is_2d:
            self._error("Rotations and shifts need an image dataset (digits or MNIST).")
            return
        model, seed = self.lab.snapshot_model(), self.lab.settings.seed
        n = min(GALLERY_SIZE, len(ds.y_test))
        self.noise_panel.set_busy("transform", True)
        self._run("transform", lambda tok: probes.transform_summary(ds, model, n, seed=seed, cancel=tok))

    def _on_transform_event(self, ev: Any) -> None:
        if isinstance(ev, Finished):
            self._worst = ev.result
            self.noise_panel.set_busy("transform", False)
            self.noise_panel.set_transform(self._worst.report)
            self.image_page.enable_worst(True)
            self._show_gallery()

    # ============================================================== compare
    def _model_name(self) -> str:
        s = self.lab.settings
        if self.lab.model_source:
            return Path(self.lab.model_source).name
        method = getattr(s.train, "method", "")
        return f"{method} {s.model.arch} ({self.lab.dataset.name if self.lab.dataset else s.dataset.name}, {len(self.lab.history)} epochs)"

    def set_compare_slot(self, slot: str) -> None:
        if self.lab.model is None:
            self._error("Train or load a model first, then put it in slot " + slot + ".")
            return
        self.compare.set_slot(slot, self._model_name(), self.lab.snapshot_model())

    def run_compare(self) -> None:
        if not self.compare.ready():
            self._error("Put a model in both A and B first.")
            return
        sel = self._selected_input()
        if sel is None:
            self._error("No dataset loaded.")
            return
        x, y, name = sel
        slots = {s: self.compare.model(s) for s in ("A", "B")}
        attack = "pgd" if self.attack_combo.currentText() == "deepfool" else self.attack_combo.currentText()
        self.compare.clear_results()
        self.compare.status.setText(f"Comparing at {name}…")

        def job(tok):
            return self.lab.compare_job(slots, x, y, attack, tok)

        self._run("compare", job)
        ds = self.lab.dataset
        if ds is not None and not ds.is_2d and self.selection is not None:
            index = self.selection[1]
            models = {f"{s}: {slots[s][0]}": slots[s][1] for s in ("A", "B")}  # type: ignore[index]
            seed = self.lab.settings.seed
            self._run("compare_saliency", lambda tok: probes.saliency_pair(ds, models, index, seed=seed))

    def _on_compare_event(self, ev: Any) -> None:
        if isinstance(ev, ComparedSection):
            r = ev.analysis
            self.compare.sections[ev.slot].set_section(
                r.a, r.b, r.classes, r.loss, r.num_classes, r.label, r.boundary_distance
            )
            self.compare.curvature.set_profile(r.model_name, r.eigenvalues)
        elif isinstance(ev, ComparedCurve):
            c = ev.curve
            self.compare.eps_curve.set_curve(c.model_name, c.eps, c.accuracy, xlabel="eps (L-inf)")
            if ev.slot == "B":
                self.compare.status.setText("Done.")

    def _on_compare_saliency_event(self, ev: Any) -> None:
        if isinstance(ev, Finished) and self.lab.dataset is not None:
            self.compare.saliency.set_pair(ev.result, self.lab.dataset.class_names)
