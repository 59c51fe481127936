"""Provides ProbeScreen: ``r`` on a cell — the probe plan of that pair, and (live cluster, after Enter) the
network's answer next to the model's, as ``kubectl microseg probe --from A --to B`` prints them."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..clipboard import copy_text



class ProbeScreen(Screen[None]):
    """The plan of one pair's probes; Enter runs them when a live cluster and a way to probe are given."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("enter", "run", "Run the probes"),
        Binding("y", "copy", "Copy"),
    ]

    def __init__(self, plan: list[str], runner: Any = None) -> None:
        """
        Args:
            plan: the lines of the plan (or of why there is none).
            runner: a callable returning the report's lines, run in a worker on Enter; None: plan only.
        """
        super().__init__()
        self.lines = list(plan)
        self.runner = runner
        self.state = "plan"
        """plan, running, done."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="probe-body"):
            yield Static(self._text(), id="probe-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#probe-body").focus()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def _text(self) -> Text:
        t = Text()
        for ln in self.lines:
            style = "bold red" if ln.startswith("DISAGREE") else "bold green" if ln.startswith("AGREE") else ""
            t.append(ln + "\n", style=style)
        return t

    def _show(self, lines: list[str]) -> None:
        self.lines = lines
        self.query_one("#probe-text", Static).update(self._text())

    def action_run(self) -> None:
        if self.runner is None or self.state != "plan":
            return
        self.state = "running"
        self._show(self.lines + ["", "probing..."])
        self._probe()

    @work(thread=True, exclusive=True)
    def _probe(self) -> None:
        try:
            lines = self.runner()
        except Exception as exc:
            lines = [f"error: {exc}"]
        self.app.call_from_thread(self._finish, lines)

    def _finish(self, lines: list[str]) -> None:
        self.state = "done"
        self._show(lines)

    def action_copy(self) -> None:
        copy_text(self.app, self.text, "probe report")


def pair_probe(session: Any, source: Any, args: Any, src: str, dst: str) -> tuple[list[str], Any]:
    """The plan of probing ``src`` -> ``dst`` (every port the destination declares), and a runner when the
    view is of a live cluster and the TUI was given a way to probe (``--probe-image`` or ``--probe-exec``)."""
    from kubectl_microseg.dataplane import caveats
    from kubectl_microseg.dataplane.cells import judge, one_pair
    from kubectl_microseg.dataplane.commands import argv
    from kubectl_microseg.dataplane.pods import running_pods
    from kubectl_microseg.errors import MicrosegError

    analyzer, objects = session.analyzer, session.snapshot.objects
    try:
        cells = [judge(analyzer, c) for c in one_pair(analyzer, running_pods(objects, analyzer.cluster), src, dst,
                                                      None, "TCP")]
    except MicrosegError as exc:
        return [f"{src} -> {dst}: nothing to probe: {exc}"], None
    cnis = caveats.detect_cni(objects)
    timeout = 3
    lines = [f"probe {src} -> {dst}: {len(cells)} probe(s); CNI: {', '.join(map(str, cnis)) or 'none recognised'}"]
    lines += [f"  {c.model:5} {c.label()}   $ {' '.join(argv(c, timeout))}" for c in cells]
    lines.append("")
    if not hasattr(type(source), "connection"):
        return lines + ["probing needs a live cluster: this view is of files or the demo"], None
    image, use_exec = getattr(args, "probe_image", None), bool(getattr(args, "probe_exec", False))
    if not image and not use_exec:
        return lines + ["to run them here, start the TUI with --probe-image IMAGE (an ephemeral debug container) "
                        "or --probe-exec; see docs/probe.md"], None
    how = f"an ephemeral container of image {image} in the source pod" if image else "exec in the source pod"
    lines.append(f"Enter runs them ({how}; it ends afterwards); Esc goes back")

    def run() -> list[str]:
        from kubectl_microseg.dataplane.probe import execute
        from kubectl_microseg.dataplane.report import text_lines as report_text

        report = execute(source.connection.api_client, cells, cnis, analyzer.cluster, image=image,
                         timeout=timeout, concurrency=4)
        return report_text(report)

    return lines, run
