"""Provides MicrosegApp: live matrix triage in the terminal.

The app loads a source in a worker, shows the matrix (sources as rows, destinations as columns, grouped
by namespace), side panels (namespaces, workloads with labels, policies), and follows a live source's
watch in a thread worker, re-analysing in another and highlighting the cells that changed. Optional
screens (simulate, scaffold) appear when their core modules import.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import itertools
import threading
import time
from typing import Any
from collections.abc import Iterable

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane
from textual.timer import Timer
from textual.worker import get_current_worker

from kubectl_microseg.audit import POLICY_KINDS as AUDITED_KINDS
from kubectl_microseg.gcpause import paused_gc
from kubectl_microseg.vocab import EventType, SessionKind

from .grid import FILTER_AXES, GRANULARITIES, CellState, GridModel, group_of, looks_like_selector
from .messages import AuditRecorded, LiveEvent, LoadFailed, SessionReady, UpdateApplied, WatchEnded
from .session import Session, apply_events, build_session, changed_pairs, live_session, one_line_reason
from .widgets.cell_info import CellInfo
from .widgets.command_bar import CommandBar
from .widgets.legend import Legend
from .widgets.matrix_grid import MatrixGrid
from .widgets.namespace_tree import NamespaceTree
from .widgets.policy_list import PolicyList
from .widgets.status_line import StatusLine
from .widgets.workload_list import WorkloadPanel

FLASH_SECONDS = 2.5
"""How long changed cells stay highlighted after a live update."""
OVERLAP_AFTER_SECONDS = 0.1
"""Events wait for the live update in flight (then go in one batch) at most this long; then a second update
starts beside it (the model's lock orders them; results carry generations)."""
PANELS_AFTER_SECONDS = 1.0
"""Large clusters: side panels refill this long after the last live update (the cells are redrawn at once)."""
LARGE_WORKLOADS = 300
"""Above this many endpoints the matrix opens with every namespace folded and the side panels fill after
the first paint (issue 8: large clusters stay responsive)."""


def feature_available(module: str) -> bool:
    """True when an optional core module (scaffold, simulate) is installed."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class MicrosegApp(App[int]):
    """``kubectl microseg tui``: the connectivity matrix, explanations, simulation and live updates."""

    CSS_PATH = "app.tcss"
    TITLE = "kubectl microseg"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide"), (200, "-very-wide")]
    """Below 120 columns the side panel folds away (b shows it); from 200 it is wider."""

    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False),
        Binding("question_mark", "help", "Help"),
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
        Binding("t", "toggle_theme", "Theme", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    MATRIX_ACTIONS = frozenset({"find_next", "port_query", "filter", "command", "explain", "granularity", "fold_all",
                                "filter_axis", "export", "simulate", "scaffold", "findings", "copy", "policies",
                                "audit", "sidebar", "back", "probe"})
    """Actions of the matrix screen: over another screen they are off (and left out of its footer)."""

    granularity: reactive[str] = reactive("workload", init=False)

    def __init__(self, source: Any, args: argparse.Namespace | None = None, *, granularity: str = "workload",
                 live: bool = True, namespace: str | None = None) -> None:
        """
        Args:
            source: a Source (``load()``), optionally a WatchingSource (``watch()``, ``stop()``).
            args: the command-line options (engine options such as --ipblock-matches-pods).
            granularity: namespace, workload or pod.
            live: follow the source's watch when it has one.
            namespace: start with this namespace's rows only (the CLI's ``-n``).
        """
        super().__init__()
        self.source = source
        self.args = args if args is not None else argparse.Namespace()
        self.session: Session | None = None
        self.model: GridModel | None = None
        self.live = live and callable(getattr(source, "watch", None))
        self._pending: list = []
        self._pending_keys: tuple[set, set] = (set(), set())
        self._pending_audit: list = []
        self._panels_show: dict[str, Any] = {}
        """Side panel tab -> the session it shows (large clusters refill only the open one after an update)."""
        """(event, the object before it, whether it changed the analysis) of policy events for the audit trail."""
        """Keys of the objects changed and deleted since the last analysis (for the incremental model)."""
        self._panels_timer: Any = None
        self._live_model: Any = None
        self._versions = itertools.count(1)
        """Versions of the incremental model's states, drawn under its lock (see live_session)."""
        """The incremental model (engine.incremental.LiveModel) the live path updates, built on the first change."""
        self._flush_queued = False
        """A flush of the pending events is queued (behind the messages already waiting: a burst is one batch)."""
        self._flush_timer: Timer | None = None
        """The flush waiting for the update in flight (see _schedule_flush)."""
        self._update_started = 0.0
        self._updating = 0
        """Live updates applying events right now: events arriving meanwhile wait and go in one batch after."""
        self._unflash: Any = None
        self._live_state: Any = None
        self.audit_records: list[Any] = []
        """Policy changes seen by the audit trail (newest last)."""
        self._audit: Any = None
        self.set_reactive(MicrosegApp.granularity, granularity)
        self._filter = f"{namespace}/" if namespace else ""
        self._namespace = namespace
        self._filter_axis = "rows"
        self._found: list[str] = []
        """Endpoint ids matching the last ``/`` search (n and N step through them)."""
        self._found_at = 0
        self.simulation: Any = None
        """The simulation drawn on the matrix (SimulationResult), until Esc."""
        self._sim_rows: dict[tuple[str, str], Any] = {}
        self.port_query: str = ""
        self.loaded_at = 0.0
        self._generation = 0
        """Number of the newest analysis requested (0: the first load)."""
        self._shown_generation = -1
        """Number of the analysis on screen: an older result arriving late is dropped."""

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with TabbedContent(id="sidebar"):
                with TabPane("Namespaces", id="tab-namespaces"):
                    yield NamespaceTree(id="ns-tree")
                with TabPane("Workloads", id="tab-workloads"):
                    yield WorkloadPanel(id="workload-panel")
                with TabPane("Policies", id="tab-policies"):
                    yield PolicyList(id="policy-list")
            with Vertical(id="matrix-pane"):
                yield MatrixGrid(id="grid")
                yield Legend(id="legend")
                yield CellInfo(id="cell-info")
        yield CommandBar(id="command-bar")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    @property
    def grid(self) -> MatrixGrid:
        return self.query_one("#grid", MatrixGrid)

    @property
    def status(self) -> StatusLine:
        return self.query_one("#status", StatusLine)

    def on_mount(self) -> None:
        self.grid.loading = True
        self.grid.focus()
        self.status.set_state("loading")
        self.status.granularity = self.granularity
        self.status.filter_text = self._filter
        self.load()

    def on_unmount(self) -> None:
        stop = getattr(self.source, "stop", None)
        if callable(stop):
            with contextlib.suppress(Exception):  # the source is going away with the app; nothing to tell the user
                stop()

    # ------------------------------------------------------------------ loading (workers)
    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        """Read the source and analyse it off the UI thread."""
        try:
            factory = getattr(self.source, "session", None)  # nftables: the source builds its own session
            if callable(factory):
                session = factory(self.args)
            elif self.live:  # the incremental model from the start: the first event costs one namespace
                from kubectl_microseg.engine.incremental import LiveModel
                from kubectl_microseg.load import analyzer_options

                snapshot = self.source.load()
                self._live_model = LiveModel(snapshot.objects, analyzer_options(self.args, snapshot))
                session, _, _ = live_session(self._live_model, snapshot, self.args, threading.Lock())
                gc.freeze()  # the analysed cluster stays: later collections need not walk it (measured: 0.2-0.6 s pauses at L)
            else:
                session = build_session(self.source.load(), self.args)
        except Exception as exc:  # MicrosegError and anything a plugin raises: shown, never a traceback
            self.post_message(LoadFailed(str(exc) or type(exc).__name__))
            return
        self.post_message(SessionReady(session, set(), first=True))

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def follow(self) -> None:
        """Forward the live source's events to the UI (thread: the watch iterator blocks)."""
        worker = get_current_worker()
        try:
            for ev in self.source.watch():
                if worker.is_cancelled:
                    break
                self.post_message(LiveEvent(ev))
        except Exception as exc:  # the view must say it is stale, never crash or go quiet
            self.post_message(WatchEnded(str(exc) or type(exc).__name__))
            return
        if not worker.is_cancelled:
            self.post_message(WatchEnded("the watch ended"))

    @work(thread=True, group="reanalyse", exit_on_error=False, description="apply live events")
    def reanalyse(self, events: list, snapshot: Any, generation: int, changed: set = frozenset(),
                  deleted: set = frozenset(), audit: list | None = None) -> None:
        """Apply live events to the incremental model (the namespaces they touch only); post the new state and
        the cells that changed.

        Analyses may overlap (a slow one, then a newer event): each result carries its ``generation`` and
        :meth:`on_session_ready` keeps only the newest, so a late result can never hide a newer change.
        """
        old = self.session
        drawn = threading.Event()
        if not events:
            drawn.set()
        else:
            try:
                if old is None or not self._apply_events(old, events, snapshot, generation, changed, deleted, drawn):
                    drawn.set()
            finally:
                self.post_message(UpdateApplied())
        if old is None:
            return
        if audit:  # the cells first (drawn on screen), then the audit trail on the same model
            drawn.wait(1.0)
            for ev, before, relevant in audit:
                self._audit_record(old.lock, ev, before, relevant)

    def _audit_record(self, lock: Any, ev: Any, before: Any, relevant: bool) -> None:
        """One policy event's audit record, taken on the shared model (worker thread, under its lock)."""
        try:
            with lock, paused_gc():
                rec = self._audit.record(ev, before, relevant)
        except Exception as exc:  # the trail must never end the live view; say so
            self.post_message(LoadFailed(f"audit trail: {exc}"))
            return
        if rec is not None:
            self.post_message(AuditRecorded(rec))

    def _apply_events(self, old: Session, events: list, snapshot: Any, generation: int, changed: set,
                      deleted: set, drawn: threading.Event) -> bool:
        """Post the state with the events applied (``drawn`` is set once it is on screen); False on failure."""
        pairs = None
        try:
            if snapshot is not None:
                new, generation, pairs = self._live_update(old, snapshot, changed, deleted)
            else:
                new = apply_events(old, events)
        except Exception as exc:
            self.post_message(LoadFailed(f"could not analyse the change: {exc}"))
            return False
        self.post_message(SessionReady(new, changed_pairs(old.matrix, new.matrix) if pairs is None else pairs,
                                       first=False, generation=generation, exact=pairs is not None, drawn=drawn))
        return True

    def _live_update(self, old: Session, snapshot: Any, changed: set,
                     deleted: set) -> tuple[Session, int, set[tuple[str, str]] | None]:
        """The incremental path: one LiveModel for the app's life (rebuilt when the options change).

        Returns the session and its version: the order in which the model took the changes (two workers
        may overlap, and the one that applies last holds both changes, whichever event came first)."""
        from kubectl_microseg.engine.incremental import LiveModel
        from kubectl_microseg.load import analyzer_options

        options = analyzer_options(self.args, snapshot)
        lock = old.lock
        with lock:
            if self._live_model is None or self._live_model.options != options:
                self._live_model = LiveModel(snapshot.objects, options)
                changed, deleted = set(), set()
                if self._audit is not None:
                    self._audit.model = self._live_model
        # the watch's object store (look-ups only: a newer object than this batch's is applied again later)
        by_key = self._live_state.objects if self._live_state is not None else {o.key(): o for o in snapshot.objects}
        return live_session(self._live_model, snapshot, self.args, lock,
                            [by_key[k] for k in changed if k in by_key], deleted, self._versions)

    # ------------------------------------------------------------------ session → view
    @property
    def is_nft(self) -> bool:
        """True when the view shows host firewalls (an NftSession) rather than a cluster."""
        return self.session is not None and self.session.kind == SessionKind.NFT

    def _granularity_word(self, value: str) -> str:
        word = getattr(self.session, "granularity_word", None)
        return word(value) if callable(word) else value

    def on_session_ready(self, message: SessionReady) -> None:
        if message.drawn is not None:
            self.call_after_refresh(message.drawn.set)
        if not self.query(MatrixGrid):  # the app is shutting down (a worker finished late)
            return
        if message.generation <= self._shown_generation:
            # an older analysis finished after a newer one: the screen already shows more, but the cells that
            # older change touched may not have been redrawn yet (the newer result named its own cells only)
            if message.exact and self.model is not None and self.session is not None:
                self._redraw_cells(message.changed)
            return
        self._shown_generation = message.generation
        patch = (message.exact and not message.first and self.session is not None and self.model is not None
                 and self.session.kind == message.session.kind)
        self.session = message.session
        if patch and self._redraw_cells(message.changed, flash=True):
            self._after_update(message)
            return
        self.grid.loading = False
        self.status.granularity = self._granularity_word(self.granularity)
        self.query_one(CellInfo).group_word = "group" if self.is_nft else "namespace"
        if message.first:
            self.refresh_bindings()  # host firewalls offer no simulate/scaffold keys
            self.query_one(Legend).refresh()  # and their legend says "group"
        if self.is_nft and message.first:  # the same panels, named for host firewalls
            tabs = self.query_one("#sidebar", TabbedContent)
            for pane, label in (("tab-namespaces", "Hosts"), ("tab-workloads", "Endpoints"),
                                ("tab-policies", "Chains")):
                tabs.get_tab(pane).label = label
        self._rebuild_model()
        self._after_update(message)

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
        self.sub_title = message.session.description
        self.status.source = message.session.description
        m = message.session.matrix
        self.status.counts = f"{len(m.endpoints)} endpoints · {len(m.cells)} allowed pairs"
        partial = list(getattr(m, "warnings", [])) + [
            f"verdicts touching {'every namespace' if ns == '*' else ns} are unknown ({why})"
            for ns, why in sorted(getattr(m, "uncertain_reasons", {}).items())]
        if partial:  # a partial view is never shown as a clean one: say so on the status line and once aloud
            self.status.counts += f" · PARTIAL VIEW: {partial[0]}" + (f" (+{len(partial) - 1})" if len(partial) > 1 else "")
            if message.first:
                self.notify("\n".join(partial), title="partial view: ? marks unknown pairs", severity="warning",
                            timeout=10)
        if message.first:
            self.loaded_at = time.monotonic()
            self.grid.focus()
            if self.live:
                self._start_live(message.session)
            else:
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

    def _load_panels(self, session: Any, *, only_shown: bool = False) -> None:
        """Fill the side panels from ``session`` (``only_shown``: the open tab only, the others when opened)."""
        if session is not self.session:
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

    def _start_live(self, session: Session) -> None:
        from kubectl_microseg.audit import AuditTrail
        from kubectl_microseg.live import LiveState
        from kubectl_microseg.load import analyzer_options

        self._live_state = LiveState(session.snapshot)
        # on the live path's own model and state: no analysis of its own
        self._audit = AuditTrail(session.snapshot, analyzer_options(self.args, session.snapshot),
                                 live=self._live_state, model=self._live_model,
                                 external=not getattr(self.args, "no_external", False))
        self.status.set_state("watching")
        self.follow()
        gc.freeze()  # the live state and the first screen stay too: collections walk only what updates make

    def on_audit_recorded(self, message: AuditRecorded) -> None:
        """A policy change: keep it, show it in the open audit screen, and say so briefly."""
        from kubectl_microseg.audit import describe_who

        rec = message.record
        self.audit_records.append(rec)
        if not self.query(MatrixGrid):  # the app is shutting down (the record came after the last screen)
            return
        from .screens.audit import AuditScreen

        if isinstance(self.screen, AuditScreen):
            self.screen.add(rec)
        else:
            d = rec.diff
            what = (f"{len(d.added)} newly allowed, {len(d.removed)} newly denied" if d is not None
                    else "connectivity unchanged" if rec.metadata_only else "connectivity unknown")
            self.notify(f"{rec.type} {rec.kind} {rec.object_id} · {what} · {describe_who(rec.who)} (a: audit trail)",
                        title="policy change", timeout=5)

    def on_load_failed(self, message: LoadFailed) -> None:
        self.grid.loading = False
        if self.session is None:
            self.status.set_state("error", message.error)
        self.notify(message.error, title="error", severity="error", timeout=8)

    def on_live_event(self, message: LiveEvent) -> None:
        ev = message.event
        if ev.type == EventType.STATE:
            self.status.set_state(ev.state or "stale", ev.detail)
            if self._live_state is not None:
                self._live_state.apply(ev)
            return
        if self._live_state is not None:
            before = self._live_state.objects.get(ev.obj.key()) if ev.obj is not None else None
            change = self._live_state.apply(ev)
            if self._audit is not None and ev.obj is not None and ev.obj.kind in AUDITED_KINDS:
                self._pending_audit.append((ev, before, change.relevant))
                self._schedule_flush()
            if not change.relevant:
                return
            self._pending_keys[0].update(change.added | change.modified)
            self._pending_keys[1].update(change.deleted)
        self._pending.append(ev)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        """No debounce: an event goes to the model at once (after the messages already queued, so a burst that
        arrived together is one batch). While an update runs, events wait for it and then go together, for at
        most OVERLAP_AFTER_SECONDS: a slow update (a rebuild) does not hold back newer events; results are
        ordered by their generation."""
        if self._flush_queued:
            return
        self._flush_queued = True
        wait = self._update_started + OVERLAP_AFTER_SECONDS - time.monotonic() if self._updating else 0.0
        if wait > 0:
            self._flush_timer = self.set_timer(wait, self._flush_events)
        else:
            self.call_later(self._flush_events)

    def _flush_events(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        self._flush_queued = False
        events, self._pending = self._pending, []
        audit, self._pending_audit = self._pending_audit, []
        (changed, deleted), self._pending_keys = self._pending_keys, (set(), set())
        if events or audit:
            snap = self._live_state.snapshot() if self._live_state is not None and events else None
            if events:
                self._generation += 1
                self._updating += 1
                self._update_started = time.monotonic()
            self.reanalyse(events, snap, self._generation, changed - deleted, deleted, audit)

    def on_update_applied(self, message: UpdateApplied) -> None:
        """A live update is on its way to the screen: the events that waited for it go now."""
        self._updating -= 1
        if self._flush_timer is not None:  # the events waiting for this update go now
            self._flush_events()

    def on_watch_ended(self, message: WatchEnded) -> None:
        self.status.set_state("stale", message.error)

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
        self.grid.set_staged(set(getattr(self.session, "staged", {})))

    # ------------------------------------------------------------------ cursor → info line
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
            one_line = getattr(self.session, "one_line", None)
            if callable(one_line):  # nftables: the rule that decided the first probe packet
                reason = one_line(message.row.key, message.col.key)
            elif self.session.lock.acquire(blocking=False):  # the live path may be updating the analyzer
                try:
                    ex = self.session.explain(message.row.key, message.col.key)
                finally:
                    self.session.lock.release()
                reason = one_line_reason(ex) if ex is not None else ""
            else:
                reason = "the analysis is updating after a change in the cluster …"
        elif message.cell is not None:
            reason = (f"{message.cell.allowed_pairs} of {message.cell.total_pairs} pairs allow something"
                      f" · space unfolds the {'group' if self.is_nft else 'namespace'} to see each pair")
        staged = getattr(self.session, "staged", None)
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

    # ------------------------------------------------------------------ side panels
    def on_namespace_tree_chosen(self, message: NamespaceTree.Chosen) -> None:
        self.jump_to(message.namespace, message.endpoint)

    def on_workload_panel_workload_chosen(self, message: WorkloadPanel.WorkloadChosen) -> None:
        self.jump_to(message.endpoint.split("/", 1)[0], message.endpoint)

    def on_workload_panel_label_chosen(self, message: WorkloadPanel.LabelChosen) -> None:
        self.set_filter(f"{message.key}={message.value}")
        self.grid.focus()

    def on_policy_list_chosen(self, message: PolicyList.Chosen) -> None:
        if self.is_nft:
            self.show_chain(message.policy_id)
        elif self.session is not None:
            from .screens.policy import PolicyScreen

            self.push_screen(PolicyScreen(self.session, message.policy_id))

    def on_namespace_tree_chain_chosen(self, message: NamespaceTree.ChainChosen) -> None:
        self.show_chain(message.key)

    def show_chain(self, key: str) -> None:
        """nftables: a chain's rules (from the side tree or the chain list)."""
        chain_blocks = getattr(self.session, "chain_blocks", None)
        if not callable(chain_blocks):
            return
        from .screens.explain import ExplainScreen

        self.push_screen(ExplainScreen(chain_blocks(key)))

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

    # ------------------------------------------------------------------ filter and commands
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
            self.exit(0)
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
            self.set_theme(rest[0] if rest else "")
        elif cmd in ("help", "h", "?"):
            self.action_help()
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

    # ------------------------------------------------------------------ actions
    def watch_granularity(self, value: str) -> None:
        self.status.granularity = self._granularity_word(value)
        self._rebuild_model()

    def action_granularity(self) -> None:
        cycle = getattr(self.session, "granularities", GRANULARITIES)
        i = cycle.index(self.granularity) if self.granularity in cycle else -1
        self.granularity = cycle[(i + 1) % len(cycle)]

    def action_fold_all(self) -> None:
        if self.model is None:
            return
        self.model.collapse_all(len(self.model.collapsed) < len(self.model.groups))
        self.grid.set_model(self.model)

    def action_filter_axis(self) -> None:
        self._filter_axis = FILTER_AXES[(FILTER_AXES.index(self._filter_axis) + 1) % len(FILTER_AXES)]  # type: ignore[arg-type]
        if self.model is not None:
            self.model.filter_axis = self._filter_axis  # type: ignore[assignment]
            self.model.rebuild()
            self.grid.set_model(self.model)
        self.status.filter_text = f"{self._filter} ({self._filter_axis})" if self._filter else ""
        self.notify(f"the filter applies to {self._filter_axis}", timeout=2)

    def _explain_blocks(self):
        cur = self.grid.current
        if cur is None or self.session is None:
            return None
        row, col = cur
        if row.kind != "endpoint" or col.kind != "endpoint":
            return None
        nft_blocks = getattr(self.session, "explanation_blocks", None)
        if callable(nft_blocks):  # nftables: the rule traces of probe packets
            return nft_blocks(row.key, col.key)
        from .explain_doc import explanation_blocks

        with self.session.lock:  # at most one incremental update (tens of ms) to wait for
            return explanation_blocks(self.session, row.key, col.key)

    def action_explain(self) -> None:
        blocks = self._explain_blocks()
        if blocks is None:
            self.notify("put the cursor on a pair of endpoints (space unfolds a namespace)", severity="warning")
            return
        from .screens.explain import ExplainScreen

        self.push_screen(ExplainScreen(blocks))

    def action_probe(self) -> None:
        """r: the probe plan of the pair under the cursor; on a live cluster, Enter runs it (docs/probe.md)."""
        cur = self.grid.current
        if cur is None or self.session is None or self.session.kind != SessionKind.K8S \
                or cur[0].kind != "endpoint" or cur[1].kind != "endpoint":
            self.notify("put the cursor on a pair of workloads of a cluster to probe it", severity="warning")
            return
        from .screens.probe import ProbeScreen, pair_probe

        self.push_screen(ProbeScreen(*pair_probe(self.session, self.source, self.args, cur[0].key, cur[1].key)))

    def action_copy(self) -> None:
        blocks = self._explain_blocks()
        if blocks is None:
            self.notify("nothing to copy here: put the cursor on a pair of endpoints", severity="warning")
            return
        from .explain_doc import plain_text

        self.copy_to_clipboard(plain_text(blocks))
        self.tell_copied("explanation")

    def tell_copied(self, what: str) -> None:
        """Say honestly what a copy did: OSC 52 gives no receipt, and tmux drops it without set-clipboard."""
        self.notify(f"{what} sent to the terminal's clipboard (OSC 52). Nothing there? The terminal or tmux "
                    "refused it (tmux: set -g set-clipboard on); x exports to a file instead", timeout=5)

    def action_export(self, fmt: str = "markdown") -> None:
        if self.model is None:
            return
        from .screens.export import ExportScreen

        self.push_screen(ExportScreen(self.model.visible_matrix(), fmt))

    def export_to(self, fmt: str, path: str) -> None:
        """Write the visible matrix as markdown or mermaid to ``path``."""
        if self.model is None:
            return
        from .screens.export import ExportScreen

        try:
            out = ExportScreen(self.model.visible_matrix(), fmt).write(path)
        except OSError as exc:
            self.notify(f"could not write {path}: {exc}", severity="error")
            return
        self.notify(f"wrote {out}", timeout=3)

    def action_simulate(self, path: str | None = None) -> None:
        if self.session is None:
            return
        if self.is_nft:
            self.notify("simulate a ruleset with `kubectl microseg nft simulate`", severity="warning")
            return
        from .screens.simulate import SimulateScreen

        self.push_screen(SimulateScreen(self.session, path))

    def action_scaffold(self) -> None:
        if self.session is None:
            return
        if self.is_nft:
            self.notify("scaffold a host ruleset with `kubectl microseg nft scaffold`", severity="warning")
            return
        if not feature_available("kubectl_microseg.scaffold.templates"):
            self.notify("the scaffold module is not installed", severity="warning")
            return
        from .screens.scaffold import ScaffoldScreen

        cur = self.grid.current
        ns = cur[0].group if cur else None
        peer_ns = cur[1].group if cur else None
        self.push_screen(ScaffoldScreen(self.session, ns, peer_ns))

    def action_findings(self) -> None:
        """L: the lint findings (same IDs and severities as ``kubectl microseg lint``); Enter jumps."""
        if self.session is None or self.is_nft:
            return
        from .screens.findings import FindingsScreen

        self.push_screen(FindingsScreen(self.session))

    def action_audit(self) -> None:
        """The audit trail: every policy change seen while watching (a live cluster only)."""
        from .screens.audit import AuditScreen

        if isinstance(self.screen, AuditScreen):
            return
        if not self.live and not self.audit_records:
            self.notify("the audit trail follows a live cluster (not files, the demo or --no-watch)",
                        severity="warning")
        self.push_screen(AuditScreen(self.audit_records, self._audit is not None))

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        self.push_screen(HelpScreen())

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

    def set_theme(self, name: str) -> bool:
        """``:theme NAME``: switch theme; an unknown or missing name is a message listing the themes."""
        names = sorted(self.available_themes)
        if name not in names:
            what = f"unknown theme {name!r}" if name else "which theme?"
            self.notify(f"{what}; themes: {', '.join(names)}", severity="warning" if not name else "error",
                        timeout=6)
            return False
        self.theme = name
        return True

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Matrix keys act on the matrix only: another screen (explain, scaffold, …) keeps its own keys.

        Host firewalls have no simulate or scaffold screen: those keys are not offered there at all."""
        if action in ("simulate", "scaffold", "findings", "probe") and self.is_nft:
            return False
        return not (action in self.MATRIX_ACTIONS and len(self.screen_stack) > 1)

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

    # ------------------------------------------------------------------ find, port query, simulation overlay
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
        from .screens.simulate import OVERLAY_KIND

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

    # ------------------------------------------------------------------ command palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
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
        yield SystemCommand("Simulate a change from a file", "Show newly allowed and newly denied pairs",
                            self.action_simulate)
        if feature_available("kubectl_microseg.scaffold.templates"):
            yield SystemCommand("Scaffold policies", "Default deny, DNS, namespace isolation …", self.action_scaffold)
        yield SystemCommand("Lint findings", "The CLI's lint rules on this view; Enter jumps to the object",
                            self.action_findings)
        yield SystemCommand("Policies", "The policy list with YAML and what each selects", self.action_policies)
        yield SystemCommand("Audit trail", "Policy changes on the live cluster: who, and the connectivity diff",
                            self.action_audit)
        yield SystemCommand("Toggle the side panel", "Namespaces, workloads, policies", self.action_sidebar)
        yield SystemCommand("Toggle dark/light", "Switch the theme", self.action_toggle_theme)
        yield SystemCommand("Help: keys", "Every key of the matrix view", self.action_help)

    # ------------------------------------------------------------------ test and benchmark helpers
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
