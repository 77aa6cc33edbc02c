"""Reconstruction engine: implicit networks trained with the level-set sampling loss (METHODS.md 1-4)."""
