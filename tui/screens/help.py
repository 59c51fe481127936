"""Provides HelpScreen: every key, from :mod:`kubectl_microseg.tui.keys`."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..grid import CellState
from ..keys import KEYS


class HelpScreen(ModalScreen[None]):
    """The key table and the legend of cell glyphs."""

    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for k in KEYS:
            table.add_row(k.shown, k.action)
        legend = Table(box=None, show_header=False, padding=(0, 2))
        legend.add_column(style="bold")
        legend.add_column()
        for s in CellState:
            legend.add_row(s.glyph, s.words)
        with VerticalScroll(id="help-body") as v:
            v.border_title = "kubectl microseg tui — keys"
            yield Static(table)
            yield Static("\ncells", classes="title")
            yield Static(legend)
