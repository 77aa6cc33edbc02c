"""Widgets of the Robustness tab (drawing only; the engine computes everything)."""
