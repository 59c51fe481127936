"""Helpers of the audit tests: a fake watching source and policy builders."""

from __future__ import annotations

import copy
from typing import Any
from collections.abc import Iterator

from kubectl_microseg.errors import Origin
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.sources import Event, Snapshot


class FakeWatchSource:
    """A WatchingSource that loads ``objects`` and then yields ``events`` (and ends)."""

    def __init__(self, objects: list[dict[str, Any]], events: list[tuple[str, dict[str, Any]]]):
        self.objects = objects
        self.events = events
        self.stopped = False

    def load(self) -> Snapshot:
        return Snapshot([SourceObject(copy.deepcopy(o), Origin(cluster="fake")) for o in self.objects], "context fake")

    def watch(self) -> Iterator[Event]:
        yield Event("STATE", state="watching", detail="watching 10 collection(s) of context fake")
        for type_, obj in self.events:
            if self.stopped:
                return
            yield Event(type_, SourceObject(copy.deepcopy(obj), Origin(cluster="fake")))

    def stop(self) -> None:
        self.stopped = True


def managed(manager: str, operation: str = "Apply", time: str = "2025-03-01T10:00:00Z") -> dict[str, Any]:
    return {"manager": manager, "operation": operation, "time": time}


def netpol(name: str, namespace: str, selector: dict[str, str], ingress: list | None = None,
           managers: list[dict[str, Any]] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"]}
    if ingress is not None:
        spec["ingress"] = ingress
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if managers is not None:
        meta["managedFields"] = managers
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": spec}


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {}}}


def pod(name: str, ns: str, ip: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip}}


BASE = [namespace("shop"), pod("web", "shop", "10.244.0.1", app="web"), pod("api", "shop", "10.244.0.2", app="api"),
        netpol("deny", "shop", {}, managers=[managed("kubectl")])]
API_FROM_WEB = [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 8080}]}]
