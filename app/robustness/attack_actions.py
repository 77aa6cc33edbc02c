"""Attacks and analysis of the selected input (a mixin of ``RobustnessTab``).

Clicking a 2D point or selecting an image attacks it (PGD and DeepFool paths on the map,
or the chosen attack in the image view) and analyzes it (cross-section, curvature,
accuracy against eps); the jobs run in the tab's runner, their results are drawn here.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor

from levelset_studio.app.robustness.widgets.region_map import AttackPath
from levelset_studio.core.events import Finished
from levelset_studio.core.robust.lab import EpsCurve, ImageAttack, PointAnalysis, PointAttack

PGD_COLOR = QColor("#d62728")
DEEPFOOL_COLOR = QColor("#111111")


class AttackActionsMixin:
    """Attack and analyze the selected input (uses the tab's lab, runner and widgets)."""

    # ============================================================== attacks
    def _attack_settings_changed(self) -> None:
        self._update_eps_label()
        self.map.set_eps(self.eps, self.attack_norm())
        if self.selection is not None and self.lab.model is not None:
            self._attack_timer.start()

    def attack_norm(self) -> str:
        return self.controls.attack_norm()

    def select_point(self, set_name: str, index: int) -> None:
        """Attack one input (a 2D point or a test image) and analyze it."""
        self.ensure_initialized()
        self.selection = (set_name, int(index))
        if self.lab.model is None:
            self._set_info("Train a model (or load one) first.")
            return
        self._attack_selection()
        self._analyze_selection()
        self._probe_selection()

    def _attack_selection(self) -> None:
        if self.selection is None or self.lab.model is None or self.lab.dataset is None:
            return
        set_name, index = self.selection
        model = self.lab.snapshot_model()
        eps = self.eps
        if self.lab.dataset.is_2d:
            norm = self.attack_norm()
            self._run("attack", lambda tok: self.lab.attack_point(model, set_name, index, eps, norm))
        else:
            attack = self.attack_combo.currentText()
            self._run("attack", lambda tok: self.lab.attack_image(model, index, attack, eps))

    def _on_attack_event(self, ev: Any) -> None:
        if not isinstance(ev, Finished):
            return
        r = ev.result
        ds = self.lab.dataset
        if isinstance(r, PointAttack):
            self.last_point_attack = r
            names = ds.class_names if ds is not None else [str(k) for k in range(10)]
            pgd_txt = f"PGD (eps {r.eps:.3f}, {'L2' if r.norm == 'l2' else 'L-inf'}): {'fooled → ' + str(names[r.pgd_pred]) if r.pgd_fooled else 'not fooled'}"
            df_txt = f"DeepFool: minimal ||r||₂ = {r.deepfool_norm:.4f}" + (
                "" if r.deepfool_fooled else " (not fooled)"
            )
            self.map.set_paths(
                (r.set_name, r.index),
                [
                    AttackPath("pgd", r.pgd_path, PGD_COLOR, r.pgd_fooled, pgd_txt),
                    AttackPath("deepfool", r.deepfool_path, DEEPFOOL_COLOR, r.deepfool_fooled, df_txt),
                ],
                note=f"{r.set_name} point #{r.index}, label {names[r.label]}, predicted {names[r.clean_pred]}",
            )
            self._set_info(f"{pgd_txt};  {df_txt}")
        elif isinstance(r, ImageAttack):
            self.last_image_attack = r
            self.adv_view.set_result(
                r.x,
                r.x_adv,
                r.p_before,
                r.p_after,
                ds.class_names,
                r.label,
                r.attack,
                r.eps,
                norm_text=f", ||δ||₂ {r.l2:.3f}",
            )

    # ============================================================== analysis
    def _selected_input(self):
        ds = self.lab.dataset
        if ds is None:
            return None
        if self.selection is None:
            if len(ds.y_test) == 0:
                return None
            return ds.x_test[0], int(ds.y_test[0]), "test #0"
        set_name, idx = self.selection
        xs, ys = (ds.x_train, ds.y_train) if set_name == "train" else (ds.x_test, ds.y_test)
        return xs[idx], int(ys[idx]), f"{set_name} #{idx}"

    def _analyze_selection(self) -> None:
        sel = self._selected_input()
        if sel is None or self.lab.model is None:
            return
        x, y, name = sel
        model = self.lab.snapshot_model()
        self.analysis_info.setText(f"Analyzing {name}…")
        self._run("analysis", lambda tok: self.lab.analyze_point(model, "current", x, y, cancel=tok))

    def _on_analysis_event(self, ev: Any) -> None:
        if not isinstance(ev, Finished):
            return
        r: PointAnalysis = ev.result
        self.last_analysis = r
        self.section_plot.set_section(r.a, r.b, r.classes, r.loss, r.num_classes, r.label, r.boundary_distance)
        self.curvature_plot.clear_profiles()
        self.curvature_plot.set_profile(r.model_name, r.eigenvalues)
        self.analysis_info.setText(
            "Cross-section through the selected input along its adversarial direction (x) and a random orthogonal "
            f"direction (y); the loss of its label over the same plane; the top {len(r.eigenvalues)} eigenvalues of the "
            "input Hessian of the loss."
        )

    def compute_eps_curve(self) -> None:
        """Robust accuracy against eps for the current model, in the background."""
        if self.lab.model is None:
            return
        model = self.lab.snapshot_model()
        attack = self.attack_combo.currentText()
        if attack == "deepfool":
            attack = "pgd"  # DeepFool has no eps: the curve uses PGD
        self.curve_button.setEnabled(False)
        self._run("curve", lambda tok: self.lab.eps_curve(model, "current", attack, cancel=tok))

    def _on_curve_event(self, ev: Any) -> None:
        if isinstance(ev, Finished):
            c: EpsCurve = ev.result
            self.eps_plot.clear_curves()
            self.eps_plot.set_curve(f"{c.model_name} ({c.attack})", c.eps, c.accuracy, xlabel="eps (L-inf)")
            self.curve_button.setEnabled(True)
