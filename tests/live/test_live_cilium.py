"""The live source reads Cilium's policies (cilium.io/v2) where the CRDs are served (docs/cilium.md)."""

from __future__ import annotations

from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.kube import KubeSource
from tests.fakeapi import FakeApiServer
from tests.live.helpers import ns, pod


def test_cilium_policies_are_listed_and_evaluated(fake_api: FakeApiServer, source: KubeSource) -> None:
    cnp = {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": {"name": "web-in", "namespace": "prod"},
           "spec": {"endpointSelector": {"matchLabels": {"app": "web"}},
                    "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "cli"}}]}]}}
    ccnp = {"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy", "metadata": {"name": "deny-db"},
            "spec": {"endpointSelector": {"matchLabels": {"app": "cli"}},
                     "egressDeny": [{"toEndpoints": [{"matchLabels": {"app": "db"}}]}],
                     "enableDefaultDeny": {"egress": False}}}
    fake_api.add(ns("prod"), pod("web", "prod", "10.0.0.1", app="web"), pod("cli", "prod", "10.0.0.2", app="cli"),
                 pod("db", "prod", "10.0.0.3", app="db"), pod("other", "prod", "10.0.0.4", app="other"), cnp, ccnp)
    snap = source.load()
    kinds = {o.kind for o in snap.objects}
    assert {"CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"} <= kinds
    m = Analyzer(build_cluster(snap.objects)).matrix()
    assert m.get("prod/cli", "prod/web")
    assert not m.get("prod/other", "prod/web")
    assert not m.get("prod/cli", "prod/db")
    assert m.get("prod/other", "prod/db")


def test_without_the_crds_nothing_is_noted(fake_api: FakeApiServer, source: KubeSource) -> None:
    for plural in ("ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies", "ciliumcidrgroups"):
        fake_api.faults.fail(404, resource=plural, times=None)  # Cilium not installed: quietly none
    fake_api.add(ns("prod"), pod("web", "prod", app="web"))
    snap = source.load()
    assert not any("Cilium" in n for n in snap.notes) and not snap.warnings
