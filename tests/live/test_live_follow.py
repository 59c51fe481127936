"""LiveState (pure bookkeeping of watched objects), follow() batching, and ``matrix --watch`` end to end."""

from __future__ import annotations

import json
import signal
import threading
import time
from typing import Any
from collections.abc import Iterator

import pytest

from kubectl_microseg.cli import build_parser
from kubectl_microseg.commands import matrix
from kubectl_microseg.errors import Origin, UsageError
from kubectl_microseg.live import ChangeSet, LiveState, follow, follow_command
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.sources import Event, Snapshot
from tests.fakeapi import FakeApiServer
from tests.live.helpers import ns, pod
from tests.live.test_live_equivalence import DEMO


def so(raw: dict[str, Any]) -> SourceObject:
    return SourceObject(raw, Origin(cluster="t"))


def test_live_state_applies_events_and_ignores_noise() -> None:
    live = LiveState(Snapshot([so(pod("a", app="x")), so(ns("default"))], "t"))
    assert live.apply(Event("ADDED", so(pod("b")))).added == {("Pod", "default", "b")}
    noisy = pod("a", app="x")
    noisy["metadata"]["resourceVersion"] = "99"
    noisy["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert not live.apply(Event("MODIFIED", so(noisy))).relevant
    moved = pod("a", ip="10.9.9.9", app="x")
    assert live.apply(Event("MODIFIED", so(moved))).modified == {("Pod", "default", "a")}
    relabeled = pod("a", ip="10.9.9.9", app="y")
    assert live.apply(Event("MODIFIED", so(relabeled))).kinds == {"Pod"}
    assert live.apply(Event("DELETED", so(pod("b")))).deleted == {("Pod", "default", "b")}
    assert not live.apply(Event("DELETED", so(pod("never")))).relevant
    assert sorted(live.objects) == [("Namespace", "", "default"), ("Pod", "default", "a")]
    assert live.objects[("Pod", "default", "a")].raw["metadata"]["labels"] == {"app": "y"}


def test_scaling_a_deployment_is_not_relevant_but_its_template_is() -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"},
           "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": "d"}}}}, "status": {"replicas": 1}}
    live = LiveState(Snapshot([so(dep)], "t"))
    scaled = json.loads(json.dumps(dep))
    scaled["spec"]["replicas"], scaled["status"]["replicas"] = 5, 5
    assert not live.apply(Event("MODIFIED", so(scaled))).relevant
    scaled["spec"]["template"]["metadata"]["labels"]["app"] = "e"
    assert live.apply(Event("MODIFIED", so(scaled))).relevant


def test_state_events_and_stale_snapshot_notes() -> None:
    live = LiveState(Snapshot([], "t", notes=["base note"]))
    assert live.apply(Event("STATE", state="watching", detail="ok")).state_changed
    assert not live.apply(Event("STATE", state="watching", detail="ok")).state_changed
    assert live.snapshot().notes == ["base note"] and not live.stale
    live.apply(Event("STATE", state="stale", detail="Pods: HTTP 503"))
    assert live.stale and live.snapshot().notes[-1].startswith("live data may be out of date (stale: Pods: HTTP 503)")


def test_change_merge_cancels_add_then_delete() -> None:
    c = ChangeSet(added={("Pod", "", "a")})
    c.merge(ChangeSet(deleted={("Pod", "", "a"), ("Pod", "", "b")}, modified={("Pod", "", "c")}))
    assert (c.added, c.modified, c.deleted) == (set(), {("Pod", "", "c")}, {("Pod", "", "b")})
    assert c.describe() == "1 modified, 1 deleted"


class ScriptedSource:
    """A WatchingSource whose events the test pushes."""

    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        self.events: list[Event] = []
        self.cond = threading.Condition()
        self.stopped = threading.Event()

    def load(self) -> Snapshot:
        return self.snapshot

    def push(self, *events: Event) -> None:
        with self.cond:
            self.events.extend(events)
            self.cond.notify_all()

    def watch(self) -> Iterator[Event]:
        i = 0
        while not self.stopped.is_set():
            with self.cond:
                self.cond.wait_for(lambda i=i: len(self.events) > i or self.stopped.is_set(), timeout=0.05)
                batch, i = self.events[i:], len(self.events)
            yield from batch

    def stop(self) -> None:
        self.stopped.set()


def test_follow_batches_bursts_and_reports_states() -> None:
    src = ScriptedSource(Snapshot([so(pod("a"))], "t"))
    renders: list[tuple[int, ChangeSet]] = []
    states: list[tuple[str, str]] = []
    stop = threading.Event()
    t = threading.Thread(target=follow, args=(src, lambda s, c: renders.append((len(s.objects), c))),
                         kwargs={"on_state": lambda s, d: states.append((s, d)), "stop": stop, "debounce": 0.1})
    t.start()
    time.sleep(0.1)
    src.push(Event("STATE", state="watching", detail="w"),
             *(Event("ADDED", so(pod(f"p{i}"))) for i in range(5)))
    deadline = time.monotonic() + 2
    while len(renders) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    t.join(2)
    assert not t.is_alive() and src.stopped.is_set()
    assert [n for n, _ in renders] == [1, 6]  # the initial view, then one view for the burst of five
    assert len(renders[1][1].added) == 5 and states == [("watching", "w")]


class Captured:
    """A thread-safe stdout stand-in that records what was written."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def documents(self) -> list[Any]:
        with self.lock:
            text = "".join(self.parts)
        docs, pos, dec = [], 0, json.JSONDecoder()
        while pos < len(text):
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            doc, pos = dec.raw_decode(text, pos)
            docs.append(doc)
        return docs


def test_matrix_watch_reprints_within_a_second(fake_api: FakeApiServer, fake_kubeconfig, monkeypatch) -> None:
    fake_api.load_yaml(*(p.read_text() for p in sorted(DEMO.glob("*.yaml"))))
    out, err = Captured(), Captured()
    monkeypatch.setattr("sys.stdout", out)
    args = build_parser().parse_args(["matrix", "-o", "json", "--watch"])
    stop = threading.Event()
    old = signal.getsignal(signal.SIGPIPE)
    t = threading.Thread(target=follow_command, args=(args, matrix.show), kwargs={"stop": stop, "err": err})
    t.start()
    try:
        deadline = time.monotonic() + 10
        while not out.documents() and time.monotonic() < deadline:
            time.sleep(0.02)
        first = out.documents()[0]
        while "watching" not in "".join(err.parts) and time.monotonic() < deadline:
            time.sleep(0.02)
        for p in fake_api.objects("NetworkPolicy"):
            if p["metadata"]["namespace"] == "production":
                fake_api.delete("networking.k8s.io/v1", "NetworkPolicy", p["metadata"]["name"], "production")
        changed_at = time.monotonic()
        while len(out.documents()) < 2 and time.monotonic() - changed_at < 1.0:
            time.sleep(0.01)
        assert len(out.documents()) == 2, "no re-print within a second of the change"
    finally:
        stop.set()
        t.join(5)
        signal.signal(signal.SIGPIPE, old)
    second = out.documents()[1]
    assert second != first and len(second["connections"]) > len(first["connections"])
    # the re-printed matrix is the matrix of the objects now on the server
    from kubectl_microseg.engine.k8s import Analyzer
    from kubectl_microseg.model.cluster import build_cluster
    from kubectl_microseg.engine.layers import layer_inventory
    from kubectl_microseg.engine.mesh import MeshAnalyzer, annotate
    now = build_cluster([so(o) for o in fake_api.objects()])
    expected = annotate(Analyzer(now).matrix(), MeshAnalyzer(now))  # the demo's mesh layer on top (engine/mesh.py)
    expected.layers = layer_inventory(now)  # the view says which layers it evaluated
    assert second == json.loads(json.dumps(expected.to_contract()))
    assert "watch: watching" in "".join(err.parts) and "deleted" in "".join(err.parts)
    assert not t.is_alive()


def test_watch_needs_a_live_cluster() -> None:
    args = build_parser().parse_args(["--demo", "matrix", "--watch"])
    with pytest.raises(UsageError, match="--watch follows a live cluster"):
        follow_command(args, matrix.show)
