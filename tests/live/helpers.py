"""Helpers of the live-source tests: fast timings, object builders, event capture."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any
from collections.abc import Callable

from kubectl_microseg.plugins.kube import KubeSource, Tuning
from kubectl_microseg.sources import Event

FAST = Tuning(page_size=500, list_timeout=(2.0, 5.0), list_retries=3, watch_timeout=5, watch_read_margin=2.0,
              connect_timeout=2.0, backoff_base=0.02, backoff_cap=0.2, retry_after_cap=2.0, stale_after=0.3)
"""Short timings: every test runs in well under a few seconds."""


def ns(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(name: str, namespace: str = "default", ip: str = "10.0.0.1", **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "name": "http"}]}]},
            "status": {"phase": "Running", "podIP": ip}}


def netpol(name: str, namespace: str = "default", **match: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"podSelector": {"matchLabels": match}, "policyTypes": ["Ingress"]}}


class EventCollector:
    """Runs ``source.watch()`` in a thread and records its events for assertions."""

    def __init__(self, source: KubeSource):
        self.source = source
        self.events: list[Event] = []
        self._q: queue.Queue[Event] = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for ev in self.source.watch():
            self.events.append(ev)

    def wait_for(self, pred: Callable[[list[Event]], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(list(self.events)):
                return True
            time.sleep(0.01)
        return False

    def states(self) -> list[str]:
        return [e.state or "" for e in list(self.events) if e.type == "STATE"]

    def objects(self, type_: str | None = None) -> list[tuple[str, tuple[str, str, str]]]:
        return [(e.type, e.obj.key()) for e in list(self.events)
                if e.obj is not None and type_ in (None, e.type)]

    def stop(self) -> float:
        """Stop the source; returns how long it took for watch() to end."""
        t0 = time.monotonic()
        self.source.stop()
        self._thread.join(5)
        assert not self._thread.is_alive(), "watch() did not end after stop()"
        return time.monotonic() - t0
