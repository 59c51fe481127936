"""Provides Watcher: one thread per listed collection that follows it with the watch protocol.

Per collection (a Stream):
- watch from the list's resourceVersion with ``allowWatchBookmarks=true`` and a server-side
  ``timeoutSeconds``; BOOKMARKs only advance the resourceVersion; a stream that ends normally is
  re-opened from the last resourceVersion seen;
- a client read timeout (``timeoutSeconds`` + margin) so a dead connection cannot hang the thread;
- 410 Gone (an ERROR event or an HTTP 410) → re-list and emit the difference as ADDED/MODIFIED/DELETED;
- 429, 5xx, dropped connections, timeouts → capped exponential back-off, honouring Retry-After;
- 403 on the watch (list allowed, watch not) → poll by re-listing at the back-off cap.
Connection state is reported as STATE events: ``watching``, ``reconnecting``, ``relisting`` and
``stale`` (failing for longer than ``Tuning.stale_after``), aggregated over all collections, so a view
is never silently stale. ``stop()`` ends every thread promptly by shutting the open sockets down.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from typing import Any
from collections.abc import Callable, Iterator

from kubernetes.client.exceptions import ApiException

from kubectl_microseg.errors import Origin
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.sources import Event
from kubectl_microseg.vocab import EventType, WatchState

from .failures import CLIENT_ERRORS, FORBIDDEN, GONE, classify
from .gather import Stream
from .kinds import Calls, clean, object_key
from .listing import Tuning, list_kind

_RANK = {WatchState.WATCHING: 0, WatchState.RECONNECTING: 1, WatchState.RELISTING: 2, WatchState.STALE: 3}


class _Gone(Exception):
    """The watch's resourceVersion is too old (410): the collection must be re-listed."""


class StateTracker:
    """Aggregates per-collection connection states into STATE events (emitted on change only)."""

    def __init__(self, total: int, emit: Callable[[Event], None], context: str):
        self._total, self._emit, self._context = total, emit, context
        self._states: dict[int, tuple[WatchState, str]] = {}
        self._last: tuple[WatchState, str] | None = None
        self._last_sid: int | None = None
        self._lock = threading.Lock()

    def set(self, stream_id: int, state: WatchState, detail: str = "") -> None:
        """Record one collection's state; emit the aggregate if it changed.

        The aggregate is the worst state of any collection; its detail is that of the collection that
        changed last among the worst ones, with a count of the others in the same state.
        """
        with self._lock:
            self._states[stream_id] = (state, detail)
            rank = max(_RANK[s] for s, _ in self._states.values())
            worst = [sid for sid, (s, _) in self._states.items() if _RANK[s] == rank]
            if rank == 0:
                if len(self._states) < self._total:
                    return  # wait until every collection is watched before saying so
                current = (WatchState.WATCHING, f"watching {self._total} collection(s) of context {self._context}")
            else:
                sid = stream_id if stream_id in worst else (self._last_sid if self._last_sid in worst else worst[0])
                self._last_sid = sid
                more = f" (and {len(worst) - 1} more collection(s))" if len(worst) > 1 else ""
                current = (self._states[sid][0], self._states[sid][1] + more)
            if current != self._last:
                self._last = current
                self._emit(Event(EventType.STATE, state=current[0], detail=current[1]))

    @property
    def state(self) -> WatchState | None:
        with self._lock:
            return self._last[0] if self._last else None


class Watcher:
    """Follows every Stream in its own thread and puts Events on ``events``."""

    def __init__(self, calls: Calls, streams: list[Stream], *, tuning: Tuning, origin: Origin, context: str,
                 list_timeout: Any):
        self.calls, self.streams, self.tuning, self.origin = calls, streams, tuning, origin
        self.list_timeout = list_timeout
        self.events: queue.Queue[Event] = queue.Queue()
        self.stopping = threading.Event()
        self.tracker = StateTracker(len(streams), self.events.put, context)
        self._threads: list[threading.Thread] = []
        self._open: dict[int, Any] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        for i, stream in enumerate(self.streams):
            t = threading.Thread(target=self._follow, args=(i, stream), daemon=True,
                                 name=f"watch-{stream.scope.describe()}")
            t.start()
            self._threads.append(t)  # after start: stop() may run at any moment (Ctrl-C) and joins these

    def stop(self, timeout: float = 2.0) -> None:
        """Stop every thread: set the flag, cut open streams, and wait up to ``timeout`` in total."""
        self.stopping.set()
        with self._lock:
            responses = list(self._open.values())
        for resp in responses:
            _shutdown(resp)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    # -- one collection ----------------------------------------------------------------------------

    def _follow(self, sid: int, stream: Stream) -> None:
        tuning, scope = self.tuning, stream.scope
        attempt, failing_since, relist, polling = 0, None, False, False
        call = self.calls.lister(scope.kind, scope.namespace)
        while not self.stopping.is_set():
            resp = None
            try:
                if relist or polling:
                    if not polling:
                        self.tracker.set(sid, WatchState.RELISTING, f"{scope.describe()}: history expired (410), re-listing")
                    self._relist(stream, call)
                    relist = False
                    if polling:
                        self.stopping.wait(tuning.backoff_cap)
                        continue
                started = time.monotonic()
                resp = call(watch=True, resource_version=stream.resource_version or None,
                            allow_watch_bookmarks=True, timeout_seconds=tuning.watch_timeout,
                            _request_timeout=(tuning.connect_timeout, tuning.watch_timeout + tuning.watch_read_margin))
                with self._lock:
                    self._open[sid] = resp
                if self.stopping.is_set():
                    break
                attempt, failing_since = 0, None
                self.tracker.set(sid, WatchState.WATCHING)
                self._consume(stream, resp)
                if time.monotonic() - started < tuning.backoff_base:  # never spin on streams that end at once
                    self.stopping.wait(tuning.backoff_base)
            except _Gone:
                relist = True
            except CLIENT_ERRORS as exc:
                if self.stopping.is_set():
                    break
                failure = classify(exc)
                if failure.kind == GONE:
                    relist = True
                    continue
                if failure.kind == FORBIDDEN:
                    polling = True
                    self.tracker.set(sid, WatchState.STALE, f"{scope.describe()}: cannot watch (forbidden); re-listing every "
                                     f"{tuning.backoff_cap:g}s instead")
                    self.stopping.wait(tuning.backoff_cap)
                    continue
                attempt += 1
                failing_since = failing_since or time.monotonic()
                delay = tuning.backoff(attempt, failure.retry_after)
                state = WatchState.STALE if time.monotonic() - failing_since >= tuning.stale_after else WatchState.RECONNECTING
                what = f"HTTP {failure.status}: " if failure.status else ""
                self.tracker.set(sid, state, f"{scope.describe()}: {what}{failure.message}; retrying in {delay:.1f}s")
                self.stopping.wait(delay)
            finally:
                with self._lock:
                    self._open.pop(sid, None)
                if resp is not None:
                    _release(resp)

    def _consume(self, stream: Stream, resp: Any) -> None:
        """Apply a watch stream's events until it ends; raises _Gone on 410 and ApiException on ERROR."""
        kind = stream.scope.kind
        for line in _lines(resp):
            if self.stopping.is_set():
                return
            event = json.loads(line)
            type_, obj = event.get("type"), event.get("object") or {}
            if type_ == "ERROR":
                code = int(obj.get("code") or 500)
                if code == 410:
                    raise _Gone()
                raise ApiException(status=code, reason=str(obj.get("message") or obj.get("reason") or "watch error"))
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            if type_ == "BOOKMARK":
                stream.resource_version = rv or stream.resource_version
                continue
            if type_ not in (EventType.ADDED, EventType.MODIFIED, EventType.DELETED):
                continue
            obj = clean(obj, kind)
            key = object_key(obj)
            if type_ == EventType.DELETED:
                stream.known.pop(key, None)
            else:
                stream.known[key] = rv
            stream.resource_version = rv or stream.resource_version
            self.events.put(Event(EventType(type_), SourceObject(obj, self.origin)))

    def _relist(self, stream: Stream, call: Callable[..., Any]) -> None:
        """List the collection again and emit what changed since the objects we know."""
        result = list_kind(call, stream.scope.kind, self.tuning, self.list_timeout, self.stopping)
        fresh: dict[tuple[str, str, str], str] = {}
        for obj in result.items:
            key = object_key(obj)
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            fresh[key] = rv
            old = stream.known.get(key)
            if old is None:
                self.events.put(Event(EventType.ADDED, SourceObject(obj, self.origin)))
            elif old != rv:
                self.events.put(Event(EventType.MODIFIED, SourceObject(obj, self.origin)))
        for key in stream.known.keys() - fresh.keys():
            kind, ns, name = key
            stub: dict[str, Any] = {"kind": kind, "apiVersion": stream.scope.kind.api_version, "metadata": {"name": name}}
            if ns:
                stub["metadata"]["namespace"] = ns
            self.events.put(Event(EventType.DELETED, SourceObject(stub, self.origin)))
        stream.known = fresh
        stream.resource_version = result.resource_version


def _lines(resp: Any) -> Iterator[bytes]:
    """The newline-separated JSON lines of a chunked watch response, as they arrive."""
    buf = b""
    for segment in resp.stream(amt=None, decode_content=False):
        buf += segment
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                yield line
    if buf.strip():
        yield buf


def _shutdown(resp: Any) -> None:
    """Unblock a thread reading ``resp`` by shutting its socket down."""
    conn = getattr(resp, "connection", None) or getattr(resp, "_connection", None)
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: nothing to unblock
            sock.shutdown(socket.SHUT_RDWR)


def _release(resp: Any) -> None:
    """Close a watch response; its connection is not reused (it may be mid-stream)."""
    with contextlib.suppress(OSError):  # the socket is already gone
        resp.close()
