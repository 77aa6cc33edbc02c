"""Robustness engine: classifiers, attacks, robust training and boundary analysis (docs/method.md §5-8)."""
