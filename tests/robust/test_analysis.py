"""Analysis data for the Robustness tab, each checked against a brute-force or exact answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from levelset_studio.core.errors import ModelError
from levelset_studio.core.robust.analysis import (
    activation_pattern_map,
    boundary_points,
    cross_section,
    decision_region_grid,
    hessian_top_eigenvalues,
    linear_region_radius,
)


def line_model() -> nn.Module:
    """Two classes split by the line x0 = x1 (class 0 below-right, class 1 above-left)."""
    m = nn.Linear(2, 2)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[2.0, -2.0], [-2.0, 2.0]]))
        m.bias.zero_()
    return m


@pytest.fixture(scope="module")
def moons_model():
    from sklearn.datasets import make_moons

    torch.manual_seed(0)
    X, Y = make_moons(300, noise=0.1, random_state=0)
    X = (X - X.min(0)) / (X.max(0) - X.min(0)) * 0.8 + 0.1
    x = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(Y)
    m = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    for _ in range(300):
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    return m, x, y


def test_decision_region_grid_on_a_known_boundary():
    g = decision_region_grid(line_model(), resolution=41)
    assert g.predicted.shape == g.confidence.shape == (41, 41)
    gx, gy = np.meshgrid(g.xs, g.ys)
    off = np.abs(gx - gy) > 1e-9
    assert np.array_equal(g.predicted[off], (gy > gx)[off].astype(np.int64))
    assert np.all(g.confidence >= 0.5 - 1e-6) and np.all(g.confidence <= 1.0)
    np.testing.assert_allclose(g.margin, 4 * np.abs(gx - gy), atol=1e-5)


def test_boundary_points_lie_on_the_boundary(moons_model):
    b = boundary_points(line_model(), n=200)
    assert len(b.points) > 100
    np.testing.assert_allclose(b.points[:, 0], b.points[:, 1], atol=1e-4)
    m, _, _ = moons_model
    b = boundary_points(m, n=300, tol=1e-3)
    assert len(b.points) > 50
    p = torch.tensor(b.points, requires_grad=True)
    logits = m(p)
    (g,) = torch.autograd.grad((logits[:, 1] - logits[:, 0]).sum(), p)
    step = 2e-3 * g / g.norm(dim=1, keepdim=True)
    with torch.no_grad():
        plus, minus = m(p + step).argmax(1), m(p - step).argmax(1)
    assert bool((plus != minus).float().mean() > 0.97)  # the two sides differ right at each point


def test_cross_section_through_an_input(moons_model):
    m, x, y = moons_model
    i = int(torch.nonzero(m(x).argmax(1) == y)[0])
    cs = cross_section(m, x[i], int(y[i]), resolution=81)
    a, r = torch.tensor(cs.direction_adv), torch.tensor(cs.direction_rand)
    assert abs(float(a.norm()) - 1) < 1e-5 and abs(float(r.norm()) - 1) < 1e-5 and abs(float(a @ r)) < 1e-5
    c = 40  # the centre of the plane is the input itself
    assert cs.u[c] == pytest.approx(0) and cs.v[c] == pytest.approx(0)
    assert cs.predicted[c, c] == int(y[i])
    with torch.no_grad():
        assert cs.loss[c, c] == pytest.approx(float(F.cross_entropy(m(x[i : i + 1]), y[i : i + 1])), rel=1e-4)
    # along the adversarial axis the class changes at DeepFool's distance (grid spacing tolerance)
    row = cs.predicted[c]
    first = c + int(np.argmax(row[c:] != int(y[i])))
    du = cs.u[1] - cs.u[0]
    assert row[first] != int(y[i])
    assert abs(cs.u[first] - cs.boundary_distance) <= 1.5 * du
    assert cs.loss[c, first] > cs.loss[c, c]


def test_hessian_eigenvalues_match_the_explicit_hessian():
    torch.manual_seed(3)
    m = nn.Sequential(nn.Linear(16, 24), nn.Tanh(), nn.Linear(24, 4)).double()
    x = torch.rand(16, dtype=torch.float64)
    y = torch.tensor(2)
    H = torch.autograd.functional.hessian(lambda z: F.cross_entropy(m(z[None]), y[None]), x)
    exact = torch.linalg.eigvalsh(H).numpy()
    exact = exact[np.argsort(-np.abs(exact))]
    full = hessian_top_eigenvalues(m, x, y, k=16, iters=16)
    np.testing.assert_allclose(full, exact, rtol=1e-6, atol=1e-9)
    top = hessian_top_eigenvalues(m, x, y, k=2, iters=10)  # Lanczos: the extremes converge first
    np.testing.assert_allclose(top, exact[:2], rtol=1e-3)


def _pattern(m: nn.Module, pts: torch.Tensor) -> torch.Tensor:
    from levelset_studio.core.robust.models import hidden_preactivations

    with torch.no_grad():
        _, zs = hidden_preactivations(m, pts)
    return torch.cat(zs, dim=1) > 0


def test_linear_region_radius_matches_a_brute_force_line_search(moons_model):
    m, x, _ = moons_model
    pts = x[:3].double()
    m = m.double()
    radius = linear_region_radius(m, pts)
    angles = torch.linspace(0, 2 * np.pi, 721, dtype=torch.float64)[:-1]
    dirs = torch.stack([angles.cos(), angles.sin()], dim=1)  # (D, 2)
    ts = torch.linspace(0, 0.5, 501, dtype=torch.float64)
    for p, rad in zip(pts, radius):
        base = _pattern(m, p[None])
        ray = p[None, None] + ts[None, :, None] * dirs[:, None]  # (D, T, 2)
        changed = (_pattern(m, ray.reshape(-1, 2)) != base).any(dim=1).reshape(len(dirs), len(ts))
        leaves = changed.any(dim=1)  # rays that leave the region within t <= 0.5
        assert bool(leaves.any())
        d = dirs[leaves]
        hi = ts[changed[leaves].float().argmax(dim=1)]
        lo = hi - (ts[1] - ts[0])
        for _ in range(40):  # bisection on the first pattern change along each ray
            mid = (lo + hi) / 2
            ch = (_pattern(m, p[None] + mid[:, None] * d) != base).any(dim=1)
            hi = torch.where(ch, mid, hi)
            lo = torch.where(ch, lo, mid)
        brute = float(hi.min())
        assert float(rad) <= brute * (1 + 1e-6)  # no ray leaves the region before the radius
        assert brute <= float(rad) * (1 + 1e-3)  # and the closest ray leaves right at it


def test_activation_pattern_map_counts_and_agrees_with_the_radius():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 3))
    ids = activation_pattern_map(m, resolution=120)
    assert ids.shape == (120, 120) and ids.min() == 0
    count = ids.max() + 1
    assert 1 < count <= 1 + 5 + 10  # regions of 5 lines in the plane
    xs = np.linspace(0, 1, 120)
    gx, gy = np.meshgrid(xs, xs)
    grid = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
    rad = linear_region_radius(m, grid).numpy().reshape(120, 120)
    for i, j in [(10, 10), (60, 60), (100, 30), (30, 100)]:
        near = np.hypot(gx - gx[i, j], gy - gy[i, j]) < 0.99 * rad[i, j]
        assert np.all(ids[near] == ids[i, j])


def test_linear_regions_need_a_relu_network():
    m = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2))
    with pytest.raises(ModelError, match="ReLU"):
        linear_region_radius(m, torch.rand(3, 2))
    with pytest.raises(ModelError, match="ReLU"):
        activation_pattern_map(m)
    with pytest.raises(ModelError, match="2D"):
        decision_region_grid(nn.Linear(3, 2))
