"""``scaffold cluster-guardrails``: ClusterNetworkPolicies keeping DNS and monitoring reachable (Admin tier) and a
Baseline-tier default deny, previewed as a matrix diff; the output is valid and has the promised effect."""

from __future__ import annotations

from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.plugins.manifests import parse_text

from .helpers import run_cli

ISOLATE_BATCH = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: batch}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
"""


def test_guardrails_on_the_demo(capsys):
    code, out, err = run_cli(capsys, "scaffold", "cluster-guardrails", "--demo")
    assert code == 0
    assert "impact on the connectivity matrix" in err and "[CNP] guardrails-default-deny" in err
    docs = list(parse_text(out, "guardrails.yaml"))
    assert [(d.raw["spec"]["tier"], d.raw["spec"]["priority"]) for d in docs] == [
        ("Admin", 0), ("Admin", 1), ("Admin", 2), ("Admin", 3), ("Baseline", 1000)]  # before the demo's priority 10
    base = list(DemoSource().load().objects)
    a = Analyzer(build_cluster(base + docs + list(parse_text(ISOLATE_BATCH, "x.yaml"))))
    assert not any("undefined" in n for n in a.cluster.notes)  # distinct priorities
    m = a.matrix()
    # DNS and monitoring survive a namespace that isolates everything (the Admin tier comes first) ...
    assert m.get("batch/report-generator", "kube-system/coredns").allows("UDP", 53)
    assert m.get("monitoring/prometheus", "batch/nightly-etl").allows("TCP", 9090)
    # ... and the Baseline default deny applies where no NetworkPolicy isolates (before: batch was open)
    b = Analyzer(build_cluster(base + docs)).matrix()
    assert b.get("batch/report-generator", "batch/nightly-etl").is_empty()
    assert Analyzer(build_cluster(base)).matrix().get("batch/report-generator", "batch/nightly-etl")


def test_no_monitoring_namespace(capsys):
    code, out, _ = run_cli(capsys, "scaffold", "cluster-guardrails", "--demo", "--monitoring-namespace", "")
    assert code == 0
    assert [d.raw["metadata"]["name"] for d in parse_text(out, "g.yaml")] == [
        "guardrails-dns", "guardrails-dns-server", "guardrails-default-deny"]
