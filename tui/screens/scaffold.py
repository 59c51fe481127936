"""Provides ScaffoldScreen: a small wizard over the core's policy templates, with YAML and impact.

Pick a template for the namespace under the cursor (default deny, DNS, namespace isolation, allow from
the column's namespace); the YAML preview and the matrix impact (newly allowed / newly denied) update.
``y`` copies the YAML, ``w`` writes it to ``scaffold-NAMESPACE.yaml``. Shown only when
``kubectl_microseg.scaffold`` is installed.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from ..session import Session
from ..widgets.yaml_view import YamlView

TEMPLATES = (
    ("default-deny", "default deny (ingress and egress)"),
    ("allow-dns", "allow DNS"),
    ("isolate", "isolate the namespace (same namespace + DNS)"),
    ("allow-from", "allow from the peer namespace (ports below)"),
)


def build_drafts(session: Session, template: str, namespace: str, peer: str | None, ports: str) -> list:
    """The PolicyDrafts of a template (raises UsageError for bad ports)."""
    from kubectl_microseg.scaffold import templates as t
    from kubectl_microseg.scaffold.dns import find_dns
    from kubectl_microseg.scaffold.draft import parse_ports

    cluster = session.analyzer.cluster
    if template == "default-deny":
        return [t.default_deny(namespace)]
    if template == "allow-dns":
        return [t.allow_dns(namespace, find_dns(cluster))]
    if template == "isolate":
        return [t.isolate_namespace(namespace, find_dns(cluster))]
    return list(t.allow_from_namespace(namespace, peer or namespace, parse_ports(ports)))


def impact_counts(session: Session, drafts: list) -> dict[str, int]:
    """How many pairs the drafts would newly allow / newly deny / change."""
    from kubectl_microseg.engine.simulate import analyzer_for, apply_changes, compare
    from kubectl_microseg.model.objects import SourceObject

    sim = apply_changes(list(session.objects.values()), [SourceObject(d.manifest()) for d in drafts])
    diff = compare(session.analyzer, analyzer_for(sim.objects, session.analyzer.options))
    return {"newly allowed": len(diff.added), "newly denied": len(diff.removed), "ports changed": len(diff.changed)}


class ScaffoldScreen(Screen[None]):
    """Templates on the left; YAML and impact on the right."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("y", "copy", "Copy YAML"),
        Binding("w", "write", "Save…"),
    ]

    @dataclass
    class Impact(Message):
        template: str
        counts: dict[str, int] | None
        error: str = ""

    def __init__(self, session: Session, namespace: str | None, peer: str | None) -> None:
        super().__init__()
        self.session = session
        namespaces = [w.namespace for w in session.analyzer.cluster.workloads]
        self.namespace = namespace if namespace in namespaces else (namespaces[0] if namespaces else "default")
        self.peer = peer if peer in namespaces else self.namespace
        self.template = TEMPLATES[0][0]
        self.yaml_text = ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="scaffold-body"):
            with Vertical(id="scaffold-left"):
                yield OptionList(*[Option(f"{label}", id=key) for key, label in TEMPLATES], id="scaffold-templates")
                yield Input("8080/tcp", placeholder="8080, 53/udp, http", id="scaffold-input")
            with VerticalScroll(id="scaffold-preview"):
                yield Static("", id="scaffold-summary")
                yield YamlView("", id="scaffold-yaml")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#scaffold-templates", OptionList).border_title = f"scaffold for namespace {self.namespace}"
        self.query_one("#scaffold-input", Input).border_title = f"ports allowed from {self.peer}"
        self.query_one("#scaffold-templates", OptionList).highlighted = 0
        self.query_one("#scaffold-templates", OptionList).focus()
        self.refresh_preview()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self.template = event.option.id
            self.refresh_preview()

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.template == "allow-from":
            self.refresh_preview()

    def refresh_preview(self) -> None:
        """Rebuild the YAML for the chosen template and start the impact computation."""
        from kubectl_microseg.scaffold.yaml_out import dump

        ports = self.query_one("#scaffold-input", Input).value
        summary = self.query_one("#scaffold-summary", Static)
        try:
            drafts = build_drafts(self.session, self.template, self.namespace, self.peer, ports)
        except Exception as exc:
            summary.update(Text(f"error: {exc}", style="bold red"))
            return
        self.yaml_text = dump(drafts)
        view = self.query_one("#scaffold-yaml", YamlView)
        view.yaml_text = self.yaml_text
        view.update(view._syntax())
        summary.update(Text(f"{self.namespace}: computing the impact …", style="dim"))
        self.compute_impact(self.template, drafts)

    @work(thread=True, exclusive=True, group="scaffold-impact", exit_on_error=False)
    def compute_impact(self, template: str, drafts: list) -> None:
        try:
            self.post_message(self.Impact(template, impact_counts(self.session, drafts)))
        except Exception as exc:
            self.post_message(self.Impact(template, None, str(exc)))

    def on_scaffold_screen_impact(self, message: Impact) -> None:
        if message.template != self.template:
            return
        summary = self.query_one("#scaffold-summary", Static)
        if message.counts is None:
            summary.update(Text(f"impact unknown: {message.error}", style="bold red"))
            return
        c = message.counts
        t = Text(f"{self.namespace}" + (f" ← {self.peer}" if self.template == "allow-from" else "") + ": ")
        t.append(f"+{c['newly allowed']} newly allowed", style="bold green")
        t.append("  ")
        t.append(f"−{c['newly denied']} newly denied", style="bold red")
        t.append("  ")
        t.append(f"~{c['ports changed']} ports changed", style="bold yellow")
        summary.update(t)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.yaml_text)
        self.app.tell_copied("scaffolded YAML")  # type: ignore[attr-defined]

    def action_write(self) -> None:
        """w: the save dialog (the full path shown and editable; an existing file is never replaced silently)."""
        from .save import SaveDialog

        self.app.push_screen(SaveDialog("the scaffolded YAML", f"scaffold-{self.namespace}.yaml", self.yaml_text))
