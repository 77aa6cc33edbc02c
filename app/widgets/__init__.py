"""Reusable widgets shared by the Reconstruct and Robustness tabs."""
