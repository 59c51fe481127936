"""Provides MatrixScreen: the connectivity matrix with its side panels, cursor line, keys and commands.

Sources are rows, destinations columns, grouped by namespace (hosts and address classes for host
firewalls). The screen shows whatever :class:`~..protocol.Session` the app hands it (:meth:`show_session`;
a live update patches just the cells it names) and owns everything drawn over the matrix: the filter,
``/`` find, the port query and a simulation. Its keys are its own ``BINDINGS``: another screen pushed over
it (explain, simulate, …) has its own keys and the matrix's are off while it shows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, TabbedContent, TabPane

from kubectl_microseg.vocab import SessionKind

from ..clipboard import copy_text
from ..explain_doc import Block, plain_text
from ..grid import FILTER_AXES, GRANULARITIES, CellState, FilterAxis, GridModel, group_of, looks_like_selector
from ..messages import SessionReady
from ..nft_session import NftSession
from ..protocol import Feature, Session
from ..session import KubeSession
from ..widgets.cell_info import CellInfo
from ..widgets.command_bar import CommandBar
from ..widgets.legend import Legend
from ..widgets.matrix_grid import MatrixGrid
from ..widgets.namespace_tree import NamespaceTree
from ..widgets.policy_list import PolicyList
from ..widgets.status_line import StatusLine
from ..widgets.workload_list import WorkloadPanel

if TYPE_CHECKING:
    from ..app import MicrosegApp
    from .simulate import SimulationResult

FLASH_SECONDS = 2.5
"""How long changed cells stay highlighted after a live update."""
PANELS_AFTER_SECONDS = 1.0
"""Large clusters: side panels refill this long after the last live update (the cells are redrawn at once)."""
LARGE_WORKLOADS = 300
"""Above this many endpoints the matrix opens with every namespace folded and the side panels fill after
the first paint (issue 8: large clusters stay responsive)."""
PANEL_LABELS = {SessionKind.K8S: ("Namespaces", "Workloads", "Policies"),
                SessionKind.NFT: ("Hosts", "Endpoints", "Chains")}
"""The side panel's tabs: the same panels, named for what the source holds."""
OPTIONAL_VIEWS = {"simulate": Feature.SIMULATE, "scaffold": Feature.SCAFFOLD, "findings": Feature.FINDINGS,
                  "probe": Feature.PROBE}
"""Actions whose key is offered only when the session has the view (``check_action``)."""


class MatrixScreen(Screen[None]):
    """The matrix view: the app's base screen."""

    BINDINGS = [
        Binding("q", "app.quit", "Quit"),  # the app's, listed here first: at 80 columns the footer is cut
        Binding("question_mark", "app.help", "Help"),
        Binding("e", "explain", "Explain"),
        Binding("slash", "filter", "Find"),
        Binding("n", "find_next(1)", "Next match", show=False),
        Binding("N", "find_next(-1)", "Previous match", show=False),
        Binding("number_sign", "port_query", "Port query", show=False),
        Binding("colon", "command", "Command", show=False),
        Binding("d", "simulate", "Simulate"),
        Binding("s", "scaffold", "Scaffold"),
        Binding("g", "granularity", "Granularity"),
        Binding("z", "fold_all", "Fold all", show=False),
        Binding("f", "filter_axis", "Filter axis", show=False),
        Binding("x", "export", "Export"),
        Binding("y", "copy", "Copy", show=False),
        Binding("p", "policies", "Policies", show=False),
        Binding("L", "findings", "Lint findings"),
        Binding("a", "audit", "Audit", show=False),
        Binding("r", "probe", "Probe", show=False),
        Binding("b", "sidebar", "Side panel", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    granularity: reactive[str] = reactive("workload", init=False)

    def __init__(self, *, kind: SessionKind = SessionKind.K8S, granularity: str = "workload",
                 namespace: str | None = None) -> None:
        """
        Args:
            kind: what the source is (the side panels and the words say hosts and groups for host firewalls).
            granularity: namespace, workload or pod.
            namespace: start with this namespace's rows only (the CLI's ``-n``).
        """
        super().__init__()
        self.kind = kind
        self.session: Session | None = None
        """The state on screen (the app hands each new one to :meth:`show_session`)."""
        self.model: GridModel | None = None
        self.set_reactive(MatrixScreen.granularity, granularity)
        self._filter = f"{namespace}/" if namespace else ""
        self._namespace = namespace
        self._filter_axis: FilterAxis = "rows"
        self._found: list[str] = []
        """Endpoint ids matching the last ``/`` search (n and N step through them)."""
        self._found_at = 0
        self.simulation: SimulationResult | None = None
        """The simulation drawn on the matrix, until Esc."""
        self._sim_rows: dict[tuple[str, str], Any] = {}
        self.port_query: str = ""
        self.loaded_at = 0.0
        self._panels_show: dict[str, Session] = {}
        """Side panel tab -> the session it shows (large clusters refill only the open one after an update)."""
        self._panels_timer: Timer | None = None
        self._unflash: Timer | None = None
        self._staged: set[tuple[str, str]] = set()
        """The staged-policy pairs marked on the grid."""

    @property
    def microseg(self) -> MicrosegApp:
        """The app, typed (its source, options, live state and audit trail)."""
        return cast("MicrosegApp", self.app)

    def on_mount(self) -> None:
        self.grid.focus()
        self.status.granularity = self.granularity
        self.status.filter_text = self._filter
        if self.session is None:  # the app's load worker may have been quicker than this screen's mount
            self.grid.loading = True
            self.status.set_state("loading")

    # ------------------------------------------------------------------ session → view
    def show_session(self, message: SessionReady) -> None:
        """Show a newly analysed state: patch just its changed cells when the message names them exactly,
        else rebuild the grid; then the side panels, the status line and the change highlight."""
        patch = (message.exact and not message.first and self.session is not None and self.model is not None
                 and self.session.kind == message.session.kind)
        self.session = message.session
        if patch and self._redraw_cells(message.changed, flash=True):
            self._after_update(message)
            return
        self.grid.loading = False
        self.status.granularity = self._granularity_word(self.granularity)
        if message.first:
            self.refresh_bindings()  # host firewalls offer no simulate/scaffold keys
        self._rebuild_model()
        self._after_update(message)

    def redraw_late(self, pairs: set[tuple[str, str]]) -> None:
        """An older update finished after a newer one: the newer state is shown, but the cells the older
        change touched may not have been redrawn (the newer result named its own cells only)."""
        if self.model is not None and self.session is not None:
            self._redraw_cells(pairs)

    def _granularity_word(self, value: str) -> str:
        return self.session.granularity_word(value) if self.session is not None else value

    def compose(self) -> ComposeResult:
        namespaces, workloads, policies = PANEL_LABELS[self.kind]
        group_word = "group" if self.kind is SessionKind.NFT else "namespace"
        yield Header()
        with Horizontal(id="main"):
            with TabbedContent(id="sidebar"):
                with TabPane(namespaces, id="tab-namespaces"):
                    yield NamespaceTree(id="ns-tree")
                with TabPane(workloads, id="tab-workloads"):
                    yield WorkloadPanel(id="workload-panel")
                with TabPane(policies, id="tab-policies"):
                    yield PolicyList(id="policy-list")
            with Vertical(id="matrix-pane"):
                yield MatrixGrid(id="grid")
                yield Legend(id="legend", group_word=group_word)
                yield CellInfo(id="cell-info", group_word=group_word)
        yield CommandBar(id="command-bar")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    @property
    def grid(self) -> MatrixGrid:
        return self.query_one("#grid", MatrixGrid)

    @property
    def status(self) -> StatusLine:
        return self.query_one("#status", StatusLine)

    @property
    def is_nft(self) -> bool:
        """True when the view shows host firewalls rather than a cluster."""
        return self.kind is SessionKind.NFT

    def _redraw_cells(self, pairs: set[tuple[str, str]], *, flash: bool = False) -> bool:
        """Patch the grid with the session's matrix where ``pairs`` changed and redraw just their cells;
        False when the grid cannot be patched (endpoints came or went, pod granularity, …)."""
        assert self.model is not None and self.session is not None
        if self.granularity == "pod":
            return False
        keys = self.model.update_cells(self.session.matrix, pairs)
        if keys is None:
            return False
        self.grid.redraw_cells(keys, flash=flash)
        self._show_staged(if_changed=True)
        return True

    def _after_update(self, message: SessionReady) -> None:
        """Side panels, status line and change highlight of a newly shown state."""
        if message.first and self.large:  # the matrix paints first; thousands of panel rows follow
            self.call_after_refresh(self._load_panels, message.session)
        elif self.large:  # live updates: the cells first; the panels once the updates pause (~1 s each)
            if self._panels_timer is not None:
                self._panels_timer.stop()
            self._panels_timer = self.set_timer(PANELS_AFTER_SECONDS,
                                                lambda: self._load_panels(self.session, only_shown=True))
        else:
            self._load_panels(message.session)
        self.app.sub_title = message.session.description
        self.status.source = message.session.description
        m = message.session.matrix
        self.status.counts = f"{len(m.endpoints)} endpoints · {len(m.cells)} allowed pairs"
        partial = list(m.warnings) + [
            f"verdicts touching {'every namespace' if ns == '*' else ns} are unknown ({why})"
            for ns, why in sorted(m.uncertain_reasons.items())]
        if partial:  # a partial view is never shown as a clean one: say so on the status line and once aloud
            self.status.counts += f" · PARTIAL VIEW: {partial[0]}" + (f" (+{len(partial) - 1})" if len(partial) > 1 else "")
            if message.first:
                self.notify("\n".join(partial), title="partial view: ? marks unknown pairs", severity="warning",
                            timeout=10)
        if message.first:
            self.loaded_at = time.monotonic()
            self.grid.focus()
            if not self.microseg.live:
                self.status.set_state("static")
        elif message.changed:
            if not message.exact:  # an exact update highlighted its cells when it redrew them
                self.grid.flash(message.changed)
            if self._unflash is not None:
                self._unflash.stop()
            self._unflash = self.set_timer(FLASH_SECONDS, self.grid.unflash)

    @property
    def large(self) -> bool:
        """More endpoints than LARGE_WORKLOADS: fold namespaces at first, fill side panels late."""
        return self.session is not None and len(self.session.matrix.endpoints) > LARGE_WORKLOADS

    def _load_panels(self, session: Session | None, *, only_shown: bool = False) -> None:
        """Fill the side panels from ``session`` (``only_shown``: the open tab only, the others when opened)."""
        if session is None or session is not self.session:
            return  # a newer state arrived meanwhile and filled them already
        active = self.query_one("#sidebar", TabbedContent).active
        for tab, panel in (("tab-namespaces", NamespaceTree), ("tab-workloads", WorkloadPanel),
                           ("tab-policies", PolicyList)):
            if (only_shown and tab != active) or self._panels_show.get(tab) is session:
                continue
            self.query_one(panel).load(session)  # type: ignore[attr-defined]
            self._panels_show[tab] = session

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.tabbed_content.id == "sidebar" and self.session is not None:
            self._load_panels(self.session, only_shown=True)  # a panel left stale by a live update

    def _rebuild_model(self) -> None:
        if self.session is None:
            return
        old = self.model
        model = self.session.grid(self.granularity, filter_axis=self._filter_axis)  # type: ignore[arg-type]
        if old is not None and old.granularity == self.granularity:
            model.collapsed = set(old.collapsed)
        elif old is None and self.granularity == "workload" and self.large:
            model.collapsed = set(model.groups) - {self._namespace}  # -n keeps its namespace open
            self.notify(f"{len(self.session.matrix.endpoints)} endpoints: namespaces start folded "
                        "(space unfolds one, z unfolds all)", timeout=4)
        try:
            model.set_filter(self._filter)
        except ValueError:
            model.set_filter("")
        self.model = model
        self.grid.set_model(model)
        self._show_staged()

    def _show_staged(self, *, if_changed: bool = False) -> None:
        """Mark the pairs the Calico staged policies would change if enforced (none elsewhere); after a live
        patch only when they changed (marking redraws the whole grid)."""
        staged = set(self.session.staged) if isinstance(self.session, KubeSession) else set()
        if not (if_changed and staged == self._staged):
            self.grid.set_staged(staged)
        self._staged = staged

    def on_matrix_grid_cursor_moved(self, message: MatrixGrid.CursorMoved) -> None:
        found = self.query(CellInfo)
        if not found:  # a message that arrives while the app shuts down
            return
        info = found.first()
        reason = ""
        sim = self.grid.overlay.get((message.row.key, message.col.key)) if self.simulation is not None else None
        if sim is not None:  # the simulation drawn on the matrix: what changes here, and why
            rows = [r for (s, d), r in self._sim_rows.items()
                    if s in message.row.members and d in message.col.members]
            if len(rows) == 1:
                r = rows[0]
                info.show_text(f"simulated: {r.kind}  {r.src} → {r.dst}\n{r.before} → {r.after}"
                               + (f"  because {r.why}" if r.why else ""))
            else:
                info.show_text(f"simulated: {len(rows)} pairs change in this cell "
                               f"({', '.join(sorted({r.kind for r in rows}))}) · space unfolds")
            return
        if message.cell is not None and message.row.kind == "endpoint" and message.col.kind == "endpoint" \
                and self.session is not None:
            reason = self.session.one_line(message.row.key, message.col.key)
        elif message.cell is not None:
            reason = (f"{message.cell.allowed_pairs} of {message.cell.total_pairs} pairs allow something"
                      f" · space unfolds the {'group' if self.is_nft else 'namespace'} to see each pair")
        staged = self.session.staged if isinstance(self.session, KubeSession) else None
        if staged and (message.row.key, message.col.key) in self.grid.staged_cells:  # Calico staged policies
            changes = [c for (s, d), c in staged.items() if s in message.row.members and d in message.col.members]
            reason = (changes[0].describe() if len(changes) == 1 else
                      f"staged: {len(changes)} pairs here change if the staged policies are enforced "
                      f"({', '.join(sorted({p for c in changes for p in c.policies}))})") + (f" · {reason}" if reason else "")
        info.show_cell(message.row, message.col, message.cell, reason)

    def on_matrix_grid_activated(self, message: MatrixGrid.Activated) -> None:
        self.action_explain()

    def on_matrix_grid_group_toggled(self, message: MatrixGrid.GroupToggled) -> None:
        if self.model is None:
            return
        self.model.toggle_group(message.group)
        self.grid.set_model(self.model)

    def on_namespace_tree_chosen(self, message: NamespaceTree.Chosen) -> None:
        self.jump_to(message.group, message.endpoint)

    def on_workload_panel_workload_chosen(self, message: WorkloadPanel.WorkloadChosen) -> None:
        self.jump_to(message.endpoint.split("/", 1)[0], message.endpoint)

    def on_workload_panel_label_chosen(self, message: WorkloadPanel.LabelChosen) -> None:
        self.set_filter(f"{message.key}={message.value}")
        self.grid.focus()

    def on_policy_list_chosen(self, message: PolicyList.Chosen) -> None:
        if isinstance(self.session, NftSession):
            self.show_chain(message.policy_id)
        elif isinstance(self.session, KubeSession):
            from .policy import PolicyScreen

            self.app.push_screen(PolicyScreen(self.session, message.policy_id))

    def on_namespace_tree_chain_chosen(self, message: NamespaceTree.ChainChosen) -> None:
        self.show_chain(message.key)

    def show_chain(self, key: str) -> None:
        """nftables: a chain's rules (from the side tree or the chain list)."""
        if not isinstance(self.session, NftSession):
            return
        from .explain import ExplainScreen

        self.app.push_screen(ExplainScreen(self.session.chain_blocks(key)))

    def jump_to(self, namespace: str, endpoint: str | None = None) -> None:
        """Put the matrix cursor on a namespace's first row (unfolding it to reach an endpoint)."""
        m = self.model
        if m is None:
            return
        if endpoint and m.endpoint(endpoint) is not None:  # ids such as '10.0.0.0/8 (rest)' hold a '/' too
            namespace = group_of(m.endpoint(endpoint))  # type: ignore[arg-type]
        if endpoint and namespace in m.collapsed:
            m.toggle_group(namespace)
            self.grid.set_model(m)
        for i, r in enumerate(m.rows):
            if (endpoint and r.key == endpoint) or (not endpoint and r.group == namespace):
                self.grid.cursor_row = i
                self.grid.focus()
                return
        self.notify(f"{endpoint or namespace} is not in the view (filtered out?)", severity="warning")

    def set_filter(self, text: str) -> bool:
        """Filter the matrix (text or label selector); False and a notice if the selector is malformed."""
        if self.model is None:
            self._filter = text
            return True
        try:
            self.model.set_filter(text)
        except ValueError as exc:
            self.notify(f"bad filter: {exc}", severity="error")
            return False
        self._filter = text
        self.status.filter_text = f"{text} ({self._filter_axis})" if text else ""
        self.grid.set_model(self.model)
        return True

    def action_filter(self) -> None:
        self.query_one(CommandBar).open("/", self._filter)

    def action_command(self) -> None:
        self.query_one(CommandBar).open(":")

    def on_command_bar_done(self, message: CommandBar.Done) -> None:
        self.grid.focus()
        if message.cancelled:
            return
        if message.mode == "/":
            text = message.text.strip()
            if not text or looks_like_selector(text):
                self.set_filter(text)
            else:
                self.find(text)
        else:
            self.run_command(message.text)

    def run_command(self, text: str) -> None:
        """Run a ``:`` command (k9s style): ns NAME, pod/workload/namespace, export, simulate, theme, q."""
        words = text.strip().split()
        if not words:
            return
        cmd, rest = words[0].lower(), words[1:]
        if cmd in ("q", "q!", "quit", "exit"):
            self.app.exit(0)
        elif cmd in ("ns", "namespace") and rest:
            self.jump_to(rest[0])
        elif cmd in GRANULARITIES or cmd in ("pods", "po", "workloads", "wl", "namespaces"):
            alias = {"pods": "pod", "po": "pod", "workloads": "workload", "wl": "workload", "namespaces": "namespace"}
            self.granularity = alias.get(cmd, cmd)
        elif cmd in ("gran", "granularity") and rest and rest[0] in GRANULARITIES:
            self.granularity = rest[0]
        elif cmd in ("filter", "f"):
            self.set_filter(" ".join(rest))
        elif cmd in ("find", "/"):
            self.find(" ".join(rest))
        elif cmd == "port":
            self.query_port(" ".join(rest))
        elif cmd == "export":
            fmt = "mermaid" if rest and rest[0].startswith("mer") else "markdown"
            if len(rest) > 1:
                self.export_to(fmt, rest[1])
            else:
                self.action_export(fmt)
        elif cmd in ("simulate", "sim", "d"):
            self.action_simulate(" ".join(rest) or None)
        elif cmd == "theme":
            self.microseg.set_theme(rest[0] if rest else "")
        elif cmd in ("help", "h", "?"):
            self.microseg.action_help()
        elif cmd in ("fold", "unfold"):
            if self.model is not None:
                self.model.collapse_all(cmd == "fold")
                self.grid.set_model(self.model)
        elif cmd in ("explain", "e"):
            self.action_explain()
        elif cmd in ("lint", "findings"):
            self.action_findings()
        elif cmd in ("scaffold", "s"):
            self.action_scaffold()
        else:
            self.notify(f"unknown command {text!r}; press ? for help", severity="warning")

    def watch_granularity(self, value: str) -> None:
        self.status.granularity = self._granularity_word(value)
        self._rebuild_model()

    def action_granularity(self) -> None:
        cycle = self.session.granularities if self.session is not None else GRANULARITIES
        i = cycle.index(self.granularity) if self.granularity in cycle else -1
        self.granularity = cycle[(i + 1) % len(cycle)]

    def action_fold_all(self) -> None:
        if self.model is None:
            return
        self.model.collapse_all(len(self.model.collapsed) < len(self.model.groups))
        self.grid.set_model(self.model)

    def action_filter_axis(self) -> None:
        self._filter_axis = FILTER_AXES[(FILTER_AXES.index(self._filter_axis) + 1) % len(FILTER_AXES)]
        if self.model is not None:
            self.model.filter_axis = self._filter_axis
            self.model.rebuild()
            self.grid.set_model(self.model)
        self.status.filter_text = f"{self._filter} ({self._filter_axis})" if self._filter else ""
        self.notify(f"the filter applies to {self._filter_axis}", timeout=2)

    def _explain_blocks(self) -> list[Block] | None:
        cur = self.grid.current
        if cur is None or self.session is None:
            return None
        row, col = cur
        if row.kind != "endpoint" or col.kind != "endpoint":
            return None
        return self.session.explanation_blocks(row.key, col.key)

    def action_explain(self) -> None:
        blocks = self._explain_blocks()
        if blocks is None:
            self.notify("put the cursor on a pair of endpoints (space unfolds a namespace)", severity="warning")
            return
        from .explain import ExplainScreen

        self.app.push_screen(ExplainScreen(blocks))

    def action_probe(self) -> None:
        """r: the probe plan of the pair under the cursor; on a live cluster, Enter runs it (docs/probe.md)."""
        cur = self.grid.current
        if cur is None or not isinstance(self.session, KubeSession) \
                or cur[0].kind != "endpoint" or cur[1].kind != "endpoint":
            self.notify("put the cursor on a pair of workloads of a cluster to probe it", severity="warning")
            return
        from .probe import ProbeScreen, pair_probe

        self.app.push_screen(ProbeScreen(*pair_probe(self.session, self.microseg.source, self.microseg.args, cur[0].key, cur[1].key)))

    def action_copy(self) -> None:
        blocks = self._explain_blocks()
        if blocks is None:
            self.notify("nothing to copy here: put the cursor on a pair of endpoints", severity="warning")
            return
        copy_text(self.app, plain_text(blocks), "explanation")

    def action_export(self, fmt: str = "markdown") -> None:
        if self.model is None:
            return
        from .export import ExportScreen

        self.app.push_screen(ExportScreen(self.model.visible_matrix(), fmt))

    def export_to(self, fmt: str, path: str) -> None:
        """Write the visible matrix as markdown or mermaid to ``path``."""
        if self.model is None:
            return
        from .export import ExportScreen

        try:
            out = ExportScreen(self.model.visible_matrix(), fmt).write(path)
        except OSError as exc:
            self.notify(f"could not write {path}: {exc}", severity="error")
            return
        self.notify(f"wrote {out}", timeout=3)

    def action_simulate(self, path: str | None = None) -> None:
        """d: apply manifests from a file; the screen's m draws the result on this matrix."""
        if not isinstance(self.session, KubeSession):
            if self.session is not None:
                self.notify("simulate a ruleset with `kubectl microseg nft simulate`", severity="warning")
            return
        from .simulate import SimulateScreen

        self.app.push_screen(SimulateScreen(self.session, path), self.show_simulation)

    def action_scaffold(self) -> None:
        if not isinstance(self.session, KubeSession):
            if self.session is not None:
                self.notify("scaffold a host ruleset with `kubectl microseg nft scaffold`", severity="warning")
            return
        from .scaffold import ScaffoldScreen

        cur = self.grid.current
        ns = cur[0].group if cur else None
        peer_ns = cur[1].group if cur else None
        self.app.push_screen(ScaffoldScreen(self.session, ns, peer_ns))

    def action_findings(self) -> None:
        """L: the lint findings (same IDs and severities as ``kubectl microseg lint``); Enter jumps."""
        if not isinstance(self.session, KubeSession):
            return
        from .findings import FindingsScreen

        self.app.push_screen(FindingsScreen(self.session), self._jump_to_finding)

    def _jump_to_finding(self, target: tuple[str, str | None] | None) -> None:
        """The findings screen closed on a namespace or workload: put the cursor there."""
        if target is not None:
            self.jump_to(*target)

    def action_audit(self) -> None:
        """The audit trail: every policy change seen while watching (a live cluster only)."""
        from .audit import AuditScreen

        app = self.microseg
        if not app.live and not app.audit_records:
            self.notify("the audit trail follows a live cluster (not files, the demo or --no-watch)",
                        severity="warning")
        app.push_screen(AuditScreen(app.audit_records, app.auditing))

    def action_policies(self) -> None:
        sidebar = self.query_one("#sidebar", TabbedContent)
        sidebar.remove_class("-hidden")
        sidebar.add_class("-shown")
        sidebar.active = "tab-policies"
        self.query_one(PolicyList).focus()

    def action_sidebar(self) -> None:
        """b: show or hide the side panel (folded by default below 120 columns)."""
        sidebar = self.query_one("#sidebar")
        shown = sidebar.display
        sidebar.set_class(shown, "-hidden")
        sidebar.set_class(not shown, "-shown")
        if shown:
            self.grid.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The matrix's keys while it is on top (under a dialog its footer shows the dialog's world, not these);
        keys of views the session does not offer are not offered (host firewalls: no simulate, scaffold,
        findings or probe)."""
        if not self.is_active:
            return False
        feature = OPTIONAL_VIEWS.get(action)
        return feature is None or self.session is None or feature in self.session.features

    def action_back(self) -> None:
        """Esc: leave a side panel, then clear a simulation overlay, a port query, the filter."""
        if self.focused is not self.grid:
            self.grid.focus()
        elif self.simulation is not None:
            self.show_simulation(None)
        elif self.port_query:
            self.query_port("")
        elif self._filter:
            self.set_filter("")

    def find(self, text: str) -> bool:
        """``/NAME``: jump to the first endpoint whose id contains NAME (n, N: the next, previous one)."""
        if self.model is None or not text.strip():
            return False
        needle = text.strip().lower()
        self._found = [e.id for e in self.model.endpoints if needle in e.id.lower()]
        self._found_at = 0
        if not self._found:
            self.notify(f"no endpoint matches {text!r}", severity="warning")
            return False
        self._jump_found()
        return True

    def action_find_next(self, step: int = 1) -> None:
        if not self._found:
            self.notify("/ finds an endpoint by name first", severity="warning", timeout=2)
            return
        self._found_at = (self._found_at + step) % len(self._found)
        self._jump_found()

    def _jump_found(self) -> None:
        """Cursor on the found endpoint's row, and on its column too (the header then names it)."""
        eid = self._found[self._found_at]
        m = self.model
        assert m is not None
        e = m.endpoint(eid)
        self.jump_to(group_of(e) if e is not None else eid, eid)
        for i, c in enumerate(m.cols):
            if eid in c.members:
                self.grid.cursor_col = i
                break
        more = f" ({self._found_at + 1}/{len(self._found)}: n next, N previous)" if len(self._found) > 1 else ""
        self.notify(f"found {eid}{more}", timeout=3)

    def action_port_query(self) -> None:
        self.query_one(CommandBar).open(":", "port ")

    def query_port(self, text: str) -> int:
        """``:port 5432`` (or ``53/udp``): mark every cell that allows that port; empty clears. Returns matches."""
        text = text.strip()
        if not text:
            self.port_query = ""
            self.grid.set_match(set())
            self.status.mode_text = ""
            return 0
        port_s, _, proto = text.partition("/")
        try:
            port = int(port_s)
            if not 1 <= port <= 65535:
                raise ValueError
        except ValueError:
            self.notify(f"port query: {text!r} is not a port (1-65535, optionally /tcp, /udp or /sctp)",
                        severity="error")
            return 0
        proto = (proto or "tcp").upper()
        if self.session is None:
            return 0
        cells = self.session.matrix.cells
        pairs = {k for k, c in cells.items() if c.conns.allows(proto, port)}
        self.port_query = f"{port}/{proto.lower()}"
        self.grid.set_match(pairs)
        self.status.mode_text = f"who reaches {self.port_query}: {len(pairs)} pairs (esc clears)"
        self.notify(f"{len(pairs)} pairs allow {self.port_query}; their cells are marked", timeout=4)
        return len(pairs)

    def show_simulation(self, result: Any) -> None:
        """Draw a simulation on the matrix (+ newly allowed, − newly denied, ~ ports); None clears it."""
        from .simulate import OVERLAY_KIND

        self.simulation = result
        rows = result.rows if result is not None else []
        self._sim_rows = {(r.src, r.dst): r for r in rows}
        self.grid.set_overlay({(r.src, r.dst): OVERLAY_KIND.get(r.kind, "changed") for r in rows})
        if result is None:
            self.status.mode_text = ""
            return
        guards = f" · {len(result.guards)} guard(s): {result.guards[0]}" if result.guards else ""
        self.status.mode_text = f"SIMULATION: {len(rows)} pair(s) change{guards} (esc clears)"
        self.grid.focus()

    def cell_state(self, src: str, dst: str) -> CellState | None:
        """The state drawn for (src, dst) if both are visible as rows/columns (for tests)."""
        m = self.model
        if m is None:
            return None
        rows = {r.key: r for r in m.rows}
        cols = {c.key: c for c in m.cols}
        if src not in rows or dst not in cols:
            return None
        v = m.cell(rows[src], cols[dst])
        return v.state if v is not None else None

    # ------------------------------------------------------------------ command palette
    def system_commands(self) -> Iterator[SystemCommand]:
        """The matrix's entries in the command palette (ctrl+p)."""
        yield SystemCommand("Explain the cell", "Both directions, the deciding policies and their YAML",
                            self.action_explain)
        yield SystemCommand("Copy the explanation", "Copy the cell's explanation to the clipboard", self.action_copy)
        for g in GRANULARITIES:
            yield SystemCommand(f"Granularity: {g}", f"Rows and columns are {g}s",
                                lambda g=g: setattr(self, "granularity", g))
        yield SystemCommand("Fold or unfold all namespaces", "Namespace groups collapse into one row and column",
                            self.action_fold_all)
        yield SystemCommand("Filter the matrix", "Text or a label selector", self.action_filter)
        yield SystemCommand("Filter axis: rows, columns or both", "Where the filter applies", self.action_filter_axis)
        yield SystemCommand("Export as markdown", "The visible matrix", lambda: self.action_export("markdown"))
        yield SystemCommand("Export as mermaid", "The visible matrix as a flowchart",
                            lambda: self.action_export("mermaid"))
        features = self.session.features if self.session is not None else frozenset()
        if Feature.SIMULATE in features:
            yield SystemCommand("Simulate a change from a file", "Show newly allowed and newly denied pairs",
                                self.action_simulate)
        if Feature.SCAFFOLD in features:
            yield SystemCommand("Scaffold policies", "Default deny, DNS, namespace isolation …", self.action_scaffold)
        if Feature.FINDINGS in features:
            yield SystemCommand("Lint findings", "The CLI's lint rules on this view; Enter jumps to the object",
                                self.action_findings)
        yield SystemCommand("Policies", "The policy list with YAML and what each selects", self.action_policies)
        yield SystemCommand("Audit trail", "Policy changes on the live cluster: who, and the connectivity diff",
                            self.action_audit)
        yield SystemCommand("Toggle the side panel", "Namespaces, workloads, policies", self.action_sidebar)
