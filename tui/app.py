"""Provides MicrosegApp: live matrix triage in the terminal.

The app is thin: it loads the source in a worker, owns the state on screen (``session``, a
:class:`~.protocol.Session`) and hands each new one to its base screen, :class:`~.screens.matrix.MatrixScreen`
(rows, columns, side panels and every matrix key live there); a live source's watch runs in a thread and
its events take the live path (:class:`~.live_updates.LiveUpdates`). The app keeps the keys that work on
every screen: quit, help, theme.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
from collections.abc import Iterable
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import get_current_worker

from kubectl_microseg.sources import WatchingSource
from kubectl_microseg.vocab import EventType, SessionKind

from .grid import CellState
from .live_updates import LiveUpdates
from .messages import AuditRecorded, LiveEvent, LoadFailed, SessionReady, UpdateApplied, WatchEnded
from .protocol import Session, SessionSource
from .screens.matrix import MatrixScreen
from .session import KubeSession, build_session


class MicrosegApp(App[int]):
    """``kubectl microseg tui``: the connectivity matrix, explanations, simulation and live updates."""

    CSS_PATH = "app.tcss"
    TITLE = "kubectl microseg"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide"), (200, "-very-wide")]
    """Below 120 columns the matrix screen's side panel folds away (b shows it); from 200 it is wider."""

    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("t", "toggle_theme", "Theme", show=False),
    ]

    def __init__(self, source: Any, args: argparse.Namespace | None = None, *, granularity: str = "workload",
                 live: bool = True, namespace: str | None = None) -> None:
        """
        Args:
            source: a Source (``load()``), optionally a WatchingSource (``watch()``, ``stop()``), or the
                host-firewall source (``session(args)``).
            args: the command-line options (engine options such as --ipblock-matches-pods).
            granularity: namespace, workload or pod.
            live: follow the source's watch when it has one.
            namespace: start with this namespace's rows only (the CLI's ``-n``).
        """
        super().__init__()
        self.source = source
        self.args = args if args is not None else argparse.Namespace()
        self.session: Session | None = None
        """The state on screen."""
        self.live = live and isinstance(source, WatchingSource)
        self.updates = LiveUpdates(self, self.args)
        self.audit_records: list[Any] = []
        """Policy changes seen by the audit trail (newest last)."""
        self._shown_generation = -1
        """Number of the state on screen: an older result arriving late is dropped."""
        self._granularity = granularity
        self._namespace = namespace

    def get_default_screen(self) -> Screen:
        kind = SessionKind.NFT if isinstance(self.source, SessionSource) else SessionKind.K8S
        return MatrixScreen(kind=kind, granularity=self._granularity, namespace=self._namespace)

    @property
    def matrix_screen(self) -> MatrixScreen:
        """The base screen (the matrix), whatever is pushed over it."""
        screen = self.screen_stack[0]
        assert isinstance(screen, MatrixScreen)
        return screen

    @property
    def auditing(self) -> bool:
        """True once the audit trail follows the live source."""
        return self.updates.audit is not None

    def on_ready(self) -> None:
        """The matrix screen is mounted (and shows that it is loading): read the source."""
        self.load()

    def on_unmount(self) -> None:
        if isinstance(self.source, WatchingSource):
            with contextlib.suppress(Exception):  # the source is going away with the app; nothing to tell the user
                self.source.stop()

    # ------------------------------------------------------------------ loading and following (workers)
    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        """Read the source and analyse it off the UI thread."""
        session: Session
        try:
            if isinstance(self.source, SessionSource):  # host firewalls: the source builds its own session
                session = self.source.session(self.args)
            elif self.live:  # the incremental model from the start: the first event costs one namespace
                session = self.updates.first_session(self.source.load())
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

    # ------------------------------------------------------------------ messages
    def on_session_ready(self, message: SessionReady) -> None:
        if message.drawn is not None:
            self.call_after_refresh(message.drawn.set)
        if not self.is_running or not self.screen_stack:  # shutting down (a worker finished late)
            return
        if message.generation <= self._shown_generation:
            if message.exact:
                self.matrix_screen.redraw_late(message.changed)
            return
        self._shown_generation = message.generation
        self.session = message.session
        self.matrix_screen.show_session(message)
        if message.first and self.live and isinstance(message.session, KubeSession):
            self.updates.start(message.session)
            self.matrix_screen.status.set_state("watching")
            self.follow()
            gc.freeze()  # the live state and the first screen stay too: collections walk only what updates make

    def on_live_event(self, message: LiveEvent) -> None:
        ev = message.event
        if ev.type == EventType.STATE:
            self.matrix_screen.status.set_state(ev.state or "stale", ev.detail)
            if self.updates.state is not None:
                self.updates.state.apply(ev)
        elif self.updates.state is not None:
            self.updates.event(ev)

    def on_update_applied(self, message: UpdateApplied) -> None:
        self.updates.applied()

    def on_audit_recorded(self, message: AuditRecorded) -> None:
        """A policy change: keep it, show it in the open audit screen, and say so briefly."""
        from kubectl_microseg.audit import describe_who

        from .screens.audit import AuditScreen

        rec = message.record
        self.audit_records.append(rec)
        if not self.is_running or not self.screen_stack:  # the record came after the last screen
            return
        if isinstance(self.screen, AuditScreen):
            self.screen.add(rec)
        else:
            d = rec.diff
            what = (f"{len(d.added)} newly allowed, {len(d.removed)} newly denied" if d is not None
                    else "connectivity unchanged" if rec.metadata_only else "connectivity unknown")
            self.notify(f"{rec.type} {rec.kind} {rec.object_id} · {what} · {describe_who(rec.who)} (a: audit trail)",
                        title="policy change", timeout=5)

    def on_load_failed(self, message: LoadFailed) -> None:
        screen = self.matrix_screen
        screen.grid.loading = False
        if self.session is None:
            screen.status.set_state("error", message.error)
        self.notify(message.error, title="error", severity="error", timeout=8)

    def on_watch_ended(self, message: WatchEnded) -> None:
        self.matrix_screen.status.set_state("stale", message.error)

    # ------------------------------------------------------------------ app-wide actions
    def action_help(self) -> None:
        from .screens.help import HelpScreen

        self.push_screen(HelpScreen())

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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, MatrixScreen):
            yield from screen.system_commands()
        yield SystemCommand("Toggle dark/light", "Switch the theme", self.action_toggle_theme)
        yield SystemCommand("Help: keys", "Every key of the matrix view", self.action_help)

    # ------------------------------------------------------------------ test and benchmark helpers
    def cell_state(self, src: str, dst: str) -> CellState | None:
        """The state the matrix draws for (src, dst) if both are visible as rows/columns (for tests)."""
        return self.matrix_screen.cell_state(src, dst)
