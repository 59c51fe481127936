"""Provides StatusLine: where the data comes from and whether it is fresh (watching, reconnecting, stale)."""

from __future__ import annotations

import time

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

LIVE_STATES = ("loading", "static", "watching", "reconnecting", "relisting", "stale", "error")


class StatusLine(Static):
    """One line: connection state, source, counts, granularity and filter. Never silently stale."""

    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; }
    """

    state: reactive[str] = reactive("loading")
    since: reactive[float] = reactive(0.0)
    """When the state began (epoch seconds); shown for 'stale' and 'reconnecting'."""
    detail: reactive[str] = reactive("")
    source: reactive[str] = reactive("")
    counts: reactive[str] = reactive("")
    granularity: reactive[str] = reactive("workload")
    filter_text: reactive[str] = reactive("")
    mode_text: reactive[str] = reactive("")
    """What is drawn over the matrix now (a simulation, a port query), until Esc."""

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self.state in ("stale", "reconnecting", "relisting", "error"):
            self.refresh()

    def set_state(self, state: str, detail: str = "", since: float | None = None) -> None:
        """Change the connection state (``since`` defaults to now when the state changes)."""
        if state != self.state:
            self.since = since if since is not None else time.time()
        self.detail = detail
        self.state = state
        for s in LIVE_STATES:
            self.set_class(s == state, f"-{s}")

    def render(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        badge = {"loading": "… loading", "static": "■ snapshot", "watching": "● watching",
                 "reconnecting": "◌ reconnecting", "relisting": "◌ re-listing", "stale": "▲ STALE",
                 "error": "✖ error"}.get(self.state, self.state)
        t.append(f" {badge} ", style="bold reverse")
        if self.state in ("stale", "reconnecting", "relisting", "error") and self.since:
            age = int(time.time() - self.since)
            stamp = time.strftime("%H:%M:%S", time.localtime(self.since))
            t.append(f" since {stamp} ({age}s)", style="bold")
        if self.mode_text:  # first: what is drawn over the matrix must not be cut off by a long source name
            t.append(f" {self.mode_text} ", style="bold reverse")
        if self.detail:
            t.append(f" {self.detail}", style="italic")
        t.append(f"  {self.source}")
        if self.counts:
            t.append(f" · {self.counts}")
        t.append(f" · {self.granularity}")
        if self.filter_text:
            t.append(f" · filter {self.filter_text}", style="bold")
        return t
