"""Provides ``copy_text``: put text on the terminal's clipboard and say honestly what that did."""

from __future__ import annotations

from textual.app import App


def copy_text(app: App, text: str, what: str) -> None:
    """Copy ``text`` (OSC 52) and tell the user: the terminal gives no receipt, and tmux drops it without
    ``set-clipboard on``; exporting to a file is the way that always works."""
    app.copy_to_clipboard(text)
    app.notify(f"{what} sent to the terminal's clipboard (OSC 52). Nothing there? The terminal or tmux "
               "refused it (tmux: set -g set-clipboard on); x exports to a file instead", timeout=5)
