"""Provides FakeApiServer: a real HTTP server on 127.0.0.1 speaking the Kubernetes REST and watch protocol.

What it implements (the parts ``kubectl microseg`` and the official Python client use):
- GET list of a collection (cluster-wide or per namespace): ``{"kind": "PodList", "apiVersion": "v1",
  "metadata": {"resourceVersion": "N", "continue": "..."}, "items": [...]}``; items carry no kind or
  apiVersion, as with the real server; ``limit``/``continue`` give consistent pages from one snapshot.
- GET with ``watch=true``: a chunked stream of JSON lines ``{"type": ..., "object": ...}`` with ADDED,
  MODIFIED, DELETED, BOOKMARK (when ``allowWatchBookmarks=true``) and ERROR; ``resourceVersion``
  unset or "0" starts with synthetic ADDED events for the current state; a too-old resourceVersion gets
  HTTP 200 and an ERROR event carrying a 410 Expired Status; ``timeoutSeconds`` ends the stream cleanly.
- GET one object, POST (create), PATCH (server-side apply ``application/apply-patch+yaml`` with a
  required ``fieldManager``, ``force``; merge patches), DELETE; ``dryRun=All`` on every write.
- Status objects for errors (403 Forbidden with the real wording, 404, 409, 410, 422, 429 with
  Retry-After, 500), RBAC-like authorization (``rbac``), injected faults (``faults``), and a record of
  every request (``requests``).
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import tempfile
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from .apply import Ownership
from .faults import Faults
from .handler import Handler
from .podexec import PodRuntime
from .rbac import Rbac
from .records import RecordedRequest, typed
from .resources import CALICO_IDS, RESOURCES, Resource, resource_for
from .store import Store
import contextlib

__all__ = ["FakeApiServer", "RecordedRequest"]


class FakeApiServer:
    """A threaded HTTP server on 127.0.0.1 with a Store of Kubernetes objects.

    Use as a context manager or call start()/stop(). ``url`` is ``http://127.0.0.1:PORT``.
    """

    def __init__(self, *, user: str = "tester", token: str | None = None, bookmark_interval: float | None = None,
                 first_rv: int = 1000, tls: bool = False):
        self.store = Store(first_rv)
        self.rbac = Rbac()
        self.faults = Faults()
        self.runtime = PodRuntime()
        """The fake kubelet: ephemeral containers and exec (see ``podexec``)."""
        self.user = user
        self.token = token
        """If set, requests without ``Authorization: Bearer TOKEN`` get 401."""
        self.bookmark_interval = bookmark_interval
        """Send BOOKMARKs on idle watches this often (None: only at stream end and on send_bookmarks())."""
        self.unserved: set[str] = set(CALICO_IDS)
        """Resource ids (plurals; ``Resource.id``) the server does not serve (a CRD not installed): 404 after
        authorization, absent from discovery, as the real API server does. Calico's, until serve_calico()."""
        self.requests: list[RecordedRequest] = []
        self._req_lock = threading.Lock()
        self._ownership: dict[tuple[str, str, str], Ownership] = {}
        self._bookmark_gen = 0
        self._stopping = threading.Event()
        self._socks: set[socket.socket] = set()
        self._active_watches: dict[str, int] = {}
        self._drop_gen = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.tls = tls
        """Serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (``ca_pem`` verifies it)."""
        self.ca_pem: bytes | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeApiServer:
        handler = type("BoundHandler", (Handler,), {"api": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        if self.tls:
            self._httpd.socket = self._tls_context().wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fakeapi", daemon=True)
        self._thread.start()
        return self

    def _tls_context(self) -> ssl.SSLContext:
        """A server context with a self-signed certificate for IP 127.0.0.1 (made with the openssl CLI)."""
        with tempfile.TemporaryDirectory() as tmp:
            key, crt = Path(tmp, "key.pem"), Path(tmp, "crt.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-days", "1", "-subj", "/CN=fakeapi", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(crt, key)
            self.ca_pem = crt.read_bytes()
        return ctx

    def stop(self) -> None:
        """Stop serving and cut every open connection (watches included)."""
        self._stopping.set()
        with self.store.cond:
            self.store.cond.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        self.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    # -- test controls -----------------------------------------------------------------------------

    def add(self, *objs: dict[str, Any]) -> list[dict[str, Any]]:
        """Create or replace objects (each with apiVersion and kind); watchers see ADDED/MODIFIED."""
        out = []
        for obj in objs:
            _, stored = self.store.put(obj)
            out.append(stored)
        return out

    def load_yaml(self, *texts: str) -> list[dict[str, Any]]:
        """Add every object of multi-document YAML texts (``kind: List`` documents are expanded)."""
        objs: list[dict[str, Any]] = []
        for text in texts:
            for doc in yaml.safe_load_all(text):
                if not doc:
                    continue
                objs.extend(doc.get("items") or [] if doc.get("kind") == "List" else [doc])
        return self.add(*objs)

    def modify(self, api_version: str, kind: str, name: str, namespace: str | None = None,
               mutate: Any = None, **merge: Any) -> dict[str, Any]:
        """Change a stored object: ``mutate(obj)`` in place, or shallow-merge keyword fields."""
        res = _resource(api_version, kind)
        obj = self.store.get(res, namespace, name)
        if obj is None:
            raise KeyError((kind, namespace, name))
        if mutate is not None:
            mutate(obj)
        obj.update(merge)
        return self.store.put(obj)[1]

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """Delete a stored object; watchers see DELETED."""
        return self.store.delete(_resource(api_version, kind), namespace, name)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.store.get(_resource(api_version, kind), namespace, name)

    def objects(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every stored object (of one kind, if given), with kind and apiVersion set."""
        out = []
        for res in RESOURCES:
            if kind in (None, res.kind):
                out.extend(typed(o, res) for o in self.store.items(res, None))
        return out

    def serve_calico(self, *, api_server: bool = True) -> None:
        """Serve Calico's CRDs (crd.projectcalico.org/v1) and, with ``api_server``, its projectcalico.org/v3 API."""
        self.unserved -= {i for i in CALICO_IDS if api_server or i.endswith(".crd.projectcalico.org")}

    def compact(self) -> int:
        """Make every resourceVersion issued so far too old: watches from them get 410 Gone."""
        return self.store.compact()

    def expire_continue_tokens(self) -> None:
        """Make outstanding continue tokens expire (the next page request gets 410)."""
        self.store.expire_continue_tokens()

    def send_bookmarks(self) -> None:
        """Ask every open watch that allows bookmarks to send one now."""
        with self.store.cond:
            self._bookmark_gen += 1
            self.store.cond.notify_all()

    def drop_connections(self) -> None:
        """Abruptly close every open client connection (like a network failure)."""
        with self._req_lock:
            socks = list(self._socks)
            self._drop_gen += 1
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def requests_matching(self, *, verb: str | None = None, resource: str | None = None,
                          method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests filtered by Kubernetes verb, resource plural and HTTP method."""
        with self._req_lock:
            reqs = list(self.requests)
        return [r for r in reqs if verb in (None, r.verb) and resource in (None, r.resource)
                and method in (None, r.method)]

    def open_watches(self, resource: str | None = None) -> int:
        """How many watch streams are open now (optionally of one resource)."""
        with self._req_lock:
            return sum(n for r, n in self._active_watches.items() if resource in (None, r))

    def wait_for_watches(self, count: int, resource: str | None = None, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` watch streams are open; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.open_watches(resource) >= count:
                return True
            time.sleep(0.01)
        return False

    # -- internals used by the handler ----------------------------------------------------------------

    def _ownership_of(self, res: Resource, ns: str | None, name: str) -> Ownership:
        return self._ownership.setdefault((res.id, ns or "", name), Ownership())


def _resource(api_version: str, kind: str) -> Resource:
    res = resource_for(api_version, kind)
    if res is None:
        raise KeyError(f"{api_version} {kind}")
    return res


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that treats a client going away as normal, not as an error to print."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return  # the client closed the connection (or a fault cut it): nothing to report
        super().handle_error(request, client_address)
