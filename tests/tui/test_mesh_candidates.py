"""The live session's mesh pre-check (engine.mesh.MeshCandidates) is kept per event, not rescanned: after
every event the session's matrix, mesh verdicts included, equals a fresh session's on the same objects.

What may put a pod in the mesh (Istio: namespace label ``istio-injection``/``istio.io/rev``/
``istio.io/dataplane-mode``; a pod's own ``sidecar.istio.io/inject`` label or annotation) arrives here by
events to a cluster that had none, and leaves again; a pre-check that missed one would drop the verdicts."""

from __future__ import annotations

import argparse
import copy
import threading

from kubectl_microseg.engine.incremental import LiveModel
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.sources import Snapshot
from kubectl_microseg.tui.session import build_session, live_session


def _deployment(ns: str, name: str, app: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"template": {"metadata": {"labels": {"app": app}},
                                  "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]}}}}


def _objects() -> list[SourceObject]:
    raw = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": ns}}}
           for ns in ("shop", "bank")]
    raw += [_deployment("shop", "web", "web"), _deployment("shop", "api", "api"), _deployment("bank", "ledger", "ledger")]
    return [SourceObject(r) for r in raw]


def _cells(m) -> dict:
    return {k: (c.conns, c.uncertain, c.mesh) for k, c in m.cells.items()}


def _changed(obj: SourceObject, edit) -> SourceObject:
    raw = copy.deepcopy(obj.raw)
    edit(raw)
    return SourceObject(raw)


def test_mesh_verdicts_follow_events_that_put_pods_in_the_mesh_and_take_them_out():
    objs = {o.key(): o for o in _objects()}
    args = argparse.Namespace()
    model = LiveModel(objs.values())
    lock = threading.Lock()
    session, _, _ = live_session(model, Snapshot(list(objs.values()), "t"), args, lock)
    assert all(c.mesh is None for c in session.matrix.cells.values())  # nothing in a mesh yet
    bank = next(o for o in objs.values() if o.kind == "Namespace" and o.name == "bank")
    api = next(o for o in objs.values() if o.kind == "Deployment" and o.name == "api")

    def injected(raw):
        raw["metadata"]["labels"]["istio-injection"] = "enabled"

    def opted_in(raw):
        raw["spec"]["template"]["metadata"]["annotations"] = {"sidecar.istio.io/inject": "true"}

    steps = [_changed(bank, injected), bank, _changed(api, opted_in), api]
    meshed = []
    for obj in steps:
        objs[obj.key()] = obj
        session, _, _ = live_session(model, Snapshot(list(objs.values()), "t"), args, lock, [obj])
        fresh = build_session(Snapshot(list(objs.values()), "t"), args)
        assert _cells(session.matrix) == _cells(fresh.matrix), obj.name
        meshed.append(any(c.mesh is not None for c in session.matrix.cells.values()))
    assert meshed == [True, False, True, False]  # each event did change whether the mesh speaks
