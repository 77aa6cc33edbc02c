"""Reconstruction from a scan: the level-set engine (and IGR), and the screened Poisson baseline."""
