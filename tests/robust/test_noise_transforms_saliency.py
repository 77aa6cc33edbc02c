"""Random-noise robustness, small transformations and saliency on models built in the tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from levelset_studio.core.errors import ConfigError, DatasetError
from levelset_studio.core.robust.noise import noise_robustness, random_direction_distances
from levelset_studio.core.robust.saliency import input_gradient, saliency_figure, saliency_maps, smoothgrad
from levelset_studio.core.robust.transforms import transform_images, transformation_grid, worst_transformation

# median over unit directions u of 1 / |cos(u, w)| is sqrt(d) / median|N(0, 1)| for large d
MEDIAN_ABS_NORMAL = 0.6744897501960817


def _linear(d: int, seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A binary linear classifier on [0, 1]^d whose boundary passes through the data."""
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(d, 2)
    with torch.no_grad():
        model.weight.copy_(torch.randn(2, d, generator=g))
        x = torch.rand(80, d, generator=g)
        f = x @ (model.weight[0] - model.weight[1])
        model.bias.copy_(torch.tensor([-float(f.median()) / 2, float(f.median()) / 2]))
        y = model(x).argmax(1)
    return model, x, y


@pytest.mark.parametrize("d", [64, 256])
def test_random_over_adversarial_distance_is_about_sqrt_d_for_a_linear_classifier(d, one_torch_thread):
    model, x, y = _linear(d)
    r = noise_robustness(model, x, y, directions=60, sigmas=(0.1,))
    assert (
        r.not_crossed < 0.01 and r.deepfool_fooled == 1.0
    )  # a direction almost parallel to the boundary may never cross
    # the theory's constant: 1 / median|N(0,1)| = 1.48 sqrt(d) per input
    assert r.median_ratio / math.sqrt(d) == pytest.approx(1 / MEDIAN_ABS_NORMAL, rel=0.12)
    # the ratio of the two medians (the report's headline) stays within a small factor of sqrt(d)
    assert 1.0 <= r.ratio / r.sqrt_d <= 2.0
    # DeepFool on a linear model is the exact distance |f(x)| / ||w||
    w = (model.weight[0] - model.weight[1]).detach()
    f = (x @ w + model.bias[0] - model.bias[1]).detach()
    assert r.median_adversarial_l2 == pytest.approx(float((f.abs() / w.norm()).median()), rel=0.05)
    d_json = r.to_dict()
    for key in ("median_random_l2", "median_adversarial_l2", "ratio", "sqrt_d"):
        assert math.isfinite(d_json[key])


def test_direction_distances_land_on_the_boundary(one_torch_thread):
    model, x, _ = _linear(16, seed=3)
    dd = random_direction_distances(model, x[:5], 8, rel_tol=0.01)
    hits = dd.hits(x[:5])  # (5, 8, 16): where each direction meets the boundary
    w = (model.weight[0] - model.weight[1]).detach()
    b = float((model.bias[0] - model.bias[1]).detach())
    f = hits @ w + b
    f0 = (x[:5] @ w + b)[:, None]
    assert bool((f.sign() != f0.sign()).all())  # just across the boundary
    # and within 1% of the exact crossing |f(x)| / |w . u|
    exact = (f0.abs() / (dd.directions @ w).abs()).detach()
    assert torch.allclose(dd.distances, exact, rtol=0.011)
    with pytest.raises(ConfigError):
        random_direction_distances(model, x, 0)
    with pytest.raises(DatasetError, match="NaN"):
        random_direction_distances(model, torch.full((2, 16), float("nan")))


def test_curved_boundary_shrinks_the_random_distance(one_torch_thread):
    """A boundary that curves towards the input (a ball around x) meets random directions sooner."""
    d = 100

    class Ball(nn.Module):  # class 1 inside ||x - c|| < rho, class 0 outside
        def __init__(self, c: torch.Tensor, rho: float):
            super().__init__()
            self.c, self.rho = c, rho

        def forward(self, x):
            s = self.rho - (x - self.c).norm(dim=1)
            return torch.stack([-s, s], dim=1)

    g = torch.Generator().manual_seed(0)
    x = torch.rand(20, d, generator=g) * 0.1
    c = torch.zeros(d)
    flat = nn.Linear(d, 2)
    with torch.no_grad():  # the flat boundary at the same distance: x_1 = 0.3
        flat.weight.zero_()
        flat.weight[1, 0], flat.weight[0, 0] = -1.0, 1.0
        flat.bias.copy_(torch.tensor([-0.3, 0.3]))
    curved = Ball(c, 0.8)
    y0 = flat(x).argmax(1)
    rf = noise_robustness(flat, x, y0, directions=30, sigmas=())
    rc = noise_robustness(curved, x, curved(x).argmax(1), directions=30, sigmas=())
    assert rc.ratio < 0.5 * rf.ratio


def _digits_model(seed: int = 0):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(d.target)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(x[:1400]), y[:1400]).backward()
        opt.step()
    return model.eval(), x[1400:1600], y[1400:1600]


def test_worst_transformation_hurts_at_least_as_much_as_a_random_one(one_torch_thread):
    model, x, y = _digits_model()
    r = worst_transformation(model, x, y, max_rotation=15, max_shift=1, rotations=5, seed=0)
    assert r.clean_accuracy > 0.9
    assert r.worst_accuracy <= r.random_accuracy <= 1.0
    assert r.worst_accuracy < r.clean_accuracy - 0.1  # 8x8 digits shifted by a pixel: many fall
    assert r.grid_size == 5 * 3 * 3
    # the worst transformation really changes the prediction exactly where the input is not robust
    wrong = r.worst_predicted != y
    assert float(1 - wrong.float().mean()) == pytest.approx(r.worst_accuracy)
    with pytest.raises(DatasetError, match="images"):
        worst_transformation(model, x.reshape(len(x), -1), y)
    with pytest.raises(ConfigError, match="max shift"):
        transformation_grid(10, 20)


def test_transform_images_shift_and_rotate_exactly():
    x = torch.zeros(2, 1, 8, 8)
    x[:, 0, 3, 2] = 1.0
    out = transform_images(x, torch.tensor([[0.0, 2.0, 0.0], [0.0, 0.0, -1.0]]))
    assert out[0, 0].nonzero().tolist() == [[3, 4]]  # two pixels right
    assert out[1, 0].nonzero().tolist() == [[2, 2]]  # one pixel up
    full = transform_images(x[:1], torch.tensor([[360.0, 0.0, 0.0]]))
    assert torch.allclose(full, x[:1], atol=1e-5)


def test_saliency_of_a_linear_model_is_its_weight_row():
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x = torch.rand(5, 1, 3, 4, generator=g)
    pred = model(x).argmax(1)
    w = model[1].weight.detach()
    grad = input_gradient(model, x)
    assert torch.allclose(grad.reshape(5, 12), w[pred], atol=1e-6)
    assert torch.allclose(input_gradient(model, x, 2).reshape(5, 12), w[2].expand(5, 12), atol=1e-6)
    # SmoothGrad averages gradients that are all w: the same map
    assert torch.allclose(smoothgrad(model, x, samples=4).reshape(5, 12), w[pred], atol=1e-5)
    with pytest.raises(ConfigError):
        input_gradient(model, x, 7)


def test_saliency_figure_is_a_png_of_two_models(tmp_path):
    a, x, y = _digits_model(0)
    b = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval()
    maps = [saliency_maps(a, x[:1], "A", samples=3), saliency_maps(b, x[:1], "B", samples=3)]
    assert maps[0].gradient.shape == (1, 1, 8, 8) and not np.allclose(maps[0].gradient, maps[1].gradient)
    out = saliency_figure(tmp_path / "s.png", x[0].numpy(), int(y[0]), maps, [str(i) for i in range(10)])
    from matplotlib.image import imread

    img = imread(out)
    assert img.shape[0] > 400 and img.shape[1] > 600 and float(img[..., :3].std()) > 0.05
    with pytest.raises(ConfigError):
        saliency_figure(tmp_path / "s.jpg", x[0].numpy(), 0, maps, [])
