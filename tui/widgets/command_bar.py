"""Provides CommandBar: the k9s-style input for ``/`` filters and ``:`` commands (Esc dismisses it)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class CommandBar(Input):
    """An Input that knows whether it is filtering (``/``) or taking a command (``:``)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    @dataclass
    class Done(Message):
        """The user pressed Enter (``text``) or Esc (``cancelled``)."""

        mode: str
        text: str
        cancelled: bool = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, placeholder="")
        self.mode = "/"

    def open(self, mode: str, text: str = "") -> None:
        """Show the bar in filter ('/') or command (':') mode and focus it."""
        self.mode = mode
        self.placeholder = ("find a workload by name (jumps; n next) or filter by labels (app=web, tier in (api,db))"
                            if mode == "/" else "command: ns NAME, pod|workload|namespace, export md|mermaid [FILE], "
                                                "simulate FILE, port 5432[/udp], find NAME, filter TEXT, theme NAME, help, q")
        self.border_title = "find / filter" if mode == "/" else "command"
        self.value = text
        self.display = True
        self.focus()

    def close(self) -> None:
        self.display = False

    def action_cancel(self) -> None:
        self.close()
        self.post_message(self.Done(self.mode, self.value, cancelled=True))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close()
        self.post_message(self.Done(self.mode, event.value))
