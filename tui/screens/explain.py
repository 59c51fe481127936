"""Provides ExplainScreen: the full explanation of a pair, both directions, with the deciding YAML."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..clipboard import copy_text
from ..explain_doc import Block, plain_text
from ..widgets.yaml_view import YamlView


class ExplainScreen(Screen[None]):
    """Why A can or cannot reach B and B reach A; ``y`` copies the text, Esc goes back."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("y", "copy", "Copy"),
    ]

    def __init__(self, blocks: list[Block]) -> None:
        super().__init__()
        self.blocks = blocks

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="explain-body"):
            for b in self.blocks:
                yield _block_widget(b)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#explain-body").focus()

    @property
    def text(self) -> str:
        return plain_text(self.blocks)

    def action_copy(self) -> None:
        copy_text(self.app, self.text, "explanation")


def _block_widget(b: Block) -> Static:
    if b.kind == "yaml":
        view = YamlView(b.text, highlight=b.highlight, classes="yaml")
        view.border_title = b.origin
        view.border_subtitle = b.note
        return view
    if b.kind == "code":  # nftables: a rule trace or a chain listing (plain text, kept as written)
        code = Static(Text(b.text, no_wrap=True), classes="code")
        if b.origin:
            code.border_title = b.origin
        return code
    if b.kind == "reason":
        t = Text()
        t.append("  ✔ " if b.ok else ("  → " if b.ok is None else "  ✘ "), style="bold")
        t.append(b.text)
        return Static(t, classes="reason -ok" if b.ok else ("reason -pass" if b.ok is None else "reason -denied"))
    cls: str = b.kind
    if b.kind == "verdict":
        cls += " -ok" if b.ok else " -denied"
    return Static(Text(b.text), classes=cls)
