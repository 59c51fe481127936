"""Provides AuditScreen: the audit trail as an event log (policy changes, who made them, the connectivity diff).

Records come from ``kubectl_microseg.audit.AuditTrail`` (the app feeds it the live watch's events in the
watch thread); the text of each is ``render_record``, the same as ``kubectl microseg audit --watch``.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from ..clipboard import copy_text



def record_text(rec: Any) -> Text:
    """One record, coloured: the header bold, newly allowed green, newly denied red."""
    from kubectl_microseg.audit import render_record

    t = Text()
    for i, line in enumerate(render_record(rec).rstrip("\n").split("\n")):
        s = line.lstrip()
        style = "bold" if i == 0 else "green" if s.startswith("+ ") else "red" if s.startswith("- ") else \
            "yellow" if s.startswith("~ ") else "dim" if s.startswith("note:") else ""
        t.append(line + "\n", style=style)
    return t


class AuditScreen(Screen[None]):
    """Every policy change seen since the app started (new ones are appended while the screen is open)."""

    BINDINGS = [
        Binding("escape,q,a", "app.pop_screen", "Back"),
        Binding("y", "copy", "Copy"),
    ]

    def __init__(self, records: list[Any], watching: bool) -> None:
        super().__init__()
        self.records = records
        self.watching = watching

    def compose(self) -> ComposeResult:
        state = "following the live cluster" if self.watching else "not watching: no live cluster"
        yield Static(Text(f"audit trail · {state} · {len(self.records)} change(s)", style="bold"),
                     id="audit-title")
        yield RichLog(id="audit-log", wrap=False, markup=False, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        log = self.query_one(RichLog)
        if not self.records:
            log.write(Text("no policy change yet: changes to NetworkPolicies (and admin policies) appear here "
                           "as they happen, with who made them and the connectivity they changed", style="dim"))
        for rec in self.records:
            log.write(record_text(rec))
        log.focus()

    def add(self, rec: Any) -> None:
        """A new record while the screen is open (``records`` already holds it)."""
        self.query_one(RichLog).write(record_text(rec))
        state = "following the live cluster" if self.watching else "not watching"
        self.query_one("#audit-title", Static).update(
            Text(f"audit trail · {state} · {len(self.records)} change(s)", style="bold"))

    @property
    def text(self) -> str:
        from kubectl_microseg.audit import render_record

        return "".join(render_record(r) for r in self.records)

    def action_copy(self) -> None:
        copy_text(self.app, self.text, "audit trail")
