"""The lab behind the Robustness tab: settings, data, model and the engine calls.

No Qt here and no mathematics: every number comes from ``core.robust`` (datasets,
models, trainer, attacks, evaluation, analysis, checkpoints). The tab runs the
generator jobs of this module in worker threads and draws what they yield. Keeping
the lab free of Qt makes the save/load format and the jobs testable on their own.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from levelset_studio.core.errors import CheckpointError, ConfigError, ModelError
from levelset_studio.core.events import CancelToken, Event, Finished, Progress, Snapshot
from levelset_studio.core.params import config_from_dict, config_to_dict
from levelset_studio.core.robust import attacks, checkpoint
from levelset_studio.core.robust.boundary import sample_decision_boundary
from levelset_studio.core.robust.config import TrainConfig
from levelset_studio.core.robust.data import Dataset, DatasetConfig, load_dataset
from levelset_studio.core.robust.models import ModelConfig, build_model, load_user_model
from levelset_studio.core.robust.training import RobustTrainer, predict_logits

LAB_FORMAT = "levelset-robustness-lab"
LAB_VERSION = 1
TOY_EXTENT = (0.0, 1.0, 0.0, 1.0)  # 2D sets live in [0, 1]^2 (the valid input box)
# Attacks offered in the image view and for the accuracy-vs-eps curve (core.robust.attacks.ATTACKS).
ATTACK_NAMES: tuple[str, ...] = ("pgd", "fgsm", "pgd-margin", "pgd-l2", "deepfool", "square", "autoattack")
VIEW_PGD_STEPS = 20  # PGD steps for single inputs and the curve: interactive, still converged on small models


@dataclass(frozen=True)
class RegionSnapshot(Snapshot):
    """Decision regions of a 2D classifier on a grid; row i is at the i-th lowest y."""

    predicted: np.ndarray  # (H, W) int class
    confidence: np.ndarray  # (H, W) softmax probability of the predicted class
    num_classes: int
    extent: tuple[float, float, float, float]
    step: int
    elapsed: float


@dataclass(frozen=True)
class PointAttack:
    """PGD and DeepFool on one 2D point: their iterates and final adversarial points."""

    set_name: str
    index: int
    x: np.ndarray  # (2,)
    label: int
    clean_pred: int
    eps: float
    norm: attacks.Norm
    pgd_path: np.ndarray  # (K + 1, 2): clean point (after the random start: row 1), ..., adversarial point
    pgd_pred: int
    deepfool_path: np.ndarray  # (M + 1, 2)
    deepfool_pred: int
    deepfool_norm: float  # ||r||_2 of DeepFool's minimal perturbation
    deepfool_fooled: bool

    @property
    def pgd_adv(self) -> np.ndarray:
        return self.pgd_path[-1]

    @property
    def pgd_fooled(self) -> bool:
        return self.pgd_pred != self.label


@dataclass(frozen=True)
class ImageAttack:
    index: int
    attack: str
    eps: float
    x: np.ndarray  # (*input_shape)
    x_adv: np.ndarray
    label: int
    p_before: np.ndarray  # (C,)
    p_after: np.ndarray
    l2: float
    linf: float


@dataclass(frozen=True)
class PointAnalysis:
    """Cross-section, loss surface and curvature profile at one input, for one model."""

    model_name: str
    a: np.ndarray  # offsets along the adversarial direction
    b: np.ndarray  # offsets along the random direction
    classes: np.ndarray  # (len(b), len(a)) predicted class
    loss: np.ndarray  # (len(b), len(a)) loss of the label
    label: int
    eigenvalues: np.ndarray  # top input-Hessian eigenvalues of the loss at x
    num_classes: int
    boundary_distance: float = float("nan")  # DeepFool's ||r||_2 along the adversarial axis


@dataclass(frozen=True)
class EpsCurve:
    model_name: str
    attack: str
    eps: np.ndarray
    accuracy: np.ndarray


@dataclass(frozen=True)
class ComparedSection(Event):
    """Compare: one model's cross-section and curvature (``slot`` is "A" or "B")."""

    slot: str
    analysis: PointAnalysis


@dataclass(frozen=True)
class ComparedCurve(Event):
    """Compare: one model's accuracy-against-epsilon curve."""

    slot: str
    curve: EpsCurve


@dataclass
class LabSettings:
    """Everything that defines a run: three configs and the seed."""

    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": config_to_dict(self.dataset),
            "model": config_to_dict(self.model),
            "train": config_to_dict(self.train),
            "seed": int(self.seed),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabSettings:
        try:
            return cls(
                dataset=config_from_dict(DatasetConfig, d.get("dataset", {})),
                model=config_from_dict(ModelConfig, d.get("model", {})),
                train=config_from_dict(TrainConfig, d.get("train", {})),
                seed=int(d.get("seed", 0)),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"lab settings: {exc}") from None


def _analysis():
    """core.robust.analysis (the pictures' data), or a one-line error if this build lacks it."""
    try:
        from levelset_studio.core.robust import analysis
    except ImportError:
        raise ModelError("this build has no boundary analysis (core.robust.analysis)") from None
    return analysis


def _on_gpu(model: Any) -> bool:
    params = getattr(model, "parameters", None)
    if params is None:
        return False
    return any(p.device.type != "cpu" for p in params())


def _np(t: torch.Tensor | np.ndarray) -> np.ndarray:
    """A NumPy copy of a tensor or array (for the GUI thread)."""
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.array(t)


class Lab:
    """Settings, the loaded dataset, the current model and its trainer."""

    def __init__(self, settings: LabSettings | None = None):
        self.settings = settings or LabSettings()
        self.dataset: Dataset | None = None
        self._dataset_key: dict | None = None
        self.model: Any = None
        self.trainer: RobustTrainer | None = None
        self.model_source = ""  # "" = built from the settings, else the user model file
        self.epochs_done = 0

    # ------------------------------------------------------------------ setup
    def dataset_config(self) -> DatasetConfig:
        d = config_to_dict(self.settings.dataset)
        d["seed"] = self.settings.seed
        return config_from_dict(DatasetConfig, d)

    def train_config(self) -> TrainConfig:
        d = config_to_dict(self.settings.train)
        if "seed" in d:
            d["seed"] = self.settings.seed
        return config_from_dict(TrainConfig, d)

    def load_data(self) -> Dataset:
        """The dataset of the current settings (cached while they do not change)."""
        cfg = self.dataset_config()
        key = config_to_dict(cfg)
        if self.dataset is None or key != self._dataset_key:
            self.dataset = load_dataset(cfg)
            self._dataset_key = key
        return self.dataset

    def reset(self) -> None:
        """Forget the model and its training (settings and data stay)."""
        self.model = None
        self.trainer = None
        self.model_source = ""
        self.epochs_done = 0

    def ensure_model(self) -> Any:
        ds = self.load_data()
        if self.model is None:
            self.model = build_model(self.settings.model, ds.input_shape, ds.num_classes, seed=self.settings.seed)
            self.model_source = ""
        return self.model

    def load_user_model(self, path: str | Path) -> Any:
        """Use a user's exported classifier (.pt2 / TorchScript .pt) on the chosen dataset."""
        ds = self.load_data()
        model = load_user_model(path, ds.input_shape, ds.num_classes)
        self.reset()
        self.model = model
        self.model_source = str(path)
        return model

    @property
    def history(self) -> list[dict[str, float]]:
        """One record per trained epoch (train/test loss and accuracy)."""
        return list(self.trainer.history) if self.trainer is not None else []

    @property
    def trainable(self) -> bool:
        return self.model is None or not self.model_source

    def snapshot_model(self) -> Any:
        """A CPU copy of the model for analysis while the trainer keeps changing the
        original (which may live on a GPU: the pictures are computed on the CPU)."""
        if self.model is None:
            raise ModelError("no model yet: train one or load a model first")
        if self.model_source:
            return self.model  # user models are never trained here
        return copy.deepcopy(self.model).cpu()

    # --------------------------------------------------------------- training
    def train_job(
        self, cancel: CancelToken, region_interval_s: float = 0.1, region_resolution: int = 96
    ) -> Iterator[Any]:
        """Train (or continue training) the model; yields Progress, RegionSnapshot
        (2D data, at most every ``region_interval_s``) and finally Finished."""
        ds = self.load_data()
        model = self.ensure_model()
        if self.model_source:
            raise ModelError("a loaded user model cannot be trained here; reset to build a new one")
        if self.trainer is None:
            self.trainer = RobustTrainer(model, ds, self.train_config())
        t0 = time.perf_counter()
        last = -1e9
        if ds.is_2d:
            yield self.region_snapshot(model, 0, 0.0, region_resolution)
        for ev in self.trainer.run(cancel):
            if isinstance(ev, Progress):
                yield ev
                now = time.perf_counter()
                if ds.is_2d and now - last >= region_interval_s:
                    last = now
                    yield self.region_snapshot(model, ev.step, now - t0, region_resolution)
            elif isinstance(ev, Finished):
                self.epochs_done = self.trainer.epoch
                if ds.is_2d:
                    yield self.region_snapshot(model, -1, time.perf_counter() - t0, region_resolution)
                yield ev
            else:
                yield ev

    def region_snapshot(self, model: Any, step: int, elapsed: float, resolution: int = 96) -> RegionSnapshot:
        if _on_gpu(model):
            model = copy.deepcopy(model).cpu()
        x0, x1, y0, y1 = TOY_EXTENT
        grid = _analysis().decision_region_grid(model, bounds=((x0, x1), (y0, y1)), resolution=resolution)
        return RegionSnapshot(
            predicted=np.asarray(grid.predicted),
            confidence=np.asarray(grid.confidence, np.float32),
            num_classes=self.load_data().num_classes,
            extent=(float(grid.xs[0]), float(grid.xs[-1]), float(grid.ys[0]), float(grid.ys[-1])),
            step=step,
            elapsed=elapsed,
        )

    # ------------------------------------------------------------ 2D overlays
    def boundary_samples(self, model: Any, eps: float) -> np.ndarray:
        """The level-set samples on the decision boundary near each training point (the
        CNLS sampler: sign-gradient steps in the eps-ball, regula falsi, Newton polish)."""
        ds = self.load_data()
        g = torch.Generator().manual_seed(self.settings.seed)
        s = sample_decision_boundary(model, ds.x_train, ds.y_train, eps, newton_iters=5, generator=g)
        return _np(s.points)

    def activation_patterns(self, model: Any, resolution: int = 160) -> np.ndarray | None:
        """Linear regions (activation-pattern ids) of a 2D ReLU network; None for other networks."""
        x0, x1, y0, y1 = TOY_EXTENT
        try:
            return np.asarray(
                _analysis().activation_pattern_map(model, bounds=((x0, x1), (y0, y1)), resolution=resolution)
            )
        except ModelError:
            return None

    # ------------------------------------------------------------------ attacks
    def attack_point(
        self,
        model: Any,
        set_name: str,
        index: int,
        eps: float,
        norm: attacks.Norm = "linf",
        steps: int = 20,
        seed: int | None = None,
    ) -> PointAttack:
        """PGD (its iterates) and DeepFool (its Newton steps) from one 2D data point."""
        ds = self.load_data()
        xs, ys = (ds.x_train, ds.y_train) if set_name == "train" else (ds.x_test, ds.y_test)
        x = xs[index : index + 1]
        y = ys[index : index + 1]
        alpha = attacks.default_step_size(eps, steps)
        gen_seed = self.settings.seed if seed is None else seed
        pgd_path = [_np(x[0])]
        for k in range(1, steps + 1):
            # the k-th PGD iterate: the same random start and step size, stopped after k steps
            g = torch.Generator().manual_seed(gen_seed)
            xk = attacks.pgd(model, x, y, eps, alpha=alpha, steps=k, norm=norm, generator=g)
            pgd_path.append(_np(xk[0]))
        df_path = [_np(x[0])]
        final = attacks.deepfool(model, x)
        n_steps = int(final.iterations[0])
        for k in range(1, n_steps):
            df_path.append(_np(attacks.deepfool(model, x, max_iter=k, overshoot=0.0).x_adv[0]))
        df_path.append(_np(final.x_adv[0]))
        preds = attacks.predict(model, torch.cat([x, torch.as_tensor(pgd_path[-1])[None], final.x_adv]))
        return PointAttack(
            set_name=set_name,
            index=index,
            x=_np(x[0]),
            label=int(y[0]),
            clean_pred=int(preds[0]),
            eps=float(eps),
            norm=norm,
            pgd_path=np.stack(pgd_path),
            pgd_pred=int(preds[1]),
            deepfool_path=np.stack(df_path),
            deepfool_pred=int(preds[2]),
            deepfool_norm=float(final.norms[0]),
            deepfool_fooled=bool(final.fooled[0]),
        )

    def attack_image(
        self,
        model: Any,
        index: int,
        attack: str,
        eps: float,
        steps: int = VIEW_PGD_STEPS,
        cancel: CancelToken | None = None,
    ) -> ImageAttack:
        """The chosen attack on test input ``index``; DeepFool shows its minimal perturbation
        whatever eps is (it has no radius)."""
        ds = self.load_data()
        x = ds.x_test[index : index + 1]
        y = ds.y_test[index : index + 1]
        if attack == "deepfool":
            x_adv = attacks.deepfool(model, x).x_adv
        else:
            x_adv, _ = attacks.run_attack(attack, model, x, y, eps, steps=steps, seed=self.settings.seed, cancel=cancel)
        p = predict_logits(model, torch.cat([x, x_adv])).softmax(dim=1)
        r = (x_adv - x).flatten()
        return ImageAttack(
            index=index,
            attack=attack,
            eps=float(eps),
            x=_np(x[0]),
            x_adv=_np(x_adv[0]),
            label=int(y[0]),
            p_before=_np(p[0]),
            p_after=_np(p[1]),
            l2=float(r.norm()),
            linf=float(r.abs().max()),
        )

    def predictions(self, model: Any, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(images, labels, predictions) of the first ``n`` test examples."""
        ds = self.load_data()
        x = ds.x_test[:n]
        return _np(x), _np(ds.y_test[:n]), _np(attacks.predict(model, x))

    # ---------------------------------------------------------------- analysis
    def analyze_point(
        self,
        model: Any,
        model_name: str,
        x: torch.Tensor,
        y: int,
        resolution: int = 61,
        n_eigen: int = 10,
        cancel: CancelToken | None = None,
        extent: float | None = None,
        curvature: bool = True,
    ) -> PointAnalysis:
        """Cross-section through ``x`` along its adversarial (DeepFool) direction and a
        random orthogonal one, the loss over that plane, and the curvature profile."""
        ds = self.load_data()
        an = _analysis()
        sec = an.cross_section(model, x, int(y), resolution=resolution, seed=self.settings.seed, extent=extent)
        if cancel is not None:
            cancel.raise_if_cancelled()
        eig = (
            an.hessian_top_eigenvalues(model, x, int(y), k=n_eigen, seed=self.settings.seed)
            if curvature
            else np.zeros(0)
        )
        return PointAnalysis(
            model_name=model_name,
            a=_np(sec.u),
            b=_np(sec.v),
            classes=_np(sec.predicted),
            loss=_np(sec.loss),
            label=int(y),
            eigenvalues=_np(eig).ravel(),
            num_classes=ds.num_classes,
            boundary_distance=float(sec.boundary_distance),
        )

    def eps_curve(
        self,
        model: Any,
        model_name: str,
        attack: str = "pgd",
        n: int = 200,
        max_eps: float | None = None,
        cancel: CancelToken | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> EpsCurve:
        """Robust accuracy of the first ``n`` test inputs under ``attack`` at 7 radii."""
        ds = self.load_data()
        top = max_eps if max_eps is not None else (0.3 if not ds.is_2d else 0.15)
        eps = np.round(np.linspace(0.0, top, 7), 4)
        x, y = ds.x_test[:n], ds.y_test[:n]
        acc = []
        for k, e in enumerate(eps):
            if cancel is not None:
                cancel.raise_if_cancelled()
            _, robust = attacks.run_attack(
                attack, model, x, y, float(e), steps=VIEW_PGD_STEPS, seed=self.settings.seed, cancel=cancel
            )
            acc.append(float(robust.float().mean()))
            if progress is not None:
                progress(k + 1, len(eps))
        return EpsCurve(model_name=model_name, attack=attack, eps=eps, accuracy=np.asarray(acc))

    def compare_job(
        self, models: dict[str, tuple[str, Any]], x: torch.Tensor, y: int, attack: str, cancel: CancelToken
    ) -> Iterator[ComparedSection | ComparedCurve]:
        """Compare models (slot -> (name, model)) at one input: their cross-sections on one
        common scale (the wider plane of the two), curvature profiles and epsilon curves."""
        done = {}
        for slot, (name, model) in models.items():
            cancel.raise_if_cancelled()
            done[slot] = self.analyze_point(model, f"{slot}: {name}", x, y, cancel=cancel)
        wide = max(float(np.abs(a.a).max()) for a in done.values())
        for slot, (_name, model) in models.items():
            a = done[slot]
            if float(np.abs(a.a).max()) < wide * 0.999:
                cancel.raise_if_cancelled()
                sec = self.analyze_point(model, a.model_name, x, y, cancel=cancel, extent=wide, curvature=False)
                a = replace(sec, eigenvalues=a.eigenvalues)
            yield ComparedSection(slot, a)
        for slot, (name, model) in models.items():
            cancel.raise_if_cancelled()
            yield ComparedCurve(slot, self.eps_curve(model, f"{slot}: {name}", attack, cancel=cancel))

    # ------------------------------------------------------------- save / load
    def save(self, path: str | Path) -> Path:
        """Write the settings (JSON) and, when there is a trained model, its checkpoint
        next to it (``<name>.ckpt``). User models are referred to by their path."""
        path = Path(path)
        state: dict[str, Any] = {
            "format": LAB_FORMAT,
            "version": LAB_VERSION,
            "settings": self.settings.to_dict(),
            "epochs_done": self.epochs_done,
        }
        if self.model is not None and not self.model_source:
            ckpt = path.with_suffix(".ckpt")
            ds = self.load_data()
            t = self.trainer
            checkpoint.save_classifier(
                ckpt,
                self.model,
                self.settings.model,
                self.dataset_config(),
                self.train_config(),
                optimizer=None if t is None else t.optimizer,
                epoch=self.epochs_done,
                input_shape=ds.input_shape,
                num_classes=ds.num_classes,
                class_names=ds.class_names,
                history=self.history,
            )
            state["checkpoint"] = ckpt.name
        elif self.model_source:
            state["user_model"] = self.model_source
        try:
            path.write_text(json.dumps(state, indent=2))
        except OSError as exc:
            raise CheckpointError(f"cannot write the lab file ({exc.strerror})", path) from None
        return path

    def load(self, path: str | Path) -> None:
        path = Path(path)
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            raise CheckpointError("no such lab file", path) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"not a lab file ({type(exc).__name__})", path) from None
        if not isinstance(state, dict) or state.get("format") != LAB_FORMAT:
            raise CheckpointError("not a LevelSet Studio robustness lab file", path)
        settings = LabSettings.from_dict(state.get("settings", {}))
        self.settings = settings
        self.reset()
        ds = self.load_data()
        if "checkpoint" in state:
            loaded = checkpoint.load_classifier(path.parent / str(state["checkpoint"]))
            if tuple(loaded.input_shape) != tuple(ds.input_shape) or loaded.num_classes != ds.num_classes:
                raise CheckpointError(
                    f"the checkpoint's model takes {loaded.input_shape} inputs with "
                    f"{loaded.num_classes} classes, the lab's dataset {ds.input_shape} / "
                    f"{ds.num_classes}",
                    path,
                )
            self.model = loaded.model
            # the trainer resumes exactly where the saved run stopped (optimizer state, epoch)
            self.trainer = RobustTrainer(
                self.model,
                ds,
                self.train_config(),
                optimizer_state=loaded.optimizer_state,
                epoch=loaded.epoch,
                history=list(loaded.history),
            )
            self.epochs_done = loaded.epoch
        elif "user_model" in state:
            self.load_user_model(state["user_model"])
