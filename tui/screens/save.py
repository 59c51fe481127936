"""Provides SaveDialog: where a file will be written, shown in full and editable; never a silent overwrite.

Enter writes to the path in the box (relative paths are shown resolved against the working directory).
When the file exists, the first Enter only says so; a second Enter on the same path replaces it (or
change the name). Esc cancels: nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class SaveDialog(ModalScreen["Path | None"]):
    """Returns the path written, or None when cancelled or the write failed (the dialog says why)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: str, default_name: str, text: str) -> None:
        super().__init__()
        self.what = what
        self.text = text
        self.default = str(Path.cwd() / default_name)
        self._confirm: str | None = None
        """The existing path the user was warned about (a second Enter on it overwrites)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="save-body"):
            yield Static(f"save {self.what} to:", classes="title")
            yield Input(self.default, id="save-path")
            yield Static("", id="save-note")

    def on_mount(self) -> None:
        self.query_one("#save-body").border_title = f"save {self.what}"
        self._describe(self.default)
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._confirm = None
        self._describe(event.value)

    def _describe(self, value: str) -> None:
        path = self._resolve(value)
        t = Text()
        t.append(f"→ {path}", style="bold")
        if path.exists():
            t.append("\nthis file exists: Enter twice replaces it, or change the name", style="bold yellow")
        elif not path.parent.is_dir():
            t.append(f"\nno such directory: {path.parent}", style="bold red")
        t.append("\nEnter writes · Esc cancels", style="dim")
        self.query_one("#save-note", Static).update(t)

    @staticmethod
    def _resolve(value: str) -> Path:
        p = Path(os.path.expanduser(value.strip() or "."))
        return p if p.is_absolute() else Path.cwd() / p

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from kubectl_microseg.io.atomic import atomic_write

        path = self._resolve(event.value)
        if path.is_dir():
            self.notify(f"{path} is a directory: add a file name", severity="error")
            return
        exists = path.exists()
        if exists and self._confirm != str(path):
            self._confirm = str(path)
            self.notify(f"{path} exists: Enter again replaces it", severity="warning", timeout=4)
            return
        try:
            atomic_write(path, self.text, overwrite=exists)
        except OSError as exc:
            self.notify(f"could not write {path}: {exc.strerror or exc}", severity="error")
            return
        self.app.notify(f"{'replaced' if exists else 'wrote'} {path}", timeout=4)
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.app.notify("nothing written", timeout=2)
        self.dismiss(None)
