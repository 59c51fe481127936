"""Renderers: pure functions from core results to text."""

from .matrix import FORMATS, PAGE_FORMATS, render_matrix, render_page

__all__ = ["FORMATS", "PAGE_FORMATS", "render_matrix", "render_page"]
