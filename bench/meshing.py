"""Meshing speed: coarse-to-fine marching cubes vs the dense grid, same network, same run.

Targets (issue 3): a 128^3 preview in under 0.5 s and a 256^3 final mesh in under 10 s
from a trained network, on 2 CPU threads. The networks here are small ReLU MLPs
(3x128 and 4x256, the authors' geometric "sphere" initialization) fitted for a few
seconds to the signed distance of a shape with thin parts (a torus linked with a
capsule and a sphere), so the zero level set is a realistic, non-trivial surface.

    python bench/meshing.py [--threads 2] [--repeats 2] [--fit-steps 300]

Prints one table: per network and resolution, the dense and coarse-to-fine wall times
(best of --repeats), their ratio, the network evaluations of each and the fraction
saved, and checks that both give the same triangles.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import meshing  # noqa: E402
from core.scan import NormalizingTransform  # noqa: E402


def target_sdf(p: torch.Tensor) -> torch.Tensor:
    """Union of a torus, a capsule through its hole and a small sphere (exact-ish SDF)."""
    q = torch.stack([torch.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2) - 0.55, p[:, 2]], dim=1)
    torus = q.norm(dim=1) - 0.18
    a, b = torch.tensor([0.0, -0.8, 0.0]), torch.tensor([0.0, 0.8, 0.0])
    pa, ba = p - a, b - a
    h = ((pa @ ba) / (ba @ ba)).clamp(0, 1)
    capsule = (pa - h[:, None] * ba).norm(dim=1) - 0.12
    ball = (p - torch.tensor([0.55, 0.55, 0.5])).norm(dim=1) - 0.25
    return torch.minimum(torch.minimum(torus, capsule), ball)


def mlp(width: int, depth: int) -> torch.nn.Module:
    """ReLU MLP with the geometric (sphere) initialization of CNLS/IGR."""
    layers: list[torch.nn.Module] = []
    d_in = 3
    for _ in range(depth):
        lin = torch.nn.Linear(d_in, width)
        torch.nn.init.normal_(lin.weight, 0.0, math.sqrt(2) / math.sqrt(width))
        torch.nn.init.zeros_(lin.bias)
        layers += [lin, torch.nn.ReLU()]
        d_in = width
    last = torch.nn.Linear(width, 1)
    torch.nn.init.normal_(last.weight, math.sqrt(math.pi) / math.sqrt(width), 1e-4)
    torch.nn.init.constant_(last.bias, -0.5)
    layers.append(last)
    net = torch.nn.Sequential(*layers)
    return net


def fit(net: torch.nn.Module, steps: int, seed: int = 0) -> float:
    """Regress the target SDF near its surface and in the box (a few seconds)."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        x = (torch.rand(4096, 3) * 2.4 - 1.2).requires_grad_(True)
        d = target_sdf(x)
        g = torch.autograd.grad(d.sum(), x)[0]
        near = (x - d[:, None] * g).detach() + torch.randn(4096, 3) * 0.02  # near the surface
        pts = torch.cat([x.detach()[:1024], near])
        loss = (net(pts)[:, 0] - target_sdf(pts)).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


def timed(fn, repeats: int):
    best, out = math.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--fit-steps", type=int, default=300)
    ap.add_argument("--resolutions", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--nets", nargs="+", default=["3x128", "4x256"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    identity = NormalizingTransform.identity()

    rows = []
    for spec in args.nets:
        depth, width = (int(v) for v in spec.split("x"))
        net = mlp(width, depth)
        t = time.perf_counter()
        loss = fit(net, args.fit_steps)
        print(f"# fitted {spec} for {args.fit_steps} steps in {time.perf_counter() - t:.1f} s (L1 {loss:.4f})",
              flush=True)
        net.eval()
        for res in args.resolutions:
            td, dense = timed(lambda: meshing.extract_mesh(net, res, identity, coarse_to_fine=False), args.repeats)
            dense_evals = meshing.last_stats.evaluations
            tc, fine = timed(lambda: meshing.extract_mesh(net, res, identity), args.repeats)
            st = meshing.last_stats
            same = (dense.n_faces == fine.n_faces and np.array_equal(dense.vertices, fine.vertices)
                    and np.array_equal(dense.faces, fine.faces))
            rows.append((spec, res, td, tc, td / tc, dense_evals, st.evaluations,
                         1 - st.evaluations / dense_evals, st.verify_evaluations, fine.n_faces, same))
            print(f"# {spec} {res}^3 done", flush=True)

    head = (f"{'network':>8} {'res':>5} {'dense s':>9} {'c2f s':>8} {'speed-up':>9} {'dense evals':>12} "
            f"{'c2f evals':>11} {'saved':>7} {'verify ev':>10} {'faces':>8} {'same mesh':>9}")
    print(f"\nMeshing: coarse-to-fine vs dense marching cubes, {args.threads} threads, best of {args.repeats}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r[0]:>8} {r[1]:>5} {r[2]:>9.3f} {r[3]:>8.3f} {r[4]:>8.1f}x {r[5]:>12,d} {r[6]:>11,d} "
              f"{100 * r[7]:>6.1f}% {r[8]:>10,d} {r[9]:>8,d} {str(r[10]):>9}")
    print("targets: 128^3 preview < 0.5 s, 256^3 final < 10 s (issue 3)")


if __name__ == "__main__":
    main()
