"""Newton projection and the sample network (docs/method.md §1-2) on functions with known level sets."""

import torch

from levelset_studio.core.levelset import project_to_level_set, sample_network


def sphere_sdf(x):
    return x.norm(dim=1) - 0.5


def test_projection_reaches_sphere():
    torch.manual_seed(0)
    p = torch.randn(2000, 3) * 0.6
    res = project_to_level_set(sphere_sdf, p, max_iters=10, tol=1e-5)
    kept = res.kept()
    assert res.stats.fraction > 0.99
    assert torch.allclose(kept.norm(dim=1), torch.full((kept.shape[0],), 0.5), atol=1e-4)


def test_projection_to_nonzero_level_and_high_dim():
    torch.manual_seed(1)
    # quadratic F(x) = ||x||^2 in 20-D; level 1 is the unit sphere
    f = lambda x: x.pow(2).sum(dim=1)
    p = torch.randn(500, 20, dtype=torch.float64)
    res = project_to_level_set(f, p, level=1.0, max_iters=20, tol=1e-8)
    assert res.stats.converged == 500
    assert torch.allclose(res.points.norm(dim=1), torch.ones(500, dtype=torch.float64), atol=1e-6)


def test_projection_reports_non_converged_and_out_of_domain():
    # F has no zero near x > 0 for a constant-gradient-free region: F = 1 + 0*x has zero gradient
    f = lambda x: torch.ones(x.shape[0]) + 0.0 * x.sum(dim=1)
    res = project_to_level_set(f, torch.rand(10, 3), max_iters=5)
    assert res.stats.converged == 0
    # a plane far outside the box: points leave the domain and are dropped
    g = lambda x: x[:, 0] - 5.0
    res2 = project_to_level_set(g, torch.zeros(7, 3), bounds=(-1.0, 1.0))
    assert res2.stats.converged == 0
    # with clamping into an image box the points stay inside it
    res3 = project_to_level_set(g, torch.zeros(7, 3), bounds=(-1.0, 1.0), clamp=True, max_iters=3)
    assert float(res3.points.max()) <= 1.0


def test_sample_network_is_identity_and_moves_along_normal():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Softplus(beta=10), torch.nn.Linear(16, 1))
    fn = lambda x: net(x).squeeze(1)
    p = torch.randn(50, 3, dtype=torch.float32)
    sn = sample_network(fn, p)
    assert torch.allclose(sn.points, p)
    # d p(theta)/d theta . v == finite difference of p(theta + t v)
    params = list(net.parameters())
    v = [torch.randn_like(q) for q in params]
    w = torch.randn_like(p)
    loss = (sn.points * w).sum()
    grads = torch.autograd.grad(loss, params)
    analytic = sum((g * vi).sum() for g, vi in zip(grads, v))
    t = 1e-3
    with torch.no_grad():
        for q, vi in zip(params, v):
            q.add_(t * vi)
    plus = (sample_network(fn, p).points * w).sum()  # at theta0 + t v, p(theta) evaluated with new theta0
    # p(theta0 + tv) relative to theta0 samples: first order change is -dF g/|g|^2
    with torch.no_grad():
        for q, vi in zip(params, v):
            q.sub_(2 * t * vi)
    # evaluate the same formula around theta0 explicitly
    with torch.no_grad():
        for q, vi in zip(params, v):
            q.add_(t * vi)  # back to theta0
    x = p.clone().requires_grad_(True)
    f0 = fn(x)
    (g0,) = torch.autograd.grad(f0.sum(), x)

    def p_of(tt):
        with torch.no_grad():
            for q, vi in zip(params, v):
                q.add_(tt * vi)
            f = fn(p)
            for q, vi in zip(params, v):
                q.sub_(tt * vi)
        return p - ((f - f0.detach()) / g0.pow(2).sum(1))[:, None] * g0

    fd = ((p_of(t) * w).sum() - (p_of(-t) * w).sum()) / (2 * t)
    assert torch.allclose(analytic, fd, rtol=1e-2, atol=1e-4), (analytic, fd)
    assert torch.isfinite(plus)


def test_indexed_projection_onto_decision_boundary():
    """Per-row level functions: a linear 3-class classifier's margin for each row's label."""
    from levelset_studio.core.robust.margin import decision_margin, margin_function_indexed

    torch.manual_seed(0)
    lin = torch.nn.Linear(2, 3)
    x = torch.randn(64, 2)
    y = lin(x).argmax(1)
    res = project_to_level_set(margin_function_indexed(lin, y), x, indexed=True, max_iters=20, tol=1e-5)
    assert res.stats.fraction > 0.95
    m = decision_margin(lin(res.kept()), y[res.converged])
    assert m.abs().max() < 1e-4
