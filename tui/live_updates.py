"""Provides LiveUpdates: the live path of the TUI, from a watch event to a new state on screen.

One object store and one incremental model (``engine.incremental.LiveModel``, the class ``matrix --watch``
uses) for the app's life: the watch's events go into the store (``live.LiveState``); each batch is applied
to the model in a worker thread, re-analysing only the namespaces it touches and naming the cells that
changed; the new state goes to the app with a generation number (a late, older one is dropped). The audit
trail (``audit.AuditTrail``) records policy changes on the same model and store, after the cells are drawn.

Batching: no debounce. An event is flushed at once (behind the messages already queued, so a burst that
arrived together is one batch); while an update runs, new events wait for it and then go together, for at
most OVERLAP_AFTER_SECONDS.
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
from typing import TYPE_CHECKING, Any

from kubectl_microseg.audit import POLICY_KINDS as AUDITED_KINDS
from kubectl_microseg.gcpause import paused_gc
from kubectl_microseg.model.objects import ObjectKey
from kubectl_microseg.sources import Event, Snapshot

from .messages import AuditRecorded, LoadFailed, SessionReady, UpdateApplied
from .session import KubeSession, changed_pairs, live_session

if TYPE_CHECKING:
    from textual.timer import Timer

    from kubectl_microseg.audit import AuditTrail
    from kubectl_microseg.engine.incremental import LiveModel
    from kubectl_microseg.live import LiveState

    from .app import MicrosegApp

OVERLAP_AFTER_SECONDS = 0.1
"""Events wait for the live update in flight (then go in one batch) at most this long; then a second update
starts beside it (the model's lock orders them; results carry generations)."""


class LiveUpdates:
    """The live path of one app: the object store, the incremental model, batching and the audit trail."""

    def __init__(self, app: MicrosegApp, args: argparse.Namespace) -> None:
        self.app = app
        self.args = args
        self.model: LiveModel | None = None
        self.state: LiveState | None = None
        """The watch's object store (every object by key, as the events left it)."""
        self.audit: AuditTrail | None = None
        self.versions = itertools.count(1)
        """Versions of the model's states, drawn under its lock (see session.live_session)."""
        self.generation = 0
        """Number of the newest update requested (0: the first load)."""
        self._pending: list[Event] = []
        self._changed: set[ObjectKey] = set()
        self._deleted: set[ObjectKey] = set()
        """Keys of the objects changed and deleted since the last batch."""
        self._pending_audit: list[tuple[Event, Any, bool]] = []
        """(event, the object before it, whether it changed the analysis) of policy events for the audit trail."""
        self._flush_queued = False
        self._flush_timer: Timer | None = None
        """The flush waiting for the update in flight (see :meth:`_schedule`)."""
        self._updating = 0
        self._update_started = 0.0

    # ------------------------------------------------------------------ the first state
    def first_session(self, snapshot: Snapshot) -> KubeSession:
        """Build the model and the first state (worker thread)."""
        from kubectl_microseg.engine.incremental import LiveModel
        from kubectl_microseg.load import analyzer_options

        self.model = LiveModel(snapshot.objects, analyzer_options(self.args, snapshot))
        session, _, _ = live_session(self.model, snapshot, self.args, threading.Lock())
        return session

    def start(self, session: KubeSession) -> None:
        """The first state is on screen: open the object store and the audit trail on the same model."""
        from kubectl_microseg.audit import AuditTrail
        from kubectl_microseg.live import LiveState
        from kubectl_microseg.load import analyzer_options

        self.state = LiveState(session.snapshot)
        self.audit = AuditTrail(session.snapshot, analyzer_options(self.args, session.snapshot),
                                live=self.state, model=self.model,
                                external=not getattr(self.args, "no_external", False))

    # ------------------------------------------------------------------ events (UI thread)
    def event(self, ev: Event) -> None:
        """One watch event (not STATE): into the store, then into the next batch if it matters."""
        assert self.state is not None
        before = self.state.objects.get(ev.obj.key()) if ev.obj is not None else None
        change = self.state.apply(ev)
        if self.audit is not None and ev.obj is not None and ev.obj.kind in AUDITED_KINDS:
            self._pending_audit.append((ev, before, change.relevant))
            self._schedule()
        if not change.relevant:
            return
        self._changed |= change.added | change.modified
        self._deleted |= change.deleted
        self._pending.append(ev)
        self._schedule()

    def _schedule(self) -> None:
        if self._flush_queued:
            return
        self._flush_queued = True
        wait = self._update_started + OVERLAP_AFTER_SECONDS - time.monotonic() if self._updating else 0.0
        if wait > 0:
            self._flush_timer = self.app.set_timer(wait, self.flush)
        else:
            self.app.call_later(self.flush)

    def flush(self) -> None:
        """Send the pending events to a worker as one batch."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        self._flush_queued = False
        events, self._pending = self._pending, []
        audit, self._pending_audit = self._pending_audit, []
        changed, deleted = self._changed - self._deleted, self._deleted
        self._changed, self._deleted = set(), set()
        session = self.app.session
        if not (events or audit) or not isinstance(session, KubeSession) or self.state is None:
            return
        snapshot = self.state.snapshot() if events else None
        if events:
            self.generation += 1
            self._updating += 1
            self._update_started = time.monotonic()
        self.app.run_worker(lambda: self._apply(session, snapshot, self.generation, changed, deleted, audit),
                            thread=True, group="reanalyse", exit_on_error=False, description="apply live events")

    def applied(self) -> None:
        """An update's state (or error) is on its way to the screen: the events that waited for it go now."""
        self._updating -= 1
        if self._flush_timer is not None:
            self.flush()

    # ------------------------------------------------------------------ the update (worker thread)
    def _apply(self, old: KubeSession, snapshot: Snapshot | None, generation: int, changed: set[ObjectKey],
               deleted: set[ObjectKey], audit: list[tuple[Event, Any, bool]]) -> None:
        """Apply a batch to the model, post the new state and the cells that changed; then the audit records.

        Updates may overlap (a slow one, then a newer batch): each result carries its ``generation``, the
        version the model gave it, and the app keeps only the newest, so a late result never hides a newer
        change."""
        drawn = threading.Event()
        if snapshot is None:
            drawn.set()
        else:
            try:
                new, version, pairs = self._update(old, snapshot, changed, deleted)
            except Exception as exc:  # the live view keeps its last good state and says why
                self.app.post_message(LoadFailed(f"could not analyse the change: {exc}"))
                drawn.set()
            else:
                cells = pairs if pairs is not None else changed_pairs(old.matrix, new.matrix)  # after a rebuild
                self.app.post_message(SessionReady(new, cells, first=False, generation=version,
                                                   exact=pairs is not None, drawn=drawn))
            finally:
                self.app.post_message(UpdateApplied())
        if audit:  # the cells first (drawn on screen), then the audit trail on the same model
            drawn.wait(1.0)
            for ev, before, relevant in audit:
                self._record(old.lock, ev, before, relevant)

    def _update(self, old: KubeSession, snapshot: Snapshot, changed: set[ObjectKey],
                deleted: set[ObjectKey]) -> tuple[KubeSession, int, set[tuple[str, str]] | None]:
        """One model for the app's life (built again when the engine options change)."""
        from kubectl_microseg.engine.incremental import LiveModel
        from kubectl_microseg.load import analyzer_options

        options = analyzer_options(self.args, snapshot)
        with old.lock:
            if self.model is None or self.model.options != options:
                self.model = LiveModel(snapshot.objects, options)
                changed, deleted = set(), set()
                if self.audit is not None:
                    self.audit.model = self.model
        # the store (look-ups only: an object newer than this batch's is applied again with its own batch)
        assert self.state is not None
        store = self.state.objects
        return live_session(self.model, snapshot, self.args, old.lock, [store[k] for k in changed if k in store],
                            deleted, self.versions)

    def _record(self, lock: threading.Lock, ev: Event, before: Any, relevant: bool) -> None:
        """One policy event's audit record, taken on the shared model (worker thread, under its lock)."""
        assert self.audit is not None
        try:
            with lock, paused_gc():
                rec = self.audit.record(ev, before, relevant)
        except Exception as exc:  # the trail must never end the live view; say so
            self.app.post_message(LoadFailed(f"audit trail: {exc}"))
            return
        if rec is not None:
            self.app.post_message(AuditRecorded(rec))
