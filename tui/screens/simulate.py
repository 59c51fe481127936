"""Provides SimulateScreen: apply manifests from a file to the current state and show the matrix diff.

Uses the core's simulation (``engine.simulate``: apply like kubectl, diff with causes), like the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from ..clipboard import copy_text
from ..session import KubeSession


@dataclass(frozen=True)
class DiffRow:
    """One changed pair as the table shows it."""

    kind: str
    src: str
    dst: str
    before: str
    after: str
    why: str = ""


@dataclass
class SimulationResult:
    """What a simulated change does to the matrix."""

    rows: list[DiffRow] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    guards: list[str] = field(default_factory=list)
    """The guards the CLI prints (dns-broken, open-to-internet, …): 'kind: message'."""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.kind] = out.get(r.kind, 0) + 1
        return out

    def text(self) -> str:
        """Plain text (what ``y`` copies)."""
        lines = [f"applied: {a}" for a in self.applied]
        lines += [f"GUARD {g}" for g in self.guards]
        lines += [f"{r.kind}: {r.src} -> {r.dst}: {r.before} => {r.after}" + (f"  ({r.why})" if r.why else "")
                  for r in self.rows]
        return "\n".join(lines or ["no change"]) + "\n"


def simulate_file(session: KubeSession, paths: list[str]) -> SimulationResult:
    """Apply the manifests in ``paths`` to the session's objects and diff the matrices."""
    from kubectl_microseg.sources import load_source_class

    changed = load_source_class("manifests")(paths).load().objects
    from dataclasses import replace

    from kubectl_microseg.engine.analyze import analyze
    from kubectl_microseg.engine.mesh import describe_mesh
    from kubectl_microseg.engine.simulate import apply_changes, compare

    sim = apply_changes(list(session.objects.values()), changed)
    after = analyze(replace(session.snapshot, objects=sim.objects), session.analyzer.options)
    diff = compare(session.analyzer, after)  # the CLI's diff: causes and guard findings included
    rows = []
    for kind, pairs in (("newly allowed", diff.added), ("newly denied", diff.removed), ("ports changed", diff.changed)):
        for p in pairs:
            rows.append(DiffRow(kind, p.src, p.dst, p.before.describe("all") if p.before else "denied",
                                p.after.describe("all") if p.after else "denied",
                                "; ".join(c.short() for c in p.causes[:2])))
    for c in diff.mesh_changes:  # L4 unchanged, the service mesh's verdict changed (engine.mesh.mesh_changes)
        rows.append(DiffRow("mesh", c["from"], c["to"], describe_mesh(c["before"]), describe_mesh(c["after"]),
                            "; ".join(x["text"] for x in c.get("causes", ())[:2])))
    return SimulationResult(rows, [c.describe() for c in sim.changes],
                            [f"{f.kind}: {f.message}" for f in diff.findings])


PAIR_W = 56
"""Width of the pair column: long address ranges are cut (in full: y copies, m shows each on the matrix), so
the before/after and because columns stay on screen at 160 columns."""


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


OVERLAY_KIND = {"newly allowed": "added", "newly denied": "removed", "ports changed": "changed"}
"""Diff row kind -> the matrix overlay's cell kind."""


class SimulateScreen(Screen["SimulationResult | None"]):
    """Type a manifest path, Enter: guards, then newly allowed, newly denied and changed pairs; m draws them
    on the matrix."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("m", "overlay", "Show on matrix"),
        Binding("y", "copy", "Copy diff"),
    ]

    @dataclass
    class Done(Message):
        """The simulation finished (``error`` set when it could not run)."""

        result: SimulationResult | None
        error: str = ""

    def __init__(self, session: KubeSession, path: str | None = None) -> None:
        super().__init__()
        self.session = session
        self.path = path
        self.result: SimulationResult | None = None

    def compose(self) -> ComposeResult:
        yield Input(self.path or "", placeholder="manifest file or directory to apply (Enter runs the simulation)",
                    id="sim-input")
        yield Static("simulate: what would change if these manifests were applied?", id="sim-summary")
        yield DataTable(id="sim-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("change", "from → to", "before → after", "because")
        if self.path:
            self.run_simulation(self.path)
        else:
            self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.run_simulation(event.value.strip())

    @work(thread=True, exclusive=True, group="simulate", exit_on_error=False)
    def run_simulation(self, path: str) -> None:
        """Run the simulation off the UI thread."""
        try:
            result = simulate_file(self.session, path.split(","))
        except Exception as exc:  # bad file or YAML: show the message, keep the screen
            self.post_message(self.Done(None, str(exc)))
            return
        self.post_message(self.Done(result))

    def on_simulate_screen_done(self, message: Done) -> None:
        summary = self.query_one("#sim-summary", Static)
        if message.result is None:
            summary.update(Text(f"error: {message.error}", style="bold red"))
            return
        self.result = message.result
        counts = message.result.counts()
        t = Text()
        t.append(f"+{counts.get('newly allowed', 0)} newly allowed", style="bold green")
        t.append("  ")
        t.append(f"−{counts.get('newly denied', 0)} newly denied", style="bold red")
        t.append("  ")
        t.append(f"~{counts.get('ports changed', 0)} ports changed", style="bold yellow")
        if counts.get("mesh"):
            t.append(f"  ◐{counts['mesh']} mesh verdicts changed", style="bold magenta")
        if message.result.rows:
            t.append("   m: show on the matrix", style="bold")
        if message.result.applied:
            t.append("\n" + "; ".join(message.result.applied[:6]), style="dim")
        for g in message.result.guards:  # the same guards as `kubectl microseg simulate`
            t.append(f"\n▲ {g}", style="bold yellow")
        if not message.result.guards:
            t.append("\nguards: none fired (dns-broken, open-to-cluster, open-to-internet, mesh-cut, mesh-plaintext)",
                     style="dim")
        summary.update(t)
        table = self.query_one(DataTable)
        table.clear()
        style = {"newly allowed": "green", "newly denied": "red", "ports changed": "yellow", "mesh": "magenta"}
        for r in message.result.rows:
            table.add_row(Text(r.kind, style=style.get(r.kind, "")), _short(f"{r.src} → {r.dst}", PAIR_W),
                          _short(f"{r.before} → {r.after}", 28), r.why)
        table.focus()

    def action_overlay(self) -> None:
        """Back to the matrix with the changed cells marked (+ allowed, − denied, ~ ports)."""
        if self.result is None or not self.result.rows:
            self.notify("nothing to draw: run a simulation that changes something", severity="warning")
            return
        self.dismiss(self.result)  # the matrix screen draws it

    def action_copy(self) -> None:
        if self.result is None:
            self.notify("run a simulation first", severity="warning")
            return
        copy_text(self.app, self.result.text(), "diff")
