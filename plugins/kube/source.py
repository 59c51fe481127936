"""Provides KubeSource: the live cluster as a Source (load) and a WatchingSource (watch, stop).

``load()`` connects as kubectl would (see ``config``), lists every kind with pagination and the
least-privilege fallbacks (see ``gather``), and returns a Snapshot of raw objects with
``Origin(cluster=CONTEXT)``. ``watch()`` then follows every listed collection from its list's
resourceVersion (see ``watching``) and yields Events until ``stop()``.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import replace
from typing import Any
from collections.abc import Iterator

from kubectl_microseg.errors import Origin, UsageError
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.sources import Event, Snapshot

from .config import Connection, connect, parse_request_timeout
from .gather import Gatherer, Stream
from .kinds import Calls
from .listing import Tuning
from .watching import Watcher


class KubeSource:
    """The live cluster of a kubeconfig context.

    Args:
        kubeconfig: ``--kubeconfig`` (one file); None uses KUBECONFIG / ~/.kube/config / in-cluster.
        context: ``--context``; None uses the kubeconfig's current-context (first file that sets it).
        namespace: ``-n``: the namespace the views focus on. Everything readable is still listed (the
            namespace's connectivity depends on its peers' pods and policies); when cluster-wide lists
            are forbidden, this namespace is the one listed.
        all_namespaces: ``-A`` (the default when ``namespace`` is None; accepted for symmetry).
        request_timeout: ``--request-timeout`` in kubectl syntax ("0": none; "5", "10s", "1m").
        tuning: timings (page size, back-off, watch timeouts); tests make them short.
    """

    name = "kube"

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None,
                 all_namespaces: bool = False, request_timeout: str | None = None, tuning: Tuning | None = None):
        if namespace and all_namespaces:
            raise UsageError("-n/--namespace and -A/--all-namespaces cannot be used together")
        self.kubeconfig, self.context, self.namespace = kubeconfig, context, namespace or None
        self.tuning = tuning or Tuning()
        timeout = parse_request_timeout(request_timeout)
        if timeout:
            self.tuning = replace(self.tuning, retry_timeouts=False)
        self._list_timeout: Any = self.tuning.list_timeout if timeout is None else (timeout or None)
        self._conn: Connection | None = None
        self._streams: list[Stream] = []
        self._watcher: Watcher | None = None
        self._stop = threading.Event()

    @classmethod
    def from_args(cls, args: Any, tuning: Tuning | None = None) -> KubeSource:
        """Build from the CLI's parsed source options (missing attributes mean 'not given')."""
        return cls(kubeconfig=getattr(args, "kubeconfig", None), context=getattr(args, "context", None),
                   namespace=getattr(args, "namespace", None),
                   all_namespaces=bool(getattr(args, "all_namespaces", False)),
                   request_timeout=getattr(args, "request_timeout", None), tuning=tuning)

    @property
    def connection(self) -> Connection:
        """The API connection (made on first use)."""
        if self._conn is None:
            self._conn = connect(self.kubeconfig, self.context)
        return self._conn

    @property
    def origin(self) -> Origin:
        return Origin(cluster=self.connection.context)

    def load(self) -> Snapshot:
        """List everything once (see the module docstring).

        Raises:
            UnreachableError: the API server cannot be reached or read (exit 3).
            UsageError: bad kubeconfig, context or options (exit 2).
        """
        conn = self.connection
        gathered = Gatherer(Calls(conn.api_client), conn.server, namespace=self.namespace,
                            default_namespace=conn.namespace, tuning=self.tuning, timeout=self._list_timeout,
                            stop=self._stop).run()
        self._streams = gathered.streams
        origin = self.origin
        desc = f"context {conn.context}" + (f", namespace {self.namespace}" if self.namespace else "")
        return Snapshot(objects=[SourceObject(o, origin) for o in gathered.objects], description=desc,
                        notes=gathered.notes, uncertain_namespaces=frozenset(gathered.uncertain_namespaces),
                        all_namespaces_uncertain=gathered.all_namespaces_uncertain, warnings=gathered.warnings,
                        uncertain_reasons=gathered.uncertain_reasons,
                        namespaces_complete=gathered.namespaces_complete)

    def watch(self) -> Iterator[Event]:
        """Yield change and STATE events until :meth:`stop` (calls :meth:`load` first if needed)."""
        if not self._streams and self._watcher is None:
            self.load()
        conn = self.connection
        self._watcher = Watcher(Calls(conn.api_client), self._streams, tuning=self.tuning, origin=self.origin,
                                context=conn.context, list_timeout=self._list_timeout)
        self._watcher.start()
        try:
            while not self._stop.is_set():
                try:
                    yield self._watcher.events.get(timeout=0.05)
                except queue.Empty:
                    continue
        finally:
            self._watcher.stop()

    def stop(self) -> None:
        """End :meth:`watch` promptly (safe from any thread)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.stop(timeout=0)

    def close(self) -> None:
        """Stop watching and release the connection pool."""
        self.stop()
        if self._conn is not None:
            self._conn.api_client.close()
