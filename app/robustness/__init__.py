"""The Robustness tab (issue 6): decision boundaries, attacks and model comparison."""
