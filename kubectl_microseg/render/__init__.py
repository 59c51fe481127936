"""Renderers: pure functions from core results to text."""

from .matrix import FORMATS, render_matrix

__all__ = ["FORMATS", "render_matrix"]
