"""LevelSet Studio computation: everything here runs without Qt or a display."""

__version__ = "0.1.0"
