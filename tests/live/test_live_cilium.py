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


def test_watch_updates_cilium_policies_without_rebuilding(fake_api: FakeApiServer, fake_kubeconfig, monkeypatch) -> None:
    # CNP/CCNP events reach the incremental model (engine.incremental: the Cilium layer is compiled again and
    # only the pairs of the classes the policy selects are recomputed); the re-printed matrix is the matrix of
    # the objects now on the server
    import json
    import signal
    import threading
    import time

    from kubectl_microseg.cli import build_parser
    from kubectl_microseg.commands import matrix
    from kubectl_microseg.engine import incremental
    from kubectl_microseg.engine.layers import layer_inventory
    from kubectl_microseg.engine.mesh import MeshAnalyzer, annotate
    from kubectl_microseg.live import follow_command
    from kubectl_microseg.model.objects import SourceObject
    from kubectl_microseg.errors import Origin
    from tests.live.test_live_equivalence import DEMO
    from tests.live.test_live_follow import Captured

    cilium = DEMO.parent / "cilium" / "policies.yaml"
    fake_api.load_yaml(*(p.read_text() for p in sorted(DEMO.glob("*.yaml"))), cilium.read_text())
    rebuilds = []
    real = incremental.LiveModel._rebuild
    monkeypatch.setattr(incremental.LiveModel, "_rebuild", lambda self: (rebuilds.append(1), real(self))[1])
    out, err = Captured(), Captured()
    monkeypatch.setattr("sys.stdout", out)
    args = build_parser().parse_args(["matrix", "-o", "json", "--watch"])
    stop = threading.Event()
    old = signal.getsignal(signal.SIGPIPE)
    t = threading.Thread(target=follow_command, args=(args, matrix.show), kwargs={"stop": stop, "err": err})
    t.start()
    try:
        deadline = time.monotonic() + 20
        while not out.documents() and time.monotonic() < deadline:
            time.sleep(0.02)
        first = out.documents()[0]
        while "watching" not in "".join(err.parts) and time.monotonic() < deadline:
            time.sleep(0.02)
        fake_api.delete("cilium.io/v2", "CiliumNetworkPolicy", "no-scrape-of-data-tier", "production")
        while len(out.documents()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(out.documents()) == 2
        fake_api.add({"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
                      "metadata": {"name": "no-world-for-batch"},
                      "spec": {"endpointSelector": {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "batch"}},
                               "egressDeny": [{"toEntities": ["world"]}], "enableDefaultDeny": {"egress": False}}})
        while len(out.documents()) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(out.documents()) == 3
    finally:
        stop.set()
        t.join(5)
        signal.signal(signal.SIGPIPE, old)
    docs = out.documents()
    assert docs[1] != first and docs[2] != docs[1]
    now = build_cluster([SourceObject(o, Origin(cluster="t")) for o in fake_api.objects()])
    expected = annotate(Analyzer(now).matrix(), MeshAnalyzer(now))
    expected.layers = layer_inventory(now)
    assert docs[2] == json.loads(json.dumps(expected.to_contract()))
    assert len(rebuilds) == 1  # the first build only: both Cilium events were incremental
