"""The audit trail on the live path's incremental model: each record's diff (pairs, causes, guards, notes) is
exactly the one two full analyses give (``engine.simulate.compare``), over random event sequences (issue 16)."""

from __future__ import annotations

import copy
import random

import pytest

from kubectl_microseg.audit import POLICY_KINDS, AuditTrail
from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.engine.simulate import compare
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.sources import Event


def policy_event(r: random.Random, objs: dict) -> Event:
    """Delete, edit or copy a NetworkPolicy, or relabel a workload (the baseline moves silently)."""
    pols = [o for o in objs.values() if o.kind == "NetworkPolicy"]
    wls = [o for o in objs.values() if o.kind == "Deployment"]
    pick = r.choice(pols)
    roll = r.random()
    if roll < 0.25:
        return Event("DELETED", pick)
    raw = copy.deepcopy(pick.raw)
    if roll < 0.5:
        raw["spec"]["podSelector"] = r.choice([{}, {"matchLabels": {"tier": "api"}}])
        raw["spec"]["policyTypes"] = ["Ingress"]
        raw["spec"]["ingress"] = r.choice([[], [{}], [{"from": [{"namespaceSelector": {}}],
                                                    "ports": [{"port": 5432}]}]])
        return Event("MODIFIED", SourceObject(raw, pick.origin))
    if roll < 0.8:
        raw["metadata"]["name"] += f"-{r.randrange(1000)}"
        return Event("ADDED", SourceObject(raw, pick.origin))
    w = copy.deepcopy(r.choice(wls).raw)
    w["spec"]["template"]["metadata"].setdefault("labels", {})["tier"] = r.choice(["api", "frontend", "x"])
    return Event("MODIFIED", SourceObject(w))


@pytest.mark.parametrize("seed", range(4))
def test_records_on_the_shared_model_equal_two_full_analyses(seed):
    r = random.Random(seed)
    snap = DemoSource().load()
    trail = AuditTrail(snap)
    objs = {o.key(): o for o in snap.objects}
    checked = 0
    for _ in range(10):
        event = policy_event(r, objs)
        before = Analyzer(build_cluster(objs.values()))
        if event.type == "DELETED":
            objs.pop(event.obj.key(), None)
        else:
            objs[event.obj.key()] = event.obj
        rec = trail.handle(event, now="t")
        if event.obj.kind not in POLICY_KINDS:
            assert rec is None
            continue
        expected = compare(before, Analyzer(build_cluster(objs.values())))
        if rec.diff is None:  # a change that cannot alter connectivity is recorded without a diff
            assert rec.metadata_only and not expected.has_differences
            continue
        got, want = rec.diff.to_dict(), expected.to_dict()
        assert set(got.pop("notes", [])) == set(want.pop("notes", []))  # the same notes (order: by namespace)
        assert got == want
        checked += 1
        # the shared model is left in the state after the change
        got, want = trail.model.matrix().to_contract(), Analyzer(build_cluster(objs.values())).matrix().to_contract()
        assert set(got.pop("notes", [])) == set(want.pop("notes", []))
        assert got == want
    assert checked
