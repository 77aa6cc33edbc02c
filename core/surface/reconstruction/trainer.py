"""The reconstruction job: train an implicit network on a scan, yielding small events.

``Reconstructor(scan, config).run(cancel)`` is a generator of Progress (every step),
MeshSnapshot (every ``snapshot_interval`` seconds, preview resolution, scan
coordinates, with zero-level samples) and, when the budget is spent, Finished with a
``ReconstructionResult`` (final-resolution mesh, trimmed).

- Cancel is cooperative and checked before every step. On cancel ``run`` raises
  ``Cancelled`` (the job protocol, ``core.jobs``): no Finished and no final meshing, since
  a user who pressed Stop wants it to stop; the network stays as trained, ``run``
  continues it and ``extract_mesh`` gives its surface.
- Calling ``run`` again continues training from the current step (GUI "Continue").
- Checkpoints hold weights, optimizer, config, step, RNG states, the warm samples and
  the scan transform; ``load_checkpoint`` + ``run`` continues exactly like an
  uninterrupted run with the same seed on the CPU (iteration-bounded runs).
"""

from __future__ import annotations

import copy
import io
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from levelset_studio.core.device import describe_device, select_device
from levelset_studio.core.errors import CheckpointError, ConfigError, ScanError
from levelset_studio.core.events import CancelToken, Event, Finished, MeshSnapshot, Message, Progress
from levelset_studio.core.jobs import drain
from levelset_studio.core.surface.meshes.mesh import Mesh
from levelset_studio.core.surface.reconstruction.config import ReconstructionConfig
from levelset_studio.core.surface.reconstruction.device_fallback import handle_device_failure
from levelset_studio.core.surface.reconstruction.loss import (
    ZeroLevelSampler,
    cnls_loss,
    general_level_samples,
    igr_loss,
)
from levelset_studio.core.surface.reconstruction.nearest import KDTreeDistance, NearestPointField
from levelset_studio.core.surface.reconstruction.networks import NETWORK_PRESETS, build_network
from levelset_studio.core.surface.reconstruction.support import IgnoredPoints, Support, find_support
from levelset_studio.core.surface.scans.scan import NormalizingTransform, Scan

CHECKPOINT_KIND = "levelset-studio/reconstruction"
CHECKPOINT_VERSION = 1
MESH_BOUND = 1.2  # marching cubes over [-1.2, 1.2]^3 of the unit space (docs/method.md §4)

# Defaults measured on a 2-core CPU with bench/reconstruction.py; GPUs get larger batches.
DEFAULT_NETWORK = {"cpu": "grid", "cuda": "grid", "mps": "grid"}
DEFAULT_BATCH = {"cpu": 2048, "cuda": 16384, "mps": 16384}
DEFAULT_LR = {"grid": 5e-3, "mlp": 1e-3, "authors": 1e-4}
# Live previews take at most this share of the engine's time: the interval between two
# grows to (1 - share) / share times the last preview's cost (10% -> 9x).
PREVIEW_SHARE = 0.1
GRID_LR_SCALE = 1.0  # measured: 10x on the grids was worse (torus Chamfer/diag 0.0106 at 300 steps vs 0.0085 at 77)
EMA_DECAY = 0.99  # weight averaging: ~100 steps of memory, warmed up as (1 + t) / (10 + t) early on


@dataclass(frozen=True)
class ReconstructionStarted(Event):
    """A job built its engine (on the worker thread) and starts training it.

    The engine stays owned by the job while it runs; the receiver keeps it to continue,
    mesh or save it once the job has ended.
    """

    reconstructor: Reconstructor


@dataclass(frozen=True)
class PointsIgnored(Message):
    """The outlier pass ignored these scan points (text: the one-line summary)."""

    ignored: IgnoredPoints | None = None


@dataclass(frozen=True)
class ReconstructionResult:
    """A finished reconstruction: the final mesh (scan coordinates) and how it was made."""

    mesh: Mesh
    steps: int
    elapsed: float  # seconds of training (all runs of this network)
    device: str
    method: str = "levelset"
    network: str = ""
    meshing_seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    ignored: IgnoredPoints | None = None  # scan points the engine did not learn from (None: pass off)


def _resolve_network(config: ReconstructionConfig, device: torch.device) -> str:
    return DEFAULT_NETWORK.get(device.type, "grid") if config.network == "auto" else config.network


class Reconstructor:
    """Trains one implicit network on one scan; see the module docstring for the protocol."""

    def __init__(self, scan: Scan, config: ReconstructionConfig | None = None) -> None:
        config = ReconstructionConfig() if config is None else config
        if len(scan) < 10:
            raise ScanError(f"reconstruction needs at least 10 points, the scan has {len(scan)}")
        self.scan = scan
        self.config = config
        self.device = select_device(config.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.network_name = _resolve_network(config, self.device)
        torch.manual_seed(config.seed)
        self._gen = torch.Generator().manual_seed(config.seed)  # all sampling draws on the CPU: repeatable
        self.transform: NormalizingTransform = scan.transform
        pts = scan.transform.to_unit(scan.points, dtype=np.float32)
        # torch-owned copies, aligned like every other tensor (BLAS kernels may round
        # differently on memory that NumPy aligned differently)
        self._points = torch.tensor(pts, dtype=torch.float32, device=self.device)
        self._normals = None
        if scan.normals is not None:
            self._normals = torch.tensor(scan.normals, dtype=torch.float32, device=self.device)
        self.net = build_network(NETWORK_PRESETS[self.network_name]).to(self.device)
        self.average_net = copy.deepcopy(self.net) if config.weight_average else None
        self.support: Support | None = None  # the outlier pass, run once before the first step
        self.ignored: IgnoredPoints | None = None
        self._prepared = not config.ignore_outliers
        self.learning_rate = config.learning_rate or DEFAULT_LR[self.network_name]
        # fused Adam: one kernel over the (large) feature grids instead of ~10 passes over them
        self.opt = torch.optim.Adam(self._param_groups(self.learning_rate), fused=True)
        self.batch_size = config.batch_size or DEFAULT_BATCH.get(self.device.type, 4096)
        self.batch_size = max(2, min(self.batch_size, 2 * len(scan)))
        self._distance: KDTreeDistance | NearestPointField | None = (
            None  # built lazily (first step): costs ~1 s on a 2-core CPU
        )
        self._sampler = ZeroLevelSampler(
            count=self.batch_size // 2,
            fresh_iters=config.newton_iterations,
            warm=config.warm_start,
            refresh=config.refresh_fraction,
        )
        self._step = 0
        self._elapsed = 0.0
        self._segment: dict[str, Any] | None = None  # the current run's schedule (for exact resume)
        self._segments_done = 0
        self.last_metrics: dict[str, float] = {}
        self.on_device_error = "cpu"  # a failing device: go on on the CPU, or "stop" (device_fallback.py)
        self.device_fallbacks = 0
        self.timings: dict[str, float] = {
            "distance_field": 0.0,
            "sampling": 0.0,
            "loss": 0.0,
            "backward": 0.0,
            "preview": 0.0,
        }

    # ------------------------------------------------------------------ properties
    @property
    def step(self) -> int:
        return self._step

    @property
    def elapsed(self) -> float:
        return self._elapsed

    @property
    def device_name(self) -> str:
        return describe_device(self.device)

    def _param_groups(self, lr: float) -> list[dict[str, Any]]:
        grids = [p for n, p in self.net.named_parameters() if n.startswith("grids.")]
        rest = [p for n, p in self.net.named_parameters() if not n.startswith("grids.")]
        groups = [{"params": rest, "lr": lr, "base_lr": lr}]
        if grids:
            groups.append({"params": grids, "lr": lr * GRID_LR_SCALE, "base_lr": lr * GRID_LR_SCALE})
        return groups

    def level_function(self, x: torch.Tensor) -> torch.Tensor:
        """F at unit-space points (N, 3) -> (N,)."""
        return self.net(x)

    @property
    def mesh_net(self) -> torch.nn.Module:
        """The network that meshes are taken from: the weight average when on."""
        return self.net if self.average_net is None else self.average_net

    def _update_average(self) -> None:
        if self.average_net is None:
            return
        decay = min(EMA_DECAY, (1.0 + self._step) / (10.0 + self._step))
        with torch.no_grad():
            avg: list[torch.Tensor] = list(self.average_net.parameters())
            live: list[torch.Tensor] = list(self.net.parameters())
            torch._foreach_lerp_(avg, live, 1.0 - decay)

    def prepare(self) -> IgnoredPoints | None:
        """The outlier pass (once; the first ``run`` calls it inside its budget)."""
        if self._prepared:
            return self.ignored
        self._prepared = True
        t = time.perf_counter()
        pts = self._points.cpu().numpy()
        support = find_support(pts)
        self.support = support
        keep = support.inliers
        idx = np.flatnonzero(~keep)
        self.ignored = IgnoredPoints(
            indices=idx.astype(np.int64),
            points=self.scan.points[idx],
            reason="no surface around them (sparse neighbourhood)",
            total=len(self.scan),
        )
        if idx.size and keep.sum() >= 10:
            sel = torch.from_numpy(keep).to(self.device)
            self._points = self._points[sel]
            if self._normals is not None:
                self._normals = self._normals[sel]
        self.timings["outliers"] = time.perf_counter() - t
        return self.ignored

    # ------------------------------------------------------------------ training
    def _ensure_distance(self) -> None:
        if self._distance is not None or self.config.method != "levelset":
            return
        t = time.perf_counter()
        pts = self._points.cpu().numpy()
        if self.config.distance == "kdtree":
            self._distance = KDTreeDistance(pts, device=self.device)
        else:
            self._distance = NearestPointField(pts, self.config.field_resolution, device=self.device)
        self.timings["distance_field"] += time.perf_counter() - t

    def _lr_factor(self, frac: float) -> float:
        """Cosine decay from 1 to lr_final over a run (continuations start lower)."""
        lo = self.config.lr_final
        hi = 1.0 if self._segment is None or self._segment.get("index", 0) == 0 else math.sqrt(lo)
        frac = min(max(frac, 0.0), 1.0)
        return lo + (hi - lo) * 0.5 * (1 + math.cos(math.pi * frac))

    def train_step(self, frac: float = 0.0) -> dict[str, float]:
        """One optimizer step; ``frac`` in [0, 1] is the progress of the run (for the learning rate)."""
        self.prepare()
        self._ensure_distance()
        fac = self._lr_factor(frac)
        for g in self.opt.param_groups:
            g["lr"] = g["base_lr"] * fac
        n = self._points.shape[0]
        idx = torch.randint(0, n, (self.batch_size,), generator=self._gen).to(self.device)
        half = self.batch_size // 2
        fn = self.level_function
        self.net.train()
        t0 = time.perf_counter()
        if self.config.method == "levelset":
            anchors_zero = self._points[idx[:half]]
            zero, conv, mean_abs = self._sampler.step(fn, anchors_zero, self._gen)
            general = general_level_samples(self._points[idx[half:]], self._gen)
            assert self._distance is not None  # built by _ensure_distance for this method
            t1 = time.perf_counter()
            loss, parts = cnls_loss(
                fn,
                zero,
                general,
                anchors_zero,
                self._distance.distance,
                self.config.surface_weight,
                self.config.zero_eikonal_weight,
            )
        else:
            surf = self._points[idx]
            normals = None if self._normals is None else self._normals[idx]
            sig = torch.full((self.batch_size, 1), 0.01)
            sig[half:] = 0.1
            off = surf + (torch.randn(self.batch_size, 3, generator=self._gen) * sig).to(self.device)
            uni = (torch.rand(self.batch_size // 8, 3, generator=self._gen) * 2.4 - 1.2).to(self.device)
            t1 = time.perf_counter()
            loss, parts = igr_loss(
                fn, surf, normals, torch.cat([off, uni]), self.config.eikonal_weight, self.config.normal_weight
            )
            conv, mean_abs = float("nan"), float("nan")
            if self._step % 20 == 0 or "converged" not in self.last_metrics:  # sampler health, cheaply
                small = ZeroLevelSampler(count=256, fresh_iters=self.config.newton_iterations, warm=False)
                _, conv, mean_abs = small.step(fn, surf[:256], self._gen)
            else:
                conv, mean_abs = self.last_metrics["converged"], self.last_metrics["mean_abs_f"]
        t2 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self._update_average()
        t3 = time.perf_counter()
        self.timings["sampling"] += t1 - t0
        self.timings["loss"] += t2 - t1
        self.timings["backward"] += t3 - t2
        self._step += 1
        metrics = {
            "loss": float(loss.detach()),
            "converged": conv,
            "mean_abs_f": mean_abs,
            **parts,
            "lr": self.opt.param_groups[0]["lr"],
        }
        self.last_metrics = metrics
        return metrics

    def _new_segment(self, iterations: int | None, time_budget: float | None) -> dict[str, Any]:
        if iterations is None and time_budget is None:
            iterations, time_budget = self.config.iterations, self.config.time_budget
        if iterations is None and time_budget is None:
            raise ConfigError("time_budget: give a time budget or a number of iterations")
        seg = {
            "start": self._step,
            "iterations": iterations,
            "time_budget": time_budget,
            "used": 0.0,
            "index": self._segments_done,
        }
        return seg

    def run(
        self, cancel: CancelToken | None = None, *, iterations: int | None = None, time_budget: float | None = None
    ) -> Iterator[Progress | MeshSnapshot | Message | PointsIgnored | Finished]:
        """Train until the budget is spent (or cancel); yields events. See the module docstring.

        With neither ``iterations`` nor ``time_budget`` a run interrupted by cancel (or
        restored from a checkpoint) continues its own schedule; otherwise the budget is
        the config's. Passing either starts a new schedule from the current step.
        """
        if iterations is not None and iterations < 1:
            raise ConfigError(f"iterations: {iterations} is outside [1, inf]")
        if time_budget is not None and not (time_budget > 0):
            raise ConfigError(f"time_budget: {time_budget} must be positive")
        if iterations is not None or time_budget is not None or self._segment is None:
            self._segment = self._new_segment(iterations, time_budget)
        seg = self._segment
        interval = self.config.snapshot_interval
        # The budget counts the engine's own work only (steps and previews), not the time the
        # consumer spends between events: a bench may evaluate meshes mid-run without
        # shortening the run, and a slow GUI thread does not eat into the user's budget.
        used = seg["used"]
        last_snap = used
        gap = interval  # adaptive: at least 9x the last preview's cost (PREVIEW_SHARE)
        total = seg["iterations"]
        budget = seg["time_budget"]
        if not self._prepared:
            t = time.perf_counter()
            ignored = self.prepare()
            dt = time.perf_counter() - t
            self._elapsed += dt
            used += dt
            seg["used"] = used
            if ignored is not None:
                yield PointsIgnored(text=ignored.summary(), ignored=ignored)
        while True:
            t_resume = time.perf_counter()
            done = self._step - seg["start"]
            if (total is not None and done >= total) or (budget is not None and used >= budget):
                break
            if cancel is not None:
                cancel.raise_if_cancelled()
            fr = []
            if total is not None:
                fr.append(done / total)
            if budget is not None:
                fr.append(used / budget)
            try:
                metrics = self.train_step(max(fr))
            except Exception as exc:  # a failing device moves training to the CPU (device_fallback.py)
                note = handle_device_failure(self, exc)
                if note is None:
                    raise
                yield Message(note)
                continue
            now = time.perf_counter()
            self._elapsed += now - t_resume
            used += now - t_resume
            seg["used"] = used
            rem = []
            if total is not None:
                steps_left = total - (self._step - seg["start"])
                rate = (self._step - seg["start"]) / max(used, 1e-9)
                rem.append(steps_left / max(rate, 1e-9))
            if budget is not None:
                rem.append(max(0.0, budget - used))
            yield Progress(
                step=self._step,
                total=None if total is None else seg["start"] + total,
                elapsed=used,
                metrics=metrics,
                remaining=min(rem) if rem else None,
            )
            if interval > 0 and used - last_snap >= gap:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                t = time.perf_counter()
                mesh = self.extract_mesh(self.config.preview_resolution, final=False)
                samples = self.samples_in_scan_coordinates()
                dt = time.perf_counter() - t
                self.timings["preview"] += dt
                used += dt
                seg["used"] = used
                last_snap = used
                gap = max(interval, dt * (1.0 - PREVIEW_SHARE) / PREVIEW_SHARE)
                yield MeshSnapshot(
                    vertices=mesh.vertices,
                    faces=mesh.faces,
                    step=self._step,
                    elapsed=used,
                    samples=samples,
                    normals=mesh.vertex_normals,
                )
        self._segments_done = seg["index"] + 1
        self._segment = None
        t = time.perf_counter()
        mesh = self.extract_mesh(self.config.resolution)
        mt = time.perf_counter() - t
        result = ReconstructionResult(
            mesh=mesh,
            steps=self._step,
            elapsed=self._elapsed,
            device=self.device_name,
            method=self.config.method,
            network=self.network_name,
            meshing_seconds=mt,
            metrics=dict(self.last_metrics),
            ignored=self.ignored,
        )
        yield Finished(result=result, elapsed=used + mt)

    def train(
        self, iterations: int | None = None, time_budget: float | None = None, cancel: CancelToken | None = None
    ) -> ReconstructionResult:
        """Run to the end without events (scripts, tests); raises ``Cancelled`` when cancelled."""
        result: ReconstructionResult = drain(self.run(cancel, iterations=iterations, time_budget=time_budget))
        return result

    def samples_in_scan_coordinates(self, limit: int = 2000) -> np.ndarray | None:
        """Current zero-level samples (scan coordinates), for drawing."""
        pts = self._sampler.points
        if pts is None:
            return None
        pts = pts[self._sampler.ok][:limit]
        return self.transform.to_scan(pts.detach().cpu().numpy().astype(np.float64))

    # ------------------------------------------------------------------ meshing
    def extract_mesh(self, resolution: int | None = None, *, final: bool = True) -> Mesh:
        """The zero level set at ``resolution`` (default: the config's), scan coordinates.

        ``final`` applies the clean-up of the config (faces far from the supporting scan
        points, small disconnected pieces); previews skip it. Meshes come from the
        weight average when it is on (``mesh_net``).
        """
        from levelset_studio.core.surface.meshes.meshing import (
            extract_mesh,
            gradient_normals,
            remove_small_components,
            trim_distance_for,
            trim_far_from_points,
        )
        from levelset_studio.core.surface.reconstruction.support import support_faces_mask

        res = self.config.resolution if resolution is None else int(resolution)
        net = self.mesh_net
        net.eval()

        def fn(x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return net(x)

        mesh = extract_mesh(fn, res, self.transform, bound=MESH_BOUND, device=self.device)
        mesh = gradient_normals(net, mesh, self.transform, device=self.device)  # exact normals, for shading
        net.train()
        if final and not mesh.is_empty:
            if self.config.trim_distance > 0 and self.support is not None:
                keep = self.support.inliers
                inliers = self.scan.points[keep]
                distance = trim_distance_for(inliers, self.config.trim_distance, self.scan.diagonal)
                spacing = self.support.spacing[keep].astype(np.float64) * self.transform.scale
                mesh = mesh.with_faces(support_faces_mask(mesh.vertices, mesh.faces, inliers, spacing, distance))
            elif self.config.trim_distance > 0:
                distance = trim_distance_for(self.scan.points, self.config.trim_distance, self.scan.diagonal)
                mesh = trim_far_from_points(mesh, self.scan.points, distance)
            if self.config.min_component > 0 and not mesh.is_empty:
                mesh = remove_small_components(mesh, self.config.min_component)
        return mesh

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (plain tensors and Python values only)."""
        sp = self._sampler
        return {
            "kind": CHECKPOINT_KIND,
            "version": CHECKPOINT_VERSION,
            "config": self.config.to_dict(),
            "network": self.network_name,
            "model": self.net.state_dict(),
            "average": None if self.average_net is None else self.average_net.state_dict(),
            "optimizer": self.opt.state_dict(),
            "step": self._step,
            "elapsed": self._elapsed,
            "segment": None if self._segment is None else dict(self._segment),
            "segments_done": self._segments_done,
            "rng": self._gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "samples": None if sp.points is None else sp.points.detach().cpu(),
            "samples_ok": None if sp.ok is None else sp.ok.detach().cpu(),
            "transform": {
                "center": torch.from_numpy(np.asarray(self.transform.center, dtype=np.float64)),
                "scale": float(self.transform.scale),
            },
            "scan_points": len(self.scan),
        }

    def save_checkpoint(self, path: str | os.PathLike) -> Path:
        """Write the training state to ``path`` (atomically)."""
        from levelset_studio.core.atomic import atomic_write

        state = self.state_dict()
        return atomic_write(path, lambda fh: torch.save(state, fh), what="checkpoint")

    def state_bytes(self) -> bytes:
        """The checkpoint as bytes (for session files)."""
        buf = io.BytesIO()
        torch.save(self.state_dict(), buf)
        return buf.getvalue()

    @classmethod
    def from_state_bytes(cls, data: bytes, scan: Scan) -> Reconstructor:
        return cls._from_state(_load_state(io.BytesIO(data), "<session>"), scan, "<session>")

    @classmethod
    def load_checkpoint(cls, path: str | os.PathLike, scan: Scan, *, device: str | None = None) -> Reconstructor:
        """A reconstructor restored from ``path`` for ``scan`` (the scan it was trained on)."""
        p = Path(path)
        if not p.is_file():
            raise CheckpointError("no such checkpoint file", p)
        with open(p, "rb") as fh:
            state = _load_state(fh, p)
        return cls._from_state(state, scan, p, device)

    @classmethod
    def _from_state(cls, state: dict[str, Any], scan: Scan, where: Any, device: str | None = None) -> Reconstructor:
        try:
            values = dict(state["config"])
            if device is not None:
                values["device"] = device
            config = ReconstructionConfig.from_dict(values)
            tr = state["transform"]
            transform = NormalizingTransform(center=tr["center"].numpy().astype(np.float64), scale=float(tr["scale"]))
            if state.get("scan_points") != len(scan):
                raise CheckpointError(
                    f"checkpoint was trained on a scan of {state.get('scan_points')} points, this scan has {len(scan)}",
                    where,
                )
            scan = Scan(
                points=scan.points,
                normals=scan.normals,
                colors=scan.colors,
                files=scan.files,
                dropped_nonfinite=scan.dropped_nonfinite,
                transform=transform,
                from_mesh=scan.from_mesh,
            )
            rec = cls(scan, config.with_values(network=state["network"]))
            rec.config = config
            rec.net.load_state_dict(state["model"])
            if rec.average_net is not None:
                rec.average_net.load_state_dict(state.get("average") or state["model"])
            rec.opt.load_state_dict(state["optimizer"])
            rec._step = int(state["step"])
            rec._elapsed = float(state["elapsed"])
            rec._segment = None if state["segment"] is None else dict(state["segment"])
            rec._segments_done = int(state["segments_done"])
            rec._gen.set_state(state["rng"])
            torch.set_rng_state(state["torch_rng"])
            if state["samples"] is not None:
                rec._sampler.points = state["samples"].to(rec.device)
                rec._sampler.ok = state["samples_ok"].to(rec.device)
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CheckpointError(f"not a usable reconstruction checkpoint ({msg})", where) from None
        return rec


def _load_state(fh: Any, where: Any) -> dict[str, Any]:
    try:
        state = torch.load(fh, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a corrupt or foreign file
        from levelset_studio.core.surface._session_checks import load_failure_reason

        raise CheckpointError(f"cannot read checkpoint: {load_failure_reason(exc)}", where) from None
    if not isinstance(state, dict) or state.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError("not a LevelSet Studio reconstruction checkpoint", where)
    if state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"checkpoint version {state.get('version')} is not supported", where)
    return state
