"""LiveModel: after any sequence of events, the matrix equals a fresh analysis of the same objects."""

from __future__ import annotations

import copy
import random

import pytest

from kubectl_microseg.engine.incremental import LiveModel
from kubectl_microseg.engine.k8s import Analyzer, Options
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.plugins.demo import DemoSource


def fresh_matrix(objects):
    return Analyzer(build_cluster(objects)).matrix().to_contract()


def live_objects(model: LiveModel):
    return list(model.objects.values())


def mutations(r: random.Random, objs: list[SourceObject]) -> tuple[list[SourceObject], list]:
    """One random realistic event: relabel a pod template, add/delete a policy, relabel a namespace."""
    pick = r.choice(objs)
    raw = copy.deepcopy(pick.raw)
    kind = pick.kind
    if kind in ("Deployment", "StatefulSet", "DaemonSet") and r.random() < 0.3:
        return [], [pick.key()]  # a workload goes away
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "CronJob"):
        path = raw["spec"]["jobTemplate"]["spec"]["template"] if kind == "CronJob" else raw["spec"]["template"]
        labels = path.setdefault("metadata", {}).setdefault("labels", {})
        labels[r.choice(["tier", "app", "extra"])] = r.choice(["api", "frontend", "database", "x"])
    elif kind == "NetworkPolicy":
        if r.random() < 0.4:
            return [], [pick.key()]
        raw["metadata"]["name"] = raw["metadata"]["name"] + "-copy"
        raw["spec"]["podSelector"] = r.choice([{}, {"matchLabels": {"tier": "api"}}])
    elif kind == "Namespace":
        raw.setdefault("metadata", {}).setdefault("labels", {})["team"] = r.choice(["shop", "platform", "data"])
    elif kind == "Pod":
        raw["metadata"].setdefault("labels", {})["version"] = r.choice(["v1", "v2"])
    else:
        return [], []
    return [SourceObject(raw, pick.origin)], []


@pytest.mark.parametrize("seed", range(6))
def test_incremental_equals_rebuild_on_the_demo(seed):
    r = random.Random(seed)
    model = LiveModel(DemoSource().load().objects)
    patched = 0
    for _ in range(8):
        before = dict(model.matrix().cells)
        changed, deleted = mutations(r, live_objects(model))
        up = model.apply(changed, deleted)
        after = model.matrix()
        assert after.to_contract() == fresh_matrix(live_objects(model))
        if up.pairs is not None:  # the patched matrix names exactly the cells that changed (views redraw those)
            patched += 1
            assert up.pairs == {k for k in before.keys() | after.cells.keys() if before.get(k) != after.cells.get(k)}
    assert patched


def test_new_workload_in_new_namespace_and_admin_change():
    model = LiveModel(DemoSource().load().objects)
    ns = SourceObject({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "newteam", "labels": {"team": "x"}}})
    dep = SourceObject({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "svc", "namespace": "newteam"},
                        "spec": {"template": {"metadata": {"labels": {"app": "svc", "tier": "api"}},
                                              "spec": {"containers": [{"name": "c"}]}}}})
    up = model.apply([ns, dep])
    assert up.namespaces == {"newteam"} and not up.rebuilt
    assert model.matrix().to_contract() == fresh_matrix(live_objects(model))
    anp = next(o for o in live_objects(model) if o.kind == "ClusterNetworkPolicy")
    up = model.apply([], [anp.key()])
    assert up.rebuilt
    assert model.matrix().to_contract() == fresh_matrix(live_objects(model))


POD_ONLY = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Pod")


@pytest.mark.parametrize("calico", [False, True])
def test_pod_only_events_equal_rebuild(tmp_path, calico):
    """Events that change only pods and workloads take the short path (the namespace's kept classes keep
    their verdicts; only new classes are decided): still equal to a fresh analysis, with Calico tiers too."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from generate import generate
    from kubectl_microseg.plugins.manifests import ManifestSource

    generate("S", str(tmp_path), with_pods=True, calico=calico)
    model = LiveModel(ManifestSource([str(tmp_path)]).load().objects)
    model.matrix()
    r = random.Random(7)
    for _ in range(6):
        pods = [o for o in live_objects(model) if o.kind in POD_ONLY]
        changed, deleted = mutations(r, pods)
        model.apply(changed, deleted)
        assert model.matrix().to_contract() == fresh_matrix(live_objects(model))


def test_a_label_no_rule_reads_keeps_every_cell(tmp_path):
    """A pod template relabelled with a label no rule reads (the CoreDNS event of benchmarks/tui.py): its new
    class takes the dead class's verdicts (same selecting rules) and no cell changes; a label a rule does read
    is decided afresh. Both equal a fresh analysis."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from generate import generate
    from kubectl_microseg.plugins.manifests import ManifestSource

    generate("S", str(tmp_path), with_pods=False)
    model = LiveModel(ManifestSource([str(tmp_path)]).load().objects)
    model.matrix()
    assert model._twinnable()
    for obj in [o for o in live_objects(model) if o.kind == "Deployment"][:3] + \
            [o for o in live_objects(model) if o.kind == "Deployment" and o.namespace == "kube-system"]:
        raw = copy.deepcopy(obj.raw)
        raw["spec"]["template"]["metadata"]["labels"]["unread"] = "x"
        before = model.matrix()
        up = model.apply([SourceObject(raw, obj.origin)])
        after = model.matrix()
        assert up.pairs == set()  # the short path: nothing to redraw
        assert after.cells == before.cells and after.endpoints != before.endpoints  # the labels are new
        assert after.to_contract() == fresh_matrix(live_objects(model))
        # a label the rules read: the class is selected differently, its cells are decided again
        raw = copy.deepcopy(raw)
        raw["spec"]["template"]["metadata"]["labels"]["tier"] = "database"
        up = model.apply([SourceObject(raw, obj.origin)])
        assert model.matrix().to_contract() == fresh_matrix(live_objects(model))
        assert up.pairs == {k for k in before.cells.keys() | model.matrix().cells.keys()
                            if before.cells.get(k) != model.matrix().cells.get(k)}


def test_a_new_pod_in_another_namespace_is_selected_by_an_ipblock_rule():
    """With ``ipblock_matches_pods`` (some CNIs let ipBlock peers match pod IPs; docs: NetworkPolicyPeer.ipBlock
    is meant for cluster-external IPs) an ipBlock peer selects pods by IP in any namespace: a Pod that appears in namespace 'b' with an IP a rule of namespace 'a' names is selected by that
    rule, though the rule's policy lives elsewhere (``CompiledRule.local`` is False for it)."""
    def obj(raw: dict) -> SourceObject:
        return SourceObject(raw)

    def pod(ns: str, name: str, ip: str) -> SourceObject:
        return obj({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
                    "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
                    "status": {"podIP": ip}})

    objs = [obj({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}) for n in ("a", "b")]
    objs += [pod("a", "web", "10.0.0.5"), pod("b", "old", "10.1.0.9"),
             obj({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "from-b", "namespace": "a"},
                  "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.1.0.0/16"}}]}]}})]
    options = Options(ipblock_matches_pods=True)
    model = LiveModel(objs, options)
    model.matrix()
    model.apply([pod("b", "new", "10.1.0.7")])
    assert model.matrix().to_contract() == Analyzer(build_cluster(live_objects(model)), options).matrix().to_contract()
    assert ("b/new", "a/web") in model.matrix().cells  # the ipBlock admits the new pod
