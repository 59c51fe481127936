"""Provides YamlView: syntax-highlighted YAML that follows the app's dark or light theme."""

from __future__ import annotations

import contextlib

from rich.syntax import Syntax
from textual.widgets import Static


class YamlView(Static):
    """A Static showing YAML with Rich's highlighter (ANSI theme, so it reads in dark and light)."""

    DEFAULT_CSS = """
    YamlView { height: auto; padding: 0 1; }
    """

    def __init__(self, text: str, *, highlight: tuple[int, ...] = (), id: str | None = None,
                 classes: str | None = None) -> None:
        self.yaml_text = text
        self.highlight = set(highlight)
        """1-based lines drawn highlighted (the deciding rule), with line numbers to match the note."""
        super().__init__(self._syntax(), id=id, classes=classes)

    def _syntax(self) -> Syntax:
        dark = True
        with contextlib.suppress(Exception):  # not mounted yet: the default theme is dark
            dark = self.app.current_theme.dark
        return Syntax(self.yaml_text, "yaml", theme="ansi_dark" if dark else "ansi_light",
                      background_color="default", word_wrap=False, line_numbers=bool(self.highlight),
                      highlight_lines=self.highlight)

    def on_mount(self) -> None:
        self.update(self._syntax())
        self.watch(self.app, "theme", lambda _: self.update(self._syntax()), init=False)
