"""Provides ScaffoldScreen: the scaffold wizard, with every kind of ``kubectl microseg scaffold``.

Pick a kind (all eight of the CLI), pick the namespace in the wizard (it starts on the cursor's), type the
kind's options exactly as on the command line (``'frontend -> api:8080 -> db:5432'``, ``monitoring
--ports 9090``, ``--between shop,pci`` …: the CLI's own parser reads them, so the semantics are the
CLI's). The YAML preview and the impact (the pairs newly allowed and newly denied, listed) update.
``y`` copies the YAML, ``w`` opens the save dialog. Shown only when ``kubectl_microseg.scaffold`` is
installed.
"""

from __future__ import annotations

import contextlib
import io
import shlex
from dataclasses import dataclass, field

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from ..clipboard import copy_text
from ..session import KubeSession
from ..widgets.yaml_view import YamlView

EXAMPLES = {
    "default-deny": "--direction both",
    "allow-dns": "",
    "tiers": "'frontend -> api:8080 -> postgresql:5432'",
    "mesh": "'frontend -> api:8080 -> postgresql:5432'",
    "isolate-namespace": "",
    "zone": "compliance-zone=pci",
    "allow-from-namespace": "{peer} --ports 8080",
    "egress-external": "--ports 443",
    "from-matrix": "--between {namespace}",
}
"""The options box starts with these for each kind ({namespace}: the chosen one, {peer}: the cursor's column)."""
IMPACT_LIST = 12
"""Pairs listed per direction (the counts are always complete)."""


@dataclass
class Impact:
    """What the drafts would change: the pairs newly allowed and newly denied (and with ports changed)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    guards: list[str] = field(default_factory=list)
    """The simulate guards that fire (dns-broken, open-to-internet, …)."""


def kinds() -> dict:
    from kubectl_microseg.scaffold_kinds import KINDS

    return KINDS


def build_drafts(session: KubeSession, kind: str, namespace: str, options: str) -> tuple[list, list[str]]:
    """(drafts, notes) of a kind, with ``options`` read as ``scaffold KIND`` reads them (UsageError if bad); the
    mesh's root namespace and trust domain are the session's."""
    from kubectl_microseg.errors import UsageError
    from kubectl_microseg.scaffold_kinds import Model, parse_options

    try:
        words = shlex.split(options)
    except ValueError as exc:
        raise UsageError(f"options: {exc}") from None
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            args = parse_options(kind, words, namespace)
    except SystemExit:  # argparse's own message, without its usage lines
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip() and not ln.startswith(("usage:", " "))]
        raise UsageError(lines[-1].split(": error: ", 1)[-1] if lines else "bad options") from None
    a = session.analyzer
    args.mesh_root_namespace, args.trust_domain = a.options.mesh.root_namespace, a.options.mesh.trust_domain
    model = Model(a.cluster, a, session.matrix, list(session.objects.values()))
    return kinds()[kind].build(args, model)


def impact_of(session: KubeSession, drafts: list) -> Impact:
    """The pairs the drafts would newly allow, newly deny, or change the ports of (the simulate engine)."""
    from dataclasses import replace

    from kubectl_microseg.engine.analyze import analyze
    from kubectl_microseg.engine.simulate import apply_changes, compare
    from kubectl_microseg.model.objects import SourceObject

    sim = apply_changes(list(session.objects.values()), [SourceObject(d.manifest()) for d in drafts])
    diff = compare(session.analyzer, analyze(replace(session.snapshot, objects=sim.objects), session.analyzer.options))
    return Impact([f"{p.src} → {p.dst}" for p in diff.added], [f"{p.src} → {p.dst}" for p in diff.removed],
                  [f"{p.src} → {p.dst}" for p in diff.changed], [f"{f.kind}: {f.message}" for f in diff.findings])


class ScaffoldScreen(Screen[None]):
    """Kinds and namespaces on the left; options, impact and YAML on the right."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("y", "copy", "Copy YAML"),
        Binding("w", "write", "Save…"),
    ]

    @dataclass
    class ImpactReady(Message):
        key: tuple
        impact: Impact | None
        error: str = ""

    def __init__(self, session: KubeSession, namespace: str | None, peer: str | None) -> None:
        super().__init__()
        self.session = session
        self.namespaces = sorted(set(session.analyzer.cluster.namespaces)
                                 | {w.namespace for w in session.analyzer.cluster.workloads})
        self.namespace = namespace if namespace in self.namespaces else (self.namespaces[0] if self.namespaces
                                                                         else "default")
        self.peer = peer if peer in self.namespaces else self.namespace
        self.kind = next(iter(kinds()))
        self.yaml_text = ""
        self.impact: Impact | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="scaffold-body"):
            with Vertical(id="scaffold-left"):
                yield OptionList(*[Option(f"{name}", id=name) for name in kinds()], id="scaffold-templates")
                yield OptionList(*[Option(ns, id=ns) for ns in self.namespaces], id="scaffold-namespaces")
            with VerticalScroll(id="scaffold-preview"):
                yield Input("", id="scaffold-input")
                yield Static("", id="scaffold-summary")
                yield YamlView("", id="scaffold-yaml")
        yield Footer()

    def on_mount(self) -> None:
        kl = self.query_one("#scaffold-templates", OptionList)
        kl.border_title = "kind"
        nl = self.query_one("#scaffold-namespaces", OptionList)
        nl.border_title = "namespace"
        nl.highlighted = self.namespaces.index(self.namespace) if self.namespace in self.namespaces else 0
        kl.highlighted = 0
        kl.focus()
        self._set_kind(self.kind)

    def _set_kind(self, kind: str) -> None:
        self.kind = kind
        box = self.query_one("#scaffold-input", Input)
        box.border_title = f"scaffold {kind} -n {self.namespace} …  (the CLI's options)"
        box.placeholder = kinds()[kind].help
        box.border_subtitle = kinds()[kind].help
        with box.prevent(Input.Changed):
            box.value = EXAMPLES.get(kind, "").format(namespace=self.namespace, peer=self.peer)
        self.refresh_preview()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if not event.option.id:
            return
        if event.option_list.id == "scaffold-templates":
            if event.option.id != self.kind:
                self._set_kind(event.option.id)
        elif event.option.id != self.namespace:
            self.namespace = event.option.id
            self._set_kind(self.kind)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.refresh_preview()

    def refresh_preview(self) -> None:
        """Rebuild the YAML for the kind, namespace and options; start the impact computation."""
        from kubectl_microseg.scaffold.yaml_out import dump

        options = self.query_one("#scaffold-input", Input).value
        summary = self.query_one("#scaffold-summary", Static)
        try:
            drafts, notes = build_drafts(self.session, self.kind, self.namespace, options)
        except Exception as exc:  # the CLI's usage and input errors: a message, never a crash
            summary.update(Text(f"{self.kind}: {exc}", style="bold red"))
            self.yaml_text = ""
            self._show_yaml("")
            return
        self.yaml_text = dump(drafts) if drafts else ""
        self._show_yaml(self.yaml_text)
        self._notes = notes
        summary.update(Text(f"{self.kind} in {self.namespace}: computing the impact …", style="dim"))
        self.impact = None
        self.compute_impact((self.kind, self.namespace, options), drafts)

    def _show_yaml(self, text: str) -> None:
        view = self.query_one("#scaffold-yaml", YamlView)
        view.yaml_text = text
        view.update(view._syntax())

    @work(thread=True, exclusive=True, group="scaffold-impact", exit_on_error=False)
    def compute_impact(self, key: tuple, drafts: list) -> None:
        try:
            self.post_message(self.ImpactReady(key, impact_of(self.session, drafts)))
        except Exception as exc:
            self.post_message(self.ImpactReady(key, None, str(exc)))

    def on_scaffold_screen_impact_ready(self, message: ImpactReady) -> None:
        if message.key != (self.kind, self.namespace, self.query_one("#scaffold-input", Input).value):
            return  # the user has moved on: a newer computation is running
        summary = self.query_one("#scaffold-summary", Static)
        if message.impact is None:
            summary.update(Text(f"impact unknown: {message.error}", style="bold red"))
            return
        self.impact = imp = message.impact
        t = Text(f"{self.kind} in {self.namespace}: ", style="bold")
        t.append(f"+{len(imp.added)} newly allowed", style="bold green")
        t.append("  ")
        t.append(f"−{len(imp.removed)} newly denied", style="bold red")
        t.append("  ")
        t.append(f"~{len(imp.changed)} ports changed", style="bold yellow")
        for g in imp.guards:
            t.append(f"\n▲ {g}", style="bold yellow")
        for sign, pairs, style in (("+", imp.added, "green"), ("−", imp.removed, "red"), ("~", imp.changed, "yellow")):
            for p in pairs[:IMPACT_LIST]:
                t.append(f"\n  {sign} {p}", style=style)
            if len(pairs) > IMPACT_LIST:
                t.append(f"\n  {sign} … {len(pairs) - IMPACT_LIST} more", style=style)
        for n in getattr(self, "_notes", []):
            t.append(f"\nnote: {n}", style="dim italic")
        summary.update(t)

    def action_copy(self) -> None:
        copy_text(self.app, self.yaml_text, "scaffolded YAML")

    def action_write(self) -> None:
        """w: the save dialog (the full path shown and editable; an existing file is never replaced silently)."""
        from .save import SaveDialog

        if not self.yaml_text:
            self.notify("nothing to save: fix the options first", severity="warning")
            return
        self.app.push_screen(SaveDialog("the scaffolded YAML", f"scaffold-{self.kind}-{self.namespace}.yaml",
                                        self.yaml_text))
