"""Triangle meshes: the Mesh value, marching cubes of an implicit function, mesh files."""
