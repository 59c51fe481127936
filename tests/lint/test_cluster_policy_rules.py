"""MS017-MS019: the lint rules for cluster-wide policies (ClusterNetworkPolicy v1alpha2, v1alpha1 ANP/BANP)."""

from __future__ import annotations

from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.lint.context import LintContext
from kubectl_microseg.lint.registry import lint_cluster
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.manifests import parse_text

BASE = """
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c}]}
"""


def cnp(name: str, priority: int, egress: str, tier: str = "Admin") -> str:
    return f"""---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {{name: {name}}}
spec:
  tier: {tier}
  priority: {priority}
  subject: {{namespaces: {{}}}}
  egress: {egress}
"""


def findings(text: str) -> list:
    a = Analyzer(build_cluster(parse_text(text, "in.yaml")))
    return lint_cluster(LintContext(a))


def rules(text: str) -> list[str]:
    return sorted(f.rule for f in findings(text))


def test_networks_of_everything_without_a_pod_pass_first():
    """network-policy-api: Accept or Deny to 0.0.0.0/0 "will allow or deny all IPv4 pod-to-pod traffic as well"."""
    deny_all = "[{action: Deny, to: [{networks: [0.0.0.0/0]}]}]"
    assert "MS017" in rules(BASE + cnp("x", 1, deny_all))
    passed_first = "[{action: Pass, to: [{namespaces: {}}]}, {action: Deny, to: [{networks: [0.0.0.0/0]}]}]"
    assert "MS017" not in rules(BASE + cnp("x", 1, passed_first))
    assert "MS017" not in rules(BASE + cnp("x", 1, "[{action: Deny, to: [{networks: [203.0.113.0/24]}]}]"))


def test_same_tier_same_priority_over_the_same_pods():
    rule = "[{action: Deny, to: [{networks: [203.0.113.0/24]}]}]"
    got = findings(BASE + cnp("x", 5, rule) + cnp("y", 5, rule))
    assert [f.rule for f in got if f.rule == "MS018"] == ["MS018"]
    assert "MS018" not in rules(BASE + cnp("x", 5, rule) + cnp("y", 5, rule, tier="Baseline"))
    assert "MS018" not in rules(BASE + cnp("x", 5, rule) + cnp("y", 6, rule))


def test_v1alpha1_is_reported_deprecated():
    anp = """---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: old}
spec:
  priority: 1
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{networks: [203.0.113.0/24]}]}]
"""
    got = [f for f in findings(BASE + anp) if f.rule == "MS019"]
    assert len(got) == 1 and "tier: Admin" in got[0].fix and got[0].location.line
