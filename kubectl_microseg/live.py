"""Provides LiveState (the current objects of a watched source) and follow(): re-render on each change.

``LiveState`` is pure model-side bookkeeping: it keeps the object set keyed by (kind, namespace, name),
applies ``Event``s, and reports which objects changed *in a way the analysis can see* (labels, owner
references, specs, pod IPs and phase, namespace labels, policies). Pod status churn and resourceVersion
bumps are ignored, so views do not recompute for nothing. STATE events (watching, reconnecting,
relisting, stale) are kept so views can say when the data may be old; the last good objects are kept.

``follow()`` drives a WatchingSource: it loads, renders, then batches the events that arrive within
``debounce`` seconds of a relevant change and renders again, well within a second of the event.
"""

from __future__ import annotations

import json
import bisect
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any
from collections.abc import Callable

from .model.objects import ObjectKey, SourceObject
from .sources import Event, Snapshot, WatchingSource
from .vocab import EventType, WatchState

WORKLOAD_SPEC_IGNORED = ("replicas", "paused", "progressDeadlineSeconds", "revisionHistoryLimit",
                         "minReadySeconds", "strategy", "updateStrategy", "suspend")
"""Workload spec fields that change often and cannot change connectivity."""


def fingerprint(raw: dict[str, Any]) -> str:
    """The part of an object the connectivity analysis can depend on, as canonical JSON (equal: no change).

    >>> a = {"kind": "Pod", "metadata": {"name": "p", "resourceVersion": "1"}, "status": {"phase": "Running"}}
    >>> b = {"kind": "Pod", "metadata": {"name": "p", "resourceVersion": "2"}, "status": {"phase": "Running",
    ...      "conditions": [{"type": "Ready"}]}}
    >>> fingerprint(a) == fingerprint(b)
    True
    """
    meta = m if isinstance(m := raw.get("metadata"), dict) else {}
    kind = raw.get("kind")
    base = (kind, raw.get("apiVersion"), meta.get("labels"), meta.get("ownerReferences"),
            meta.get("deletionTimestamp") is not None)
    spec = raw.get("spec")
    if kind == "Pod":
        status = s if isinstance(s := raw.get("status"), dict) else {}
        keep = {k: status.get(k) for k in ("podIP", "podIPs", "phase", "hostIP")}
        return _canonical(base + (spec, keep))
    if kind == "Namespace":
        return _canonical(base)
    if isinstance(spec, dict) and kind != "NetworkPolicy":
        spec = {k: v for k, v in spec.items() if k not in WORKLOAD_SPEC_IGNORED}
    return _canonical(base + (spec,))


def _canonical(value: Any) -> str:
    """A deep, immutable copy for comparison (later mutation of the object cannot change it)."""
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class ChangeSet:
    """What one or more applied events changed."""

    added: set[ObjectKey] = field(default_factory=set)
    modified: set[ObjectKey] = field(default_factory=set)
    deleted: set[ObjectKey] = field(default_factory=set)
    state_changed: bool = False

    @property
    def relevant(self) -> bool:
        """True if the analysis may give a different result (objects changed that it depends on)."""
        return bool(self.added or self.modified or self.deleted)

    @property
    def kinds(self) -> set[str]:
        """The kinds of the changed objects (a view may recompute only what depends on them)."""
        return {k[0] for k in self.added | self.modified | self.deleted}

    def merge(self, other: ChangeSet) -> None:
        """Fold a later change into this one (an object added then deleted is neither)."""
        for key in other.added:
            if key in self.deleted:
                self.deleted.discard(key)
                self.modified.add(key)
            else:
                self.added.add(key)
        for key in other.modified:
            if key not in self.added:
                self.modified.add(key)
        for key in other.deleted:
            if key in self.added:
                self.added.discard(key)
            else:
                self.modified.discard(key)
                self.deleted.add(key)
        self.state_changed = self.state_changed or other.state_changed

    def describe(self) -> str:
        """'2 added, 1 modified' (or 'no change')."""
        parts = [f"{len(s)} {w}" for s, w in ((self.added, "added"), (self.modified, "modified"),
                                              (self.deleted, "deleted")) if s]
        return ", ".join(parts) or "no change"


class LiveState:
    """The current object set of a live source (see the module docstring)."""

    def __init__(self, snapshot: Snapshot):
        self.base = snapshot
        self.objects: dict[ObjectKey, SourceObject] = {}
        self._prints: dict[ObjectKey, str] = {}
        for obj in snapshot.objects:
            self.objects[obj.key()] = obj
            self._prints[obj.key()] = fingerprint(obj.raw)
        self._order: list[ObjectKey] = sorted(self.objects)
        """The keys in sorted order, kept by :meth:`apply` (a snapshot per batch never sorts them again)."""
        self.state: WatchState | None = None
        """Last connection state reported by the source (None before the first STATE event)."""
        self.state_detail = ""

    def apply(self, event: Event) -> ChangeSet:
        """Apply one event; the ChangeSet is empty for irrelevant updates and BOOKMARK-like noise."""
        change = ChangeSet()
        if event.type == EventType.STATE:
            if (event.state, event.detail) != (self.state, self.state_detail):
                self.state, self.state_detail = event.state, event.detail
                change.state_changed = True
            return change
        obj = event.obj
        if obj is None or not obj.kind or not obj.name:
            return change
        key = obj.key()
        if event.type == EventType.DELETED:
            if self.objects.pop(key, None) is not None:
                self._prints.pop(key, None)
                del self._order[bisect.bisect_left(self._order, key)]
                change.deleted.add(key)
            return change
        if event.type not in (EventType.ADDED, EventType.MODIFIED):
            return change
        fp = fingerprint(obj.raw)
        old = self._prints.get(key)
        self.objects[key] = obj
        self._prints[key] = fp
        if old is None:
            bisect.insort(self._order, key)
            change.added.add(key)
        elif old != fp:
            change.modified.add(key)
        return change

    @property
    def stale(self) -> bool:
        """True while the source says it is not following the cluster."""
        return self.state not in (None, WatchState.WATCHING)

    def snapshot(self) -> Snapshot:
        """The current objects as a Snapshot (sorted by key); notes say when the data may be stale."""
        notes = list(self.base.notes)
        if self.stale:
            notes.append(f"live data may be out of date ({self.state}: {self.state_detail}); "
                         "showing the last state received")
        return replace(self.base, objects=[self.objects[k] for k in self._order], notes=notes)


def follow(source: WatchingSource, on_change: Callable[[Snapshot, ChangeSet], None], *,
           on_state: Callable[[str, str], None] | None = None, debounce: float = 0.2,
           stop: threading.Event | None = None, snapshot: Snapshot | None = None) -> LiveState:
    """Load (unless ``snapshot`` is given), render, then re-render on every relevant change until stopped.

    Args:
        source: a live source; its ``watch()`` runs in a helper thread.
        on_change: called with the current Snapshot and what changed (first call: everything added).
        on_state: called with (state, detail) on every STATE change (e.g. to print it to stderr).
        debounce: after a relevant event, wait this long for more before rendering (bursts render once).
        stop: set it to end following; ``source.stop()`` is then called. Ctrl-C also ends it.
        snapshot: an already loaded Snapshot of ``source``.

    Returns:
        The LiveState as it was when following ended.
    """
    stop = stop or threading.Event()
    live = LiveState(snapshot if snapshot is not None else source.load())
    on_change(live.snapshot(), ChangeSet(added=set(live.objects)))
    events, thread = pump_events(source, stop, "follow-watch")
    pending: ChangeSet | None = None
    deadline = 0.0
    try:
        while not stop.is_set():
            timeout = max(0.0, deadline - time.monotonic()) if pending else 0.1
            idle = False
            try:
                ev = events.get(timeout=timeout)
            except queue.Empty:
                ev, idle = None, True
            if ev is None and not idle:  # the end of the stream
                break
            if ev is not None:
                change = live.apply(ev)
                if change.state_changed and on_state is not None:
                    on_state(live.state or "", live.state_detail)
                if change.relevant:
                    if pending is None:
                        pending, deadline = change, time.monotonic() + debounce
                    else:
                        pending.merge(change)
            if pending is not None and time.monotonic() >= deadline:
                on_change(live.snapshot(), pending)
                pending = None
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        source.stop()
        thread.join(timeout=2)
    return live


def follow_command(args: Any, show: Callable[[Any, Any, Snapshot], None], *, stop: threading.Event | None = None,
                   out: Any = None, err: Any = None, debounce: float = 0.2) -> int:
    """``--watch`` for a command: print its view, then print it again after every relevant change.

    Args:
        args: the parsed command line (the source options choose the live cluster).
        show: prints the view for an Analyzer and its Snapshot (the command's normal output).
        stop: set to end (tests); otherwise Ctrl-C ends it.
        out, err: streams (default: sys.stdout, sys.stderr). On a terminal the screen is cleared
            before each print, like ``watch``; otherwise the views follow each other.
        debounce: see :func:`follow`.

    Returns:
        0 when following ends.

    Raises:
        UsageError: with -f or --demo (there is nothing to follow).
    """
    import sys

    from .engine.incremental import LiveModel
    from .errors import MicrosegError, UsageError
    from .load import analyzer_options, source_for

    out = out or sys.stdout
    err = err or sys.stderr
    if getattr(args, "filename", None) or getattr(args, "demo", False):
        raise UsageError("--watch follows a live cluster; it cannot be used with -f/--filename or --demo")
    source = source_for(args)
    if not isinstance(source, WatchingSource):
        raise UsageError("--watch follows a live source; the one chosen does not watch for changes")
    tty = bool(getattr(out, "isatty", lambda: False)())
    first = [True]

    models: list[LiveModel] = []  # the incremental model, rebuilt from scratch after an error

    def render(snapshot: Snapshot, change: ChangeSet) -> None:
        options = analyzer_options(args, snapshot)
        try:
            if models and models[0].options == options:
                by_key = {o.key(): o for o in snapshot.objects}
                models[0].apply([by_key[k] for k in change.added | change.modified if k in by_key], change.deleted)
            else:
                models[:] = [LiveModel(snapshot.objects, options)]
        except MicrosegError as exc:
            models.clear()
            print(f"watch: cannot analyse the current objects, keeping the last view: {exc}", file=err, flush=True)
            return
        models[0].cluster.notes[:0] = [n for n in snapshot.notes if n not in models[0].cluster.notes]
        analyzer = _Incremental(models[0])
        if not first[0]:
            stamp = time.strftime("%H:%M:%S")
            print(f"watch: {stamp} {change.describe()}", file=err, flush=True)
            if tty:
                out.write("\x1b[H\x1b[2J")
        first[0] = False
        show(args, analyzer, snapshot)
        out.flush()

    last_state: list[str | None] = [None]

    def on_state(state: str, detail: str) -> None:
        if state != last_state[0]:  # one line per transition; the source refines details more often
            last_state[0] = state
            print(f"watch: {state}: {detail}", file=err, flush=True)

    follow(source, render, on_state=on_state, stop=stop, debounce=debounce)
    return 0


def pump_events(source: WatchingSource, stop: threading.Event,
                name: str) -> tuple[queue.Queue[Event | None], threading.Thread]:
    """Run ``source.watch()`` in a daemon thread feeding a queue; ``None`` marks the end of the stream."""
    events: queue.Queue[Event | None] = queue.Queue()

    def pump() -> None:
        try:
            for ev in source.watch():
                events.put(ev)
                if stop.is_set():
                    break
        finally:
            events.put(None)

    thread = threading.Thread(target=pump, name=name, daemon=True)
    thread.start()
    return events, thread


class _Incremental:
    """An Analyzer stand-in for views: ``matrix()`` comes from the incremental model's class cells."""

    def __init__(self, model: Any):
        self._model = model

    def matrix(self, *, external: bool = True) -> Any:
        return self._model.matrix(external=external)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model.analyzer, name)
