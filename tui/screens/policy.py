"""Provides PolicyScreen: one NetworkPolicy's YAML (highlighted), where it came from and what it selects."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, OptionList, Static

from ..clipboard import copy_text
from ..explain_doc import policy_yaml, short_origin, source_text
from ..session import KubeSession
from ..widgets.yaml_view import YamlView


class PolicyScreen(Screen[None]):
    """The policy's YAML on the left, the workloads it selects on the right; ``y`` copies the YAML."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("y", "copy", "Copy YAML"),
    ]

    def __init__(self, session: KubeSession, policy_id: str) -> None:
        super().__init__()
        self.session = session
        self.policy_id = policy_id
        entry = session.policy_entry(policy_id)
        self.yaml_text = (source_text(entry) or policy_yaml(entry)) if entry else f"# {policy_id}: not found\n"
        self.origin = short_origin(entry) if entry else ""
        self.selects = session.policy_selects(entry) if entry else []

    def compose(self) -> ComposeResult:
        with Horizontal():
            with VerticalScroll(id="policy-yaml"):
                yield Static(f"{self.policy_id} · {self.origin}", classes="title")
                yield YamlView(self.yaml_text)
            with VerticalScroll(id="policy-selects"):
                yield Label(f"selects {len(self.selects)} workload(s)", classes="title")
                yield OptionList(*self.selects or ["(nothing)"])
        yield Footer()

    def action_copy(self) -> None:
        copy_text(self.app, self.yaml_text + "\n", "policy YAML")
