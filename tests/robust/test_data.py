"""Datasets of the robustness engine: shapes, ranges, splits, CSV and MNIST errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from levelset_studio.core.errors import ConfigError, DatasetError
from levelset_studio.core.robust.data import DATASETS, TOY_DATASETS, DatasetConfig, load_dataset, read_idx


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_toy_sets_live_in_unit_square(name):
    d = load_dataset(DatasetConfig(name=name, n_samples=200, noise=0.1, seed=3))
    assert d.input_shape == (2,) and d.is_2d
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert len(d.y_train) + len(d.y_test) == 200
    x = torch.cat([d.x_train, d.x_test])
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    # the rescaling uses the box: some coordinate reaches each margin
    assert float(x.min()) == pytest.approx(0.05, abs=1e-5) or float(x.max()) == pytest.approx(0.95, abs=1e-5)
    assert set(torch.cat([d.y_train, d.y_test]).tolist()) == set(range(d.num_classes))
    assert d.num_classes == (3 if name == "blobs" else 2)
    again = load_dataset(DatasetConfig(name=name, n_samples=200, noise=0.1, seed=3))
    assert torch.equal(again.x_train, d.x_train) and torch.equal(again.y_test, d.y_test)
    other = load_dataset(DatasetConfig(name=name, n_samples=200, noise=0.1, seed=4))
    assert not torch.equal(other.x_train, d.x_train)


def test_digits_and_few_shot_subset():
    d = load_dataset(DatasetConfig(name="digits", test_fraction=0.2))
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10
    assert d.x_train.shape[1:] == (1, 8, 8) and float(d.x_train.max()) == 1.0 and float(d.x_train.min()) == 0.0
    assert abs(len(d.y_test) / (len(d.y_test) + len(d.y_train)) - 0.2) < 0.01
    few = load_dataset(DatasetConfig(name="digits", n_train=30, seed=1))
    assert len(few.y_train) == 30
    assert torch.bincount(few.y_train, minlength=10).tolist() == [3] * 10  # class-balanced
    assert len(few.y_test) == len(load_dataset(DatasetConfig(name="digits", seed=1)).y_test)  # test set unchanged
    with pytest.raises(DatasetError, match="n_train"):
        load_dataset(DatasetConfig(name="digits", n_train=5))


def test_csv_dataset(tmp_path):
    f = tmp_path / "pts.csv"
    rows = ["x,y,label"] + [f"{i * 0.1},{(i % 5) * 2.0},{'red' if i % 2 else 'blue'}" for i in range(40)]
    f.write_text("\n".join(rows) + "\n")
    d = load_dataset(DatasetConfig(name="csv", csv_path=str(f), test_fraction=0.25))
    assert d.class_names == ("blue", "red") and d.num_classes == 2
    assert len(d.y_train) == 30 and len(d.y_test) == 10
    assert float(d.x_train.min()) >= 0 and float(d.x_train.max()) <= 1


@pytest.mark.parametrize(
    "text, match",
    [
        ("x,y,label\n0,0,0\n1,nan,1\n0,1,1\n1,1,0\n", "line 3: non-finite"),
        ("0,0\n1,1\n", "expected 3 columns"),
        ("0,0,a\n1,1,a\n0,1,a\n1,0,a\n", "same label"),
        ("0,0,0\n1,abc,1\n0,1,1\n1,1,0\n", "line 2: x and y must be numbers"),
    ],
)
def test_bad_csv_is_a_dataset_error(tmp_path, text, match):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(DatasetError, match=match):
        load_dataset(DatasetConfig(name="csv", csv_path=str(f)))


def test_missing_inputs_are_named():
    with pytest.raises(DatasetError, match="no such CSV"):
        load_dataset(DatasetConfig(name="csv", csv_path="/nonexistent/points.csv"))
    with pytest.raises(DatasetError, match="--csv-path"):
        load_dataset(DatasetConfig(name="csv"))
    with pytest.raises(DatasetError, match="MNIST files not found.*--data-dir"):
        load_dataset(DatasetConfig(name="mnist", data_dir="/nonexistent/mnist"))
    with pytest.raises(ConfigError, match="name"):
        DatasetConfig(name="cifar")
    with pytest.raises(ConfigError, match="noise"):
        DatasetConfig(noise=float("nan"))
    assert "mnist" in DATASETS and "csv" in DATASETS


def test_mnist_from_idx_files(shared_data, tmp_path):
    d = load_dataset(DatasetConfig(name="mnist", data_dir=str(shared_data / "mnist"), n_train=100))
    assert d.input_shape == (1, 28, 28) and d.num_classes == 10
    assert len(d.y_train) == 100 and len(d.y_test) == 10_000
    assert d.x_test.dtype == torch.float32 and float(d.x_test.max()) == 1.0 and float(d.x_test.min()) == 0.0
    # the standard test set starts with a 7, a 2 and a 1
    assert d.y_test[:3].tolist() == [7, 2, 1]
    bad = tmp_path / "t10k-labels-idx1-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    with pytest.raises(DatasetError, match="size mismatch"):
        read_idx(str(bad))
    assert np.array_equal(read_idx(str(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz"))[:3], [7, 2, 1])
