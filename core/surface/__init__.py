"""The surface tool: scans in, implicit reconstruction, meshes out, and their evaluation.

Rooms: ``scans`` (reading, cleaning and generating point clouds), ``meshes`` (the mesh
value, marching cubes, mesh files), ``reconstruction`` (the level-set engine, IGR and the
screened Poisson baseline), ``evaluation`` (distances and metrics) and ``session``
(saving and restoring a piece of work). See docs/architecture.md.
"""
