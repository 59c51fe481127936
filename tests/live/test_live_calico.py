"""The live source reads and watches Calico's kinds where they are served (docs/calico.md, "Live").

Calico reference (docs.tigera.io/calico/latest/reference/resources/networkpolicy): a projectcalico.org/v3
NetworkPolicy is a different object from the networking.k8s.io/v1 NetworkPolicy of the same namespace and
name, so object keys carry the API group. The v3 API is served by the Calico API server; without it the
crd.projectcalico.org/v1 CRDs hold the same objects (policy names prefixed with their tier).
"""

from __future__ import annotations

from typing import Any

from kubectl_microseg.engine.incremental import LiveModel
from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.live import LiveState
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.kube import KubeSource
from tests.fakeapi import FakeApiServer
from tests.live.helpers import netpol, ns, pod

V3 = "projectcalico.org/v3"


def calico_np(name: str, namespace: str, selector: str, action: str = "Deny", api: str = V3) -> dict[str, Any]:
    """A Calico NetworkPolicy denying (or allowing) all ingress of the pods ``selector`` selects."""
    return {"apiVersion": api, "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": selector, "order": 10, "ingress": [{"action": action}]}}


def _cluster(fake_api: FakeApiServer) -> None:
    fake_api.add(ns("prod"), pod("web", "prod", "10.0.0.1", app="web"), pod("cli", "prod", "10.0.0.2", app="cli"),
                 pod("db", "prod", "10.0.0.3", app="db"))


def test_calico_and_kubernetes_policies_of_one_name_are_two_objects(fake_api: FakeApiServer, source: KubeSource) -> None:
    fake_api.serve_calico()
    _cluster(fake_api)
    # same kind, namespace and name in two API groups: a Kubernetes policy isolating web (no rule: deny all)
    # and a Calico one denying db's ingress
    fake_api.add(netpol("guard", "prod", app="web"), calico_np("guard", "prod", "app == 'db'"))
    snap = source.load()
    keys = sorted(o.key() for o in snap.objects if o.kind == "NetworkPolicy")
    assert keys == [("NetworkPolicy", "prod", "guard"), ("NetworkPolicy.projectcalico.org", "prod", "guard")]
    live = LiveState(snap)
    assert len([k for k in live.objects if k[2] == "guard"]) == 2
    m = Analyzer(build_cluster(snap.objects)).matrix()
    assert not m.get("prod/cli", "prod/web")  # the Kubernetes policy
    assert not m.get("prod/cli", "prod/db")  # the Calico policy
    assert m.get("prod/db", "prod/cli")


def test_without_calico_nothing_is_read_or_noted(fake_api: FakeApiServer, source: KubeSource) -> None:
    _cluster(fake_api)  # the fake server serves no Calico group: a cluster without Calico
    snap = source.load()
    assert not any("alico" in n or "Tier" in n for n in snap.notes) and not snap.warnings
    assert not any(o.group.endswith("projectcalico.org") for o in snap.objects)


def test_the_crd_form_is_read_when_the_calico_api_server_is_absent(fake_api: FakeApiServer, source: KubeSource) -> None:
    fake_api.serve_calico(api_server=False)
    _cluster(fake_api)
    fake_api.add(calico_np("default.db-deny", "prod", "app == 'db'", api="crd.projectcalico.org/v1"))
    snap = source.load()
    assert [o.key() for o in snap.objects if o.kind == "NetworkPolicy"] == [
        ("NetworkPolicy.crd.projectcalico.org", "prod", "default.db-deny")]
    assert not Analyzer(build_cluster(snap.objects)).matrix().get("prod/web", "prod/db")
    assert not [r for r in fake_api.requests_matching(verb="list") if r.resource.endswith(".projectcalico.org")
                and r.status != 200]


def test_with_the_api_server_the_storage_form_is_not_read_twice(fake_api: FakeApiServer, source: KubeSource) -> None:
    fake_api.serve_calico()
    source.load()
    listed = {r.resource for r in fake_api.requests_matching(verb="list")}
    assert "networkpolicies.projectcalico.org" in listed
    assert not any(r.endswith(".crd.projectcalico.org") for r in listed)


def test_a_watched_calico_change_flips_the_right_cell(fake_api: FakeApiServer, source: KubeSource, watching) -> None:
    """A Calico policy added, changed and deleted while watching: the live model (engine/incremental.py)
    rebuilds its Calico layer and only db's ingress from cli changes."""
    fake_api.serve_calico()
    _cluster(fake_api)
    fake_api.add(netpol("guard", "prod", app="web"))
    snap = source.load()
    live = LiveState(snap)
    model = LiveModel(snap.objects)
    before = model.matrix(external=False)
    assert before.get("prod/cli", "prod/db")
    events = watching()

    def step(pred) -> None:
        assert events.wait_for(pred), "the event never arrived"
        changed, deleted = [], []
        for e in list(events.events):
            events.events.remove(e)
            c = live.apply(e)
            changed += [live.objects[k] for k in c.added | c.modified]
            deleted += list(c.deleted)
        model.apply(changed, deleted)

    fake_api.add(calico_np("guard", "prod", "app == 'db'"))  # same name as the Kubernetes policy
    step(lambda evs: any(e.obj is not None and e.obj.group == "projectcalico.org" for e in evs))
    after = model.matrix(external=False)
    assert not after.get("prod/cli", "prod/db") and not after.get("prod/web", "prod/db")
    assert after.get("prod/db", "prod/cli") == before.get("prod/db", "prod/cli")
    assert ("NetworkPolicy", "prod", "guard") in live.objects  # the Kubernetes policy is still there
    assert not after.get("prod/cli", "prod/web")

    fake_api.modify(V3, "NetworkPolicy", "guard", "prod",
                    mutate=lambda o: o["spec"].update(selector="app == 'db'", ingress=[
                        {"action": "Allow", "source": {"selector": "app == 'cli'"}}]))
    step(lambda evs: any(e.type == "MODIFIED" for e in evs))
    now = model.matrix(external=False)
    assert now.get("prod/cli", "prod/db") and not now.get("prod/web", "prod/db")

    fake_api.delete(V3, "NetworkPolicy", "guard", "prod")
    step(lambda evs: any(e.type == "DELETED" for e in evs))
    final = model.matrix(external=False)
    assert final.get("prod/web", "prod/db") and not final.get("prod/cli", "prod/web")
    fresh = Analyzer(build_cluster(live.objects.values())).matrix(external=False)
    assert final.cells == fresh.cells


def test_service_account_labels_are_read_and_watched(fake_api: FakeApiServer, source: KubeSource, watching) -> None:
    """A Calico rule matching service accounts by label (networkpolicy reference, ServiceAccountMatch): the
    live source lists the ServiceAccounts, and relabelling one flips the cells of its pods."""
    fake_api.serve_calico()
    _cluster(fake_api)
    fake_api.modify("v1", "Pod", "cli", "prod", mutate=lambda o: o["spec"].update(serviceAccountName="payer"))
    fake_api.add({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "payer", "namespace": "prod",
                                                                              "labels": {"team": "money"}}},
                 {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "prod"}},
                 {"apiVersion": V3, "kind": "NetworkPolicy", "metadata": {"name": "db", "namespace": "prod"},
                  "spec": {"selector": "app == 'db'", "ingress": [
                      {"action": "Allow", "source": {"serviceAccounts": {"selector": "team == 'money'"}}}]}})
    snap = source.load()
    live, model = LiveState(snap), LiveModel(snap.objects)
    m = model.matrix(external=False)
    assert m.get("prod/cli", "prod/db") and not m.get("prod/web", "prod/db")
    assert not m.cells[("prod/cli", "prod/db")].uncertain  # both ServiceAccounts were read
    events = watching()
    fake_api.modify("v1", "ServiceAccount", "payer", "prod", mutate=lambda o: o["metadata"].update(labels={}))
    assert events.wait_for(lambda evs: any(e.obj is not None and e.obj.kind == "ServiceAccount" for e in evs))
    changed = [live.objects[k] for e in list(events.events) for k in (live.apply(e).modified)]
    up = model.apply(changed, [])
    assert up.rebuilt and not model.matrix(external=False).get("prod/cli", "prod/db")
