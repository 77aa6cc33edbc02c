"""Robustness engine: classifiers, attacks, robust training and boundary analysis (METHODS.md 5-8)."""
