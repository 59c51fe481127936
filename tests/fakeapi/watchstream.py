"""Provides WatchStream: one watch response of the fake API server (chunked JSON lines).

Replay from the requested resourceVersion (or synthetic ADDED events for the current state when it is
unset or "0"), then follow the store; BOOKMARKs when allowed; an ERROR event with a 410 Expired Status
for a compacted resourceVersion; a clean end at ``timeoutSeconds``; abrupt cuts for drop faults.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import time
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable

from .records import truthy, typed
from .store import status_body
import contextlib

if TYPE_CHECKING:
    from .handler import Ctx, Handler


class WatchStream:
    """One watch response: replay from the requested resourceVersion, then follow the store."""

    def __init__(self, handler: Handler, ctx: Ctx):
        self.h, self.ctx, self.api = handler, ctx, handler.api
        self.res = ctx.target.resource
        self.ns = ctx.target.namespace
        self.sent = 0
        drop = ctx.record.headers.get("x-fakeapi-drop-after")
        self.drop_after = int(drop) if drop is not None else None
        self.bookmarks = truthy(ctx.query.get("allowWatchBookmarks"))

    def run(self) -> None:
        with self.api._req_lock:
            self.api._active_watches[self.res.id] = self.api._active_watches.get(self.res.id, 0) + 1
        try:
            self._run()
        finally:
            with self.api._req_lock:
                self.api._active_watches[self.res.id] -= 1

    def _run(self) -> None:
        q, store = self.ctx.query, self.api.store
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
        deadline = time.monotonic() + timeout if timeout else None
        rv_param = q.get("resourceVersion", "")
        self._start()
        if rv_param in ("", "0"):
            with store.cond:
                index = len(store.log_since(0)[0])
                initial = store.items(self.res, self.ns)
            if not self._send_events(("ADDED", typed(o, self.res)) for o in initial):
                return
        else:
            rv = int(rv_param) if rv_param.isdigit() else 0
            if rv < store.compacted_rv:
                self._send({"type": "ERROR", "object": status_body(
                    410, "Expired", f"too old resource version: {rv} ({store.compacted_rv})")})
                self._end()
                return
            index = store.log_index_after(rv)
        bookmark_gen = self.api._bookmark_gen
        drop_gen = self.api._drop_gen
        last_bookmark = time.monotonic()
        while not self.api._stopping.is_set():
            if self.drop_after is None:  # a drop armed while this stream was already open
                drop = self.api.faults.take("watch", self.res.id, "drop", self.ctx.query)
                if drop is not None:
                    self.drop_after = self.sent + drop.after_events
            if self.drop_after is not None and self.sent >= self.drop_after:
                self._cut()
                return
            if self._client_gone() or self.api._drop_gen != drop_gen:
                self.h.close_connection = True
                return
            with store.cond:
                entries, index = store.log_since(index)
                if not entries and bookmark_gen == self.api._bookmark_gen:
                    store.cond.wait(0.05)
            events = [(e.type, typed(e.obj, e.resource)) for e in entries if self._wanted(e)]
            if events and not self._send_events(events):
                return
            now = time.monotonic()
            due = (self.api.bookmark_interval is not None and now - last_bookmark >= self.api.bookmark_interval)
            if self.bookmarks and (bookmark_gen != self.api._bookmark_gen or due):
                self._bookmark()
                last_bookmark = now
            bookmark_gen = self.api._bookmark_gen
            if deadline is not None and now >= deadline:
                if self.bookmarks:
                    self._bookmark()
                break
        self._end()

    def _client_gone(self) -> bool:
        """True once the client closed its end (a readable socket with nothing to read)."""
        sock = self.h.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if isinstance(sock, ssl.SSLSocket):  # no MSG_PEEK through TLS: a watch client sends nothing more,
                return bool(readable)            # so bytes (close_notify) or EOF both mean it is gone
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _wanted(self, e: Any) -> bool:
        return e.resource == self.res and (self.ns is None or e.namespace == self.ns)

    def _start(self) -> None:
        self.ctx.record.status = 200
        h = self.h
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.wfile.flush()

    def _send(self, event: dict[str, Any]) -> None:
        self.h._chunk(json.dumps(event).encode() + b"\n")

    def _send_events(self, events: Iterable[tuple[str, dict[str, Any]]]) -> bool:
        """Send events; False if the stream was cut by a drop fault."""
        for type_, obj in events:
            if self.drop_after is not None and self.sent >= self.drop_after:
                self._cut()
                return False
            self._send({"type": type_, "object": obj})
            self.sent += 1
        return True

    def _bookmark(self) -> None:
        rv = str(self.api.store.resource_version)
        self._send({"type": "BOOKMARK", "object": {"kind": self.res.kind, "apiVersion": self.res.api_version,
                                                     "metadata": {"resourceVersion": rv}}})

    def _cut(self) -> None:
        """Close the connection without the terminating chunk: the client sees a broken stream."""
        self.ctx.record.status = 200
        with contextlib.suppress(OSError):
            self.h.connection.shutdown(socket.SHUT_RDWR)
        self.h.close_connection = True

    def _end(self) -> None:
        """End the stream normally (terminating chunk); the connection stays open for reuse, as with
        the real server over HTTP/1.1."""
        try:
            self.h.wfile.write(b"0\r\n\r\n")
            self.h.wfile.flush()
        except OSError:
            self.h.close_connection = True
