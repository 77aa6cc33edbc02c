"""Vertex normals from the implicit function's gradient (for smooth shading)."""

from __future__ import annotations

import numpy as np
import torch

from levelset_studio.core.surface.meshes.meshing import extract_mesh, gradient_normals
from levelset_studio.core.surface.scans.scan import NormalizingTransform


def test_gradient_normals_are_the_exact_sphere_normals():
    def sphere(x: torch.Tensor) -> torch.Tensor:
        return x.norm(dim=1) - 0.7

    tf = NormalizingTransform(center=np.array([10.0, -3.0, 2.0]), scale=4.0)
    mesh = extract_mesh(sphere, 24, tf)  # coarse grid: marching-cubes normals are only estimates
    exact = (mesh.vertices - tf.center) / np.linalg.norm(mesh.vertices - tf.center, axis=1, keepdims=True)
    mc_err = np.degrees(np.arccos(np.clip((mesh.vertex_normals * exact).sum(1), -1, 1)))
    out = gradient_normals(sphere, mesh, tf)
    err = np.degrees(np.arccos(np.clip((out.vertex_normals * exact).sum(1), -1, 1)))
    assert out.vertex_normals.dtype == np.float32 and out.vertex_normals.shape == mesh.vertices.shape
    assert err.max() < 0.5 < mc_err.max()  # exact up to the vertex's own position error
    assert np.array_equal(out.faces, mesh.faces) and np.array_equal(out.vertices, mesh.vertices)
