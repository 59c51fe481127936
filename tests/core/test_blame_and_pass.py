"""Issue 15 items in the pipeline's views: simulate/diff causes never blame an object that did not change;
an admin Pass is never shown as allowing (no tick) under a denied verdict."""

from __future__ import annotations

from kubectl_microseg.engine.causes import attribute
from kubectl_microseg.engine.diff import diff_matrices
from kubectl_microseg.engine.explain import explain_pair
from kubectl_microseg.tui.explain_doc import direction_blocks

from .util import analyzer

NS = """
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Namespace
metadata: {name: b}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web, tier: TIER}}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cli, namespace: b, labels: {app: cli}}
spec: {containers: [{name: c}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-locked, namespace: a}
spec: {podSelector: {matchLabels: {tier: locked}}, policyTypes: [Ingress]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: pass-b}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  ingress: [{action: Pass, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: b}}}]}]
"""


def test_a_relabelled_pod_blames_the_pod_not_the_unchanged_policy():
    before, after = analyzer(NS.replace("TIER", "open")), analyzer(NS.replace("TIER", "locked"))
    diff = diff_matrices(before.matrix(), after.matrix())
    attribute(diff, before, after)
    pair = next(p for p in diff.differences() if (p.src, p.dst) == ("b/cli", "a/web"))
    assert [c.policy for c in pair.causes] == ["a/web"]  # not a/only-locked, which did not change
    assert pair.causes[0].change == "endpoint-changed" and "a/only-locked" in pair.causes[0].text


def test_an_admin_pass_has_no_tick_under_a_denied_verdict():
    a = analyzer(NS.replace("TIER", "locked"))
    e = explain_pair(a, a.cluster.workload("b/cli"), a.cluster.workload("a/web"))
    assert e.allowed.is_empty()
    all_blocks = direction_blocks(None, e)
    at = next(i for i, b in enumerate(all_blocks) if b.kind == "direction" and b.text.startswith("ingress"))
    ingress = [b for b in all_blocks[at:] if b.kind == "reason"]  # the denying direction's chain
    passed = [b for b in ingress if "Pass" in b.text]
    assert passed and all(b.ok is None for b in passed)
    assert not any(b.ok for b in ingress)
