"""Provides FindingsScreen: the lint findings of what the matrix shows, as ``kubectl microseg lint`` reports them.

The same rules, IDs and severities as the CLI (``lint.registry.lint_cluster`` on the session's analyzer)
and the same default ignore file (``./.microseg-ignore``). Enter jumps to what a finding is about: a
policy opens its YAML, a workload or namespace puts the matrix cursor on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ..session import KubeSession

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "dim"}
POLICY_KINDS = ("NetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")


def lint_session(session: KubeSession) -> tuple[list, list[str], str | None]:
    """(findings kept, warnings about a partial view, the ignore file applied) for a session."""
    from kubectl_microseg.io.lint_files import DEMO_PREFIX, load_ignores, read_lines
    from kubectl_microseg.lint.context import LintContext
    from kubectl_microseg.lint.ignore import apply_ignores
    from kubectl_microseg.lint.registry import lint_cluster

    snap = session.snapshot

    def lines(path: str):
        return read_lines(path) or (read_lines(path, True) if path.startswith(DEMO_PREFIX) else None)

    partial = bool(getattr(snap, "warnings", None) or getattr(snap, "uncertain_reasons", None))
    found = lint_cluster(LintContext(session.analyzer, lines, partial=partial))
    entries, ignore_path = load_ignores(None)
    kept, _ = apply_ignores(found, entries)
    warnings = list(getattr(snap, "warnings", []))
    return kept, warnings, ignore_path


class FindingsScreen(Screen["tuple[str, str | None] | None"]):
    """Severity, rule ID, object and message; Enter jumps to the object, Esc goes back."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("enter", "jump", "Go to it"),
    ]

    @dataclass
    class Done(Message):
        findings: list
        warnings: list[str]
        ignore_path: str | None
        error: str = ""

    def __init__(self, session: KubeSession) -> None:
        super().__init__()
        self.session = session
        self.findings: list | None = None

    def compose(self) -> ComposeResult:
        yield Static("lint: running the same rules as `kubectl microseg lint` …", id="findings-summary")
        yield DataTable(id="findings-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="findings-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("severity", "rule", "object", "message")
        self.run_lint()

    @work(thread=True, exclusive=True, group="lint", exit_on_error=False)
    def run_lint(self) -> None:
        try:
            found, warnings, ignore_path = lint_session(self.session)
        except Exception as exc:  # a rule failing on odd input: say so, never crash the app
            self.post_message(self.Done([], [], None, str(exc) or type(exc).__name__))
            return
        self.post_message(self.Done(found, warnings, ignore_path))

    def on_findings_screen_done(self, message: Done) -> None:
        summary = self.query_one("#findings-summary", Static)
        if message.error:
            summary.update(Text(f"lint failed: {message.error}", style="bold red"))
            return
        self.findings = message.findings
        counts = {s: sum(1 for f in message.findings if f.severity == s) for s in ("error", "warning", "info")}
        t = Text()
        t.append(f"{len(message.findings)} finding(s): ")
        for s, n in counts.items():
            t.append(f"{n} {s}  ", style=SEVERITY_STYLE[s])
        t.append(f"· {self.session.description} · enter: go to the policy or row", style="dim")
        if message.ignore_path:
            t.append(f" · ignores from {message.ignore_path}", style="dim")
        for w in message.warnings:
            t.append(f"\nWARNING: {w} (rules about something missing did not run)", style="bold yellow")
        summary.update(t)
        table = self.query_one(DataTable)
        table.clear()
        for f in message.findings:
            table.add_row(Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")), f.rule, f.object, f.message)
        if message.findings:
            table.focus()
            self._detail(0)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    def _detail(self, i: int) -> None:
        if not self.findings or not 0 <= i < len(self.findings):
            return
        f = self.findings[i]
        t = Text()
        t.append(f"{f.rule} {f.severity}", style=SEVERITY_STYLE.get(f.severity, ""))
        t.append(f"  {f.object}  ({f.location.describe()}{', ' + f.path if f.path else ''})\n", style="dim")
        t.append(f.message)
        if f.fix:
            t.append(f"\nfix: {f.fix}", style="italic")
        self.query_one("#findings-detail", Static).update(t)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.jump(event.cursor_row)

    def action_jump(self) -> None:
        self.jump(self.query_one(DataTable).cursor_row)

    def jump(self, i: int) -> None:
        """A policy: its YAML. A workload or namespace: the matrix cursor on it."""
        if not self.findings or not 0 <= i < len(self.findings):
            return
        kind, _, name = self.findings[i].object.partition(" ")
        app = self.app
        if kind in POLICY_KINDS:
            from .policy import PolicyScreen

            if self.session.policy_entry(name) is not None:
                app.push_screen(PolicyScreen(self.session, name))
                return
        if kind == "Namespace":
            self.dismiss((name, None))  # the matrix screen puts its cursor there
        elif "/" in name:
            self.dismiss((name.split("/", 1)[0], name))
        else:
            app.notify(f"{self.findings[i].object}: not a row of the matrix", severity="warning")
