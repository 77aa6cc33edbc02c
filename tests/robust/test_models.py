"""Classifiers: shapes, the SmallCNN on both image sizes, hidden-layer Jacobians, user models."""

from __future__ import annotations

import warnings

import pytest
import torch

from levelset_studio.core.errors import ConfigError, ModelError
from levelset_studio.core.robust.models import (
    ModelConfig,
    build_model,
    hidden_preactivations,
    load_user_model,
    mlp_preactivation_grad_sqnorms,
    mlp_preactivation_gradients,
)


@pytest.mark.parametrize(
    "arch, shape",
    [("mlp", (2,)), ("mlp", (1, 8, 8)), ("smallcnn", (1, 8, 8)), ("mlp", (1, 28, 28)), ("smallcnn", (1, 28, 28))],
)
def test_models_return_logits(arch, shape):
    m = build_model(ModelConfig(arch=arch, width=16, depth=2), shape, 10, seed=0)
    out = m(torch.rand(5, *shape))
    assert out.shape == (5, 10) and torch.isfinite(out).all()
    again = build_model(ModelConfig(arch=arch, width=16, depth=2), shape, 10, seed=0)
    assert torch.equal(again(torch.ones(1, *shape)), m(torch.ones(1, *shape)))  # seeded init


def test_smallcnn_is_the_cnls_architecture():
    m = build_model(ModelConfig(arch="smallcnn"), (1, 28, 28), 10)
    convs = [layer for layer in m.modules() if isinstance(layer, torch.nn.Conv2d)]
    fcs = [layer for layer in m.modules() if isinstance(layer, torch.nn.Linear)]
    assert [c.out_channels for c in convs] == [32, 32, 64, 64]
    assert [f.out_features for f in fcs] == [200, 200, 10]
    assert fcs[0].in_features == 64 * 4 * 4  # unpadded 3x3 convs as the authors'
    with pytest.raises(ModelError, match="image inputs"):
        build_model(ModelConfig(arch="smallcnn"), (2,), 2)
    with pytest.raises(ConfigError, match="activation"):
        ModelConfig(activation="sigmoid")


@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus"])
def test_mlp_preactivation_jacobians_match_autograd(activation):
    m = build_model(ModelConfig(width=8, depth=3, activation=activation), (1, 4, 4), 3, seed=1).double()
    x = torch.rand(4, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    logits, layers = mlp_preactivation_gradients(m, x)
    assert torch.allclose(logits, m(x))
    _, zs = hidden_preactivations(m, x)
    assert len(layers) == len(zs) == 3
    for (z, jac), z_hook in zip(layers, zs):
        assert torch.allclose(z, z_hook)
        for j in (0, 5):
            (g,) = torch.autograd.grad(z[:, j].sum(), x, retain_graph=True)
            assert torch.allclose(jac[:, j], g.flatten(1), atol=1e-10)
    with pytest.raises(ModelError, match="mlp"):
        mlp_preactivation_gradients(build_model(ModelConfig(arch="smallcnn"), (1, 8, 8), 10), torch.rand(1, 1, 8, 8))


def test_user_models_torchscript_and_export(tmp_path):
    m = build_model(ModelConfig(width=8), (1, 8, 8), 10, seed=2).eval()
    x = torch.rand(3, 1, 8, 8)
    ts = tmp_path / "m.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is deprecated; old user files still exist
        torch.jit.save(torch.jit.trace(m, x), str(ts))
    loaded = load_user_model(ts, (1, 8, 8), num_classes=10)
    assert torch.allclose(loaded(x), m(x), atol=1e-6)
    pt2 = tmp_path / "m.pt2"
    torch.export.save(torch.export.export(m, (x,), dynamic_shapes=({0: torch.export.Dim("b")},)), str(pt2))
    assert torch.allclose(load_user_model(pt2, (1, 8, 8), 10)(x), m(x), atol=1e-6)
    with pytest.raises(ModelError, match="returns 10 logits but the dataset has 2"):
        load_user_model(pt2, (1, 8, 8), num_classes=2)
    with pytest.raises(ModelError, match="does not accept inputs"):
        load_user_model(pt2, (2,), num_classes=10)
    junk = tmp_path / "junk.pt2"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load"):
        load_user_model(junk, (2,))
    with pytest.raises(ModelError, match="no such"):
        load_user_model(tmp_path / "missing.pt", (2,))
    with pytest.raises(ModelError, match="format"):
        load_user_model(ts.rename(tmp_path / "m.onnx"), (1, 8, 8))


def test_hutchinson_estimate_of_hidden_gradient_norms():
    m = build_model(ModelConfig(width=12, depth=2), (1, 6, 6), 4, seed=3).double()
    x = torch.rand(3, 1, 6, 6, dtype=torch.float64)
    _, exact = mlp_preactivation_grad_sqnorms(m, x, 0)
    _, est = mlp_preactivation_grad_sqnorms(m, x, 20000, generator=torch.Generator().manual_seed(0))
    for (z0, g0), (z1, g1) in zip(exact, est):
        assert torch.allclose(z0, z1)
        assert torch.allclose(g1, g0, rtol=0.05, atol=1e-6)
