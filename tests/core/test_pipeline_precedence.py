"""The precedence of the policy layers is written once (engine.pipeline): every path that computes a verdict
agrees on every pair of the demo and of the shared conformance cases, each also with cluster-wide
ClusterNetworkPolicy guardrails added (so that every layer is exercised):

- the matrix (its NetworkPolicy-only shortcut when there are no admin policies),
- the pipeline itself, pair by pair (``Analyzer.class_allows`` / ``Analyzer.decide``),
- explain (the reasons' chain, whose verdict must also be what the chain's decisions say),
- the incremental model, built without a namespace and then given it, event by event.
"""

from __future__ import annotations

import random

import pytest

from kubectl_microseg.engine.explain import explain_pair
from kubectl_microseg.engine.incremental import LiveModel
from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.engine.pipeline import LAYERS, Layer
from kubectl_microseg.model.cluster import build_cluster, expand_lists
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.model.ports import ConnSet
from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.plugins.manifests import ManifestSource, parse_text

from .util import SHARED

CASES_DIR = SHARED / "conformance" / "cases"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "manifests").is_dir()) if CASES_DIR.is_dir() else []

GUARDRAILS = """
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: guard-admin}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {}}
  ingress:
  - {name: same-namespace-pass, action: Pass, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: default}}}]}
  egress:
  - {name: dns, action: Accept, to: [{namespaces: {}}], protocols: [{udp: {destinationPort: {number: 53}}}]}
  - {name: metadata, action: Deny, to: [{networks: [169.254.169.254/32]}]}
  - {name: web-pass, action: Pass, to: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {range: {start: 80, end: 9090}}}}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: guard-baseline}
spec:
  tier: Baseline
  priority: 10
  subject: {namespaces: {}}
  ingress:
  - {name: deny-tcp-high, action: Deny, from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {range: {start: 1024, end: 65535}}}}]}
  egress:
  - {name: deny-private, action: Deny, to: [{networks: [10.0.0.0/8]}]}
"""


def test_the_layers_are_declared_once_in_evaluation_order():
    """network-policy-api v1alpha2 spec.tier: "Admin tier, NetworkPolicy tier, Baseline tier", then the
    Kubernetes default; Cilium's deny rules before them all (docs.cilium.io, Deny Policies: "Deny policies
    take precedence over allow policies, regardless of whether they are a Cilium Network Policy, a
    Clusterwide Cilium Network Policy or even a Kubernetes Network Policy"). Calico tiers ordered before its
    kube-admin tier (order 1000) come next (Calico tiered-policy page); tiers ordered after its baseline
    tier (order 10,000,000) come after the Baseline tier; its other tiers take the NetworkPolicy layer's
    place (engine/calico.py)."""
    assert [layer for layer, _ in LAYERS] == [Layer.CILIUM_DENY, Layer.CALICO_EARLY, Layer.ADMIN, Layer.NETWORK_POLICY,
                                              Layer.BASELINE, Layer.CALICO_LATE,
                                              Layer.DEFAULT]


def _objects(name: str) -> list[SourceObject]:
    if name == "demo":
        return expand_lists(DemoSource().load().objects)
    return expand_lists(ManifestSource([str(CASES_DIR / name / "manifests")]).load().objects)


def _chain_verdict(reasons) -> ConnSet:
    """What a direction's chain of reasons decides, read in order: per port, the first accept or deny wins
    (a Pass decides nothing; an isolating NetworkPolicy denies what its rules do not accept, and then
    nothing follows it in the chain)."""
    allowed = settled = ConnSet.none()
    for r in reasons:
        if r.kind in ("HOST_NETWORK", "EXTERNAL"):
            return ConnSet.all()
        if r.effect in ("allow", "deny") and r.conns:
            if r.effect == "allow":
                allowed = allowed | (r.conns - settled)
            settled = settled | r.conns
    return allowed


def _walk(objects: list[SourceObject], name: str, limit: int = 150) -> None:
    a = Analyzer(build_cluster(objects))
    m = a.matrix()
    wl, atoms = list(a.cluster.workloads), list(a.atoms)
    pairs = [(s, d) for s in wl for d in wl + atoms] + [(s, d) for s in atoms for d in wl]
    if len(pairs) > limit:
        pairs = random.Random(name).sample(pairs, limit)
    for src, dst in pairs:
        e = explain_pair(a, src, dst)
        assert m.get(src.id, dst.id) == e.allowed, f"{name}: {src.id} -> {dst.id}: matrix vs explain"
        if len(e.verdicts) == 1:  # one class each side: the chain itself must read as the verdict
            v = e.verdicts[0]
            for dv in (v.egress, v.ingress):
                assert _chain_verdict(dv.reasons) == dv.allowed, f"{name}: {src.id} -> {dst.id}: chain"
    # the pipeline pair by pair, on every class pair the matrix holds (or not)
    cm = a.class_matrix()
    n = len(a.classes)
    sample = [(x, y) for x in range(n) for y in range(n)]
    if len(sample) > limit:
        sample = random.Random(name).sample(sample, limit)
    for x, y in sample:
        assert cm.get((x, y), ConnSet.none()) == a.class_allows(x, y), f"{name}: classes {x} -> {y}"
    # incremental: without the first namespace, then with it (objects one by one, as a watch gives them)
    nss = sorted({w.namespace for w in a.cluster.workloads})
    if nss:
        ns = nss[0]
        mine = [o for o in objects if (o.namespace or "default") == ns and o.kind not in ("Namespace",)
                and o.kind not in ("ClusterNetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy")]
        rest = [o for o in objects if o not in mine]
        live = LiveModel(rest)
        live.apply(mine)
        got, want = live.matrix().to_contract(), m.to_contract()
        # (notes about skipped kinds are counted per update: verdicts and endpoints are what must agree)
        assert got["connections"] == want["connections"], f"{name}: incremental differs"
        assert got["endpoints"] == want["endpoints"], f"{name}: incremental endpoints differ"


@pytest.mark.parametrize("guardrails", [False, True], ids=["as-is", "with-cnp"])
def test_every_verdict_path_agrees_on_the_demo(guardrails):
    objs = _objects("demo")
    if guardrails:
        objs += list(parse_text(GUARDRAILS, "guardrails.yaml"))
    _walk(objs, "demo", limit=400)


@pytest.mark.skipif(not CASES, reason=f"no conformance cases at {CASES_DIR}")
@pytest.mark.parametrize("guardrails", [False, True], ids=["as-is", "with-cnp"])
def test_every_verdict_path_agrees_on_the_conformance_cases(guardrails):
    for case in CASES:
        objs = _objects(case)
        if guardrails:
            objs += list(parse_text(GUARDRAILS, "guardrails.yaml"))
        _walk(objs, case, limit=60)
