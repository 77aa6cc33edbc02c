"""Datasets for the robustness engine: 2D toy sets, a user's CSV, 8x8 digits, MNIST.

Every dataset lives in input space [0, 1] (2D sets are rescaled into [0, 1]^2, images
are intensities), so attacks, epsilons and boundary samples all mean the same thing
whatever the set; any normalization belongs inside the model. Inputs are float32,
labels int64 in 0..num_classes-1.

MNIST is read from the four standard IDX files (gzip or not) in ``data_dir``, or in
``$LEVELSET_DATA/mnist``, or in the project's ``../shared/data/mnist`` (a developer
checkout). Nothing is downloaded: without the files a DatasetError says where to put
them.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from levelset_studio.core.errors import DatasetError
from levelset_studio.core.params import param, validate_config

TOY_DATASETS: tuple[str, ...] = ("moons", "circles", "spirals", "xor", "blobs")
DATASETS: tuple[str, ...] = (*TOY_DATASETS, "csv", "digits", "mnist")

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# 2D sets are mapped into [MARGIN, 1 - MARGIN]^2 so that eps-balls around the data
# (and decision-region pictures) still fit inside the valid input box.
TOY_MARGIN = 0.05


@dataclass(frozen=True)
class DatasetConfig:
    """Which data to train and test on."""

    name: str = param("moons", "Dataset", "the dataset to train and test on", choices=DATASETS)
    n_samples: int = param(
        1000,
        "Samples",
        "number of points of a 2D toy set (training + test)",
        minimum=20,
        maximum=1_000_000,
        when={"name": TOY_DATASETS},
    )
    noise: float = param(
        0.1,
        "Noise",
        "noise of a 2D toy set, in the set's own units before rescaling",
        minimum=0.0,
        maximum=2.0,
        when={"name": TOY_DATASETS},
    )
    seed: int = param(0, "Seed", "seed for generating and splitting the data", minimum=0, maximum=2**31 - 1)
    test_fraction: float = param(
        0.25,
        "Test fraction",
        "share held out for testing (toy sets, CSV and digits; MNIST keeps its own split)",
        minimum=0.05,
        maximum=0.9,
        advanced=True,
        when={"name": tuple(n for n in DATASETS if n != "mnist")},
    )
    n_train: int = param(
        0,
        "Training subset",
        "use only this many training examples, class-balanced (few-shot / max-margin experiments; 0 = all)",
        minimum=0,
        maximum=10_000_000,
        advanced=True,
    )
    csv_path: str = param(
        "", "CSV file", "a CSV file of 2D points with columns x, y, label (dataset csv)", kind=str, when={"name": "csv"}
    )
    data_dir: str = param(
        "",
        "Data folder",
        "folder holding the MNIST IDX files (default: $LEVELSET_DATA/mnist)",
        kind=str,
        advanced=True,
        when={"name": "mnist"},
    )

    def __post_init__(self) -> None:
        validate_config(self)


@dataclass(frozen=True)
class Dataset:
    """Training and test tensors in [0, 1] with their shape and class names."""

    name: str
    x_train: torch.Tensor  # (N, *input_shape) float32 in [0, 1]
    y_train: torch.Tensor  # (N,) int64
    x_test: torch.Tensor
    y_test: torch.Tensor
    input_shape: tuple[int, ...]
    num_classes: int
    class_names: tuple[str, ...]
    config: DatasetConfig | None = None

    @property
    def is_2d(self) -> bool:
        """True for point sets in the plane (decision-region pictures make sense)."""
        return self.input_shape == (2,)

    def summary(self) -> str:
        return (
            f"{self.name}: {len(self.y_train)} training / {len(self.y_test)} test examples, "
            f"input {self.input_shape}, {self.num_classes} classes"
        )


# ----------------------------------------------------------------------------- 2D sets


def _spirals(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals (the TensorFlow Playground set)."""
    n0 = n // 2
    out_x, out_y = [], []
    for label, count in ((0, n0), (1, n - n0)):
        t = np.sqrt(rng.uniform(0.0, 1.0, count)) * 3.0 * math.pi
        angle = t + label * math.pi
        pts = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) / (3.0 * math.pi)
        pts += rng.normal(0.0, noise * 0.5, pts.shape)
        out_x.append(pts)
        out_y.append(np.full(count, label))
    return np.concatenate(out_x), np.concatenate(out_y)


def _xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in [-1, 1]^2 labelled by the sign of x*y, with a gap at the axes."""
    pts = rng.uniform(-1.0, 1.0, (n, 2))
    pts += np.sign(pts) * 0.05  # keep the four quadrants apart
    labels = (pts[:, 0] * pts[:, 1] < 0).astype(np.int64)
    pts += rng.normal(0.0, noise * 0.5, pts.shape)
    return pts, labels


def _toy(config: DatasetConfig) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    from sklearn import datasets as skd

    n, noise, seed = config.n_samples, config.noise, config.seed
    rng = np.random.default_rng(seed)
    if config.name == "moons":
        x, y = skd.make_moons(n, noise=noise, random_state=seed)
    elif config.name == "circles":
        x, y = skd.make_circles(n, noise=noise, factor=0.5, random_state=seed)
    elif config.name == "spirals":
        x, y = _spirals(n, noise, rng)
    elif config.name == "xor":
        x, y = _xor(n, noise, rng)
    else:  # blobs: three Gaussian clusters; noise is their standard deviation
        centers = np.array([[-1.0, -0.6], [1.0, -0.6], [0.0, 1.0]])
        x, y = skd.make_blobs(n, centers=centers, cluster_std=max(noise, 1e-3) * 3.0, random_state=seed)
    k = int(y.max()) + 1
    return x, y, tuple(str(i) for i in range(k))


def rescale_to_unit_box(x: np.ndarray, margin: float = TOY_MARGIN) -> np.ndarray:
    """Map points into [margin, 1 - margin]^d with one scale for all axes (keeps shapes round)."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = float((hi - lo).max())
    span = span if span > 0 else 1.0
    centred = (x - (lo + hi) / 2.0) / span  # in [-0.5, 0.5]
    return centred * (1.0 - 2.0 * margin) + 0.5


# ----------------------------------------------------------------------------- CSV


def read_points_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read a CSV of 2D labelled points: columns x, y, label (a header row is optional).

    Labels may be integers or names; they are numbered in sorted order. Missing or
    non-finite coordinates are errors (named with their line), never silently dropped.
    """
    p = Path(path)
    if not str(path):
        raise DatasetError("dataset csv needs a file: give --csv-path FILE (columns x, y, label)")
    if not p.is_file():
        raise DatasetError("no such CSV file", p)
    rows: list[tuple[float, float, str]] = []
    try:
        with p.open(newline="") as fh:
            for lineno, row in enumerate(csv.reader(fh), start=1):
                cells = [c.strip() for c in row]
                if not cells or all(c == "" for c in cells) or cells[0].startswith("#"):
                    continue
                if len(cells) < 3:
                    raise DatasetError(f"line {lineno}: expected 3 columns (x, y, label), got {len(cells)}", p)
                try:
                    xv, yv = float(cells[0]), float(cells[1])
                except ValueError:
                    if not rows and lineno == 1:
                        continue  # header
                    raise DatasetError(
                        f"line {lineno}: x and y must be numbers, got {cells[0]!r}, {cells[1]!r}", p
                    ) from None
                if not (math.isfinite(xv) and math.isfinite(yv)):
                    raise DatasetError(f"line {lineno}: non-finite coordinate (NaN or inf)", p)
                if cells[2] == "" or cells[2].lower() == "nan":
                    raise DatasetError(f"line {lineno}: missing label", p)
                rows.append((xv, yv, cells[2]))
    except UnicodeDecodeError:
        raise DatasetError("not a text CSV file", p) from None
    if len(rows) < 4:
        raise DatasetError(f"only {len(rows)} labelled points; need at least 4", p)
    raw = [r[2] for r in rows]
    try:
        names = sorted(set(raw), key=lambda s: float(s))
    except ValueError:
        names = sorted(set(raw))
    if len(names) < 2:
        raise DatasetError("all points have the same label; need at least 2 classes", p)
    index = {n: i for i, n in enumerate(names)}
    x = np.array([[r[0], r[1]] for r in rows], dtype=np.float64)
    y = np.array([index[r[2]] for r in rows], dtype=np.int64)
    return x, y, tuple(names)


# ----------------------------------------------------------------------------- MNIST


def _mnist_candidates(data_dir: str) -> list[Path]:
    if data_dir:  # an explicit folder is the only place looked in
        d = Path(data_dir).expanduser()
        return [d, d / "mnist"]
    out = []
    env = os.environ.get("LEVELSET_DATA")
    if env:
        out.append(Path(env).expanduser() / "mnist")
    out.append(Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist")  # developer checkout
    return out


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def find_mnist(data_dir: str = "") -> dict[str, Path]:
    """The four MNIST IDX files, or a DatasetError naming where they were looked for."""
    tried = _mnist_candidates(data_dir)
    for folder in tried:
        found = {k: _find_idx(folder, v) for k, v in MNIST_FILES.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
    where = data_dir or "$LEVELSET_DATA/mnist"
    raise DatasetError(
        f"MNIST files not found (looked in {', '.join(str(t) for t in tried) or where}); put "
        f"{', '.join(v + '.gz' for v in MNIST_FILES.values())} in a folder and pass --data-dir FOLDER "
        "or set LEVELSET_DATA to its parent"
    )


@lru_cache(maxsize=8)
def read_idx(path: str) -> np.ndarray:
    """Read one IDX file (gzip or raw) as uint8 array: images (N, 28, 28) or labels (N,)."""
    p = Path(path)
    try:
        opener: Any = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"cannot read IDX file ({exc})", p) from None
    if len(data) < 8:
        raise DatasetError("truncated IDX file", p)
    zero, dtype_code, ndim = data[0] * 256 + data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08 or ndim not in (1, 3):
        raise DatasetError("not an IDX file of unsigned bytes", p)
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DatasetError(f"IDX size mismatch: header says {dims}, file holds {body.size} bytes", p)
    return body.reshape(dims)


def _mnist(config: DatasetConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    f = find_mnist(config.data_dir)
    xtr, ytr = read_idx(str(f["train_images"])), read_idx(str(f["train_labels"]))
    xte, yte = read_idx(str(f["test_images"])), read_idx(str(f["test_labels"]))
    if len(xtr) != len(ytr) or len(xte) != len(yte):
        raise DatasetError("MNIST image and label files have different lengths", f["train_images"].parent)
    return xtr, ytr, xte, yte


# ----------------------------------------------------------------------------- loading


def _split(n: int, test_fraction: float, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded stratified split: each class keeps test_fraction of its examples for testing."""
    rng = np.random.default_rng(seed + 7)
    test = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        k = max(1, round(len(idx) * test_fraction))
        test.append(idx[:k])
    test_idx = np.sort(np.concatenate(test))
    mask = np.ones(n, dtype=bool)
    mask[test_idx] = False
    train_idx = np.flatnonzero(mask)
    return train_idx, test_idx


def balanced_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of ``n`` examples with the classes as even as possible (few-shot training)."""
    rng = np.random.default_rng(seed + 11)
    classes = np.unique(y)
    per = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    take: list[int] = []
    i = 0
    while len(take) < n and any(i < len(p) for p in per):
        for p in per:
            if i < len(p) and len(take) < n:
                take.append(p[i])
        i += 1
    return np.sort(np.array(take, dtype=np.int64))


def _tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), torch.from_numpy(
        np.ascontiguousarray(y, dtype=np.int64)
    )


def load_dataset(config: DatasetConfig) -> Dataset:
    """Load or generate the dataset ``config`` names, in [0, 1] with int64 labels."""
    if config.name in TOY_DATASETS or config.name == "csv":
        if config.name == "csv":
            x, y, names = read_points_csv(config.csv_path)
        else:
            x, y, names = _toy(config)
        x = rescale_to_unit_box(x)
        train_idx, test_idx = _split(len(y), config.test_fraction, y, config.seed)
        xtr, ytr, xte, yte = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
        shape: tuple[int, ...] = (2,)
    elif config.name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = (d.images / 16.0).reshape(-1, 1, 8, 8)
        y = d.target.astype(np.int64)
        train_idx, test_idx = _split(len(y), config.test_fraction, y, config.seed)
        xtr, ytr, xte, yte = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
        names, shape = tuple(str(i) for i in range(10)), (1, 8, 8)
    elif config.name == "mnist":
        xtr8, ytr, xte8, yte = _mnist(config)
        xtr = (xtr8.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
        xte = (xte8.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
        ytr, yte = ytr.astype(np.int64), yte.astype(np.int64)
        names, shape = tuple(str(i) for i in range(10)), (1, 28, 28)
    else:  # validate_config already rejects unknown names
        raise DatasetError(f"unknown dataset {config.name!r}; choose one of {', '.join(DATASETS)}")
    if config.n_train:
        if config.n_train < len(names):
            raise DatasetError(f"n_train {config.n_train} is smaller than the number of classes ({len(names)})")
        keep = balanced_subset(ytr, config.n_train, config.seed)
        xtr, ytr = xtr[keep], ytr[keep]
    for part, arr in (("training", xtr), ("test", xte)):
        if not np.isfinite(arr).all():
            raise DatasetError(f"{config.name}: {part} inputs hold NaN or inf")
    x_train, y_train = _tensors(xtr, ytr)
    x_test, y_test = _tensors(xte, yte)
    x_train.clamp_(0.0, 1.0)
    x_test.clamp_(0.0, 1.0)
    return Dataset(
        name=config.name,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        input_shape=shape,
        num_classes=len(names),
        class_names=tuple(names),
        config=config,
    )
