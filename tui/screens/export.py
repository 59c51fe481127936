"""Provides ExportScreen: the visible matrix as markdown or mermaid, to copy or write to a file."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, TextArea

from kubectl_microseg.engine.matrix import Matrix
from kubectl_microseg.render.matrix import render_markdown, render_mermaid

from ..clipboard import copy_text

FORMATS = {"markdown": (render_markdown, "md"), "mermaid": (render_mermaid, "mmd")}


class ExportScreen(ModalScreen[None]):
    """``m`` switches markdown/mermaid, ``w`` opens the save dialog, ``y`` copies."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Close"),
        Binding("m", "switch", "Markdown/mermaid"),
        Binding("w", "write", "Save…"),
        Binding("y", "copy", "Copy"),
    ]

    def __init__(self, matrix: Matrix, fmt: str = "markdown") -> None:
        super().__init__()
        self.matrix = matrix
        self.fmt = fmt

    @property
    def text(self) -> str:
        return FORMATS[self.fmt][0](self.matrix)

    def compose(self) -> ComposeResult:
        with Vertical(id="export-body"):
            yield TextArea(self.text, read_only=True, id="export-text", soft_wrap=False)
        yield Footer()

    def on_mount(self) -> None:
        self._retitle()

    def _retitle(self) -> None:
        body = self.query_one("#export-body")
        body.border_title = f"export ({self.fmt}) — {len(self.matrix.endpoints)} endpoints, {len(self.matrix.cells)} allowed pairs"

    def action_switch(self) -> None:
        self.fmt = "mermaid" if self.fmt == "markdown" else "markdown"
        self.query_one("#export-text", TextArea).load_text(self.text)
        self._retitle()

    def write(self, path: str | None = None) -> Path:
        """Write the export (default ``microseg-matrix.md`` / ``.mmd`` in the working directory)."""
        from kubectl_microseg.io.atomic import write_new

        return Path(write_new(Path(path or f"microseg-matrix.{FORMATS[self.fmt][1]}"), self.text))

    def action_write(self) -> None:
        """w: the save dialog (the full path shown and editable; an existing file is never replaced silently)."""
        from .save import SaveDialog

        self.app.push_screen(SaveDialog(f"the matrix ({self.fmt})", f"microseg-matrix.{FORMATS[self.fmt][1]}",
                                        self.text))

    def action_copy(self) -> None:
        copy_text(self.app, self.text, self.fmt)
