"""Calico tiers in the decision pipeline. Every expected verdict follows the Tier reference ("How policy is
evaluated"), the NetworkPolicy reference (Rule: action Allow/Deny/Log/Pass; EntityRule: selector,
namespaceSelector, nets, notNets, ports, notPorts) and the tiered-policy page (Kubernetes NetworkPolicies
in the default tier at order 1000)."""

from __future__ import annotations

import pytest
import yaml

from kubectl_microseg.engine.explain import explain_pair
from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.model.ports import ConnSet

BASE = """
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {house: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {house: b}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  template:
    metadata: {labels: {app: web, role: frontend}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: a}
spec:
  template:
    metadata: {labels: {app: db, role: database}}
    spec: {containers: [{name: c}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cli, namespace: b}
spec:
  template:
    metadata: {labels: {app: cli}}
    spec: {containers: [{name: c}]}
"""
ALL = ConnSet.all()
NONE = ConnSet.none()
TCP = ConnSet.protocol


def analyzer(extra: str) -> Analyzer:
    docs = [d for d in yaml.safe_load_all(BASE + "\n---\n" + extra) if d]
    return Analyzer(build_cluster(SourceObject(d) for d in docs))


def allowed(a: Analyzer, src: str, dst: str) -> ConnSet:
    return a.matrix(external=False).get(src, dst)


def gnp(name: str, spec: str) -> str:
    return f"apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: {name}}}\nspec: {spec}\n---\n"


def tier(name: str, order: int, action: str = "Deny") -> str:
    return (f"apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {{name: {name}}}\n"
            f"spec: {{order: {order}, defaultAction: {action}}}\n---\n")


KNP_ALLOW_CLI = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-cli, namespace: a}
spec: {podSelector: {matchLabels: {app: db}}, ingress: [{from: [{namespaceSelector: {matchLabels: {house: b}}}]}]}
---
"""


def test_deny_in_an_earlier_tier_beats_a_kubernetes_allow():
    # Tier reference: a Deny in a tier ends the evaluation; the default tier (Kubernetes policies) never runs
    a = analyzer(tier("security", 100) + gnp("no-cli", "{tier: security, selector: app == 'db', ingress: "
                 "[{action: Deny, source: {namespaceSelector: house == 'b'}}, {action: Pass}]}") + KNP_ALLOW_CLI)
    assert allowed(a, "b/cli", "a/db") == NONE
    assert allowed(a, "a/web", "a/db") == NONE  # passed on, then isolated by the Kubernetes policy
    a = analyzer(KNP_ALLOW_CLI)  # without the Calico tier, as before
    assert allowed(a, "b/cli", "a/db") == ALL


def test_end_of_tier_default_action_deny_and_pass():
    # "If the Tier applies to the endpoint, but takes no action on the packet the packet is dropped" unless
    # defaultAction: Pass
    policy = gnp("web-only", "{tier: security, selector: app == 'db', ingress: [{action: Allow, source: "
                 "{selector: app == 'web'}}]}")
    a = analyzer(tier("security", 100) + policy)
    assert allowed(a, "a/web", "a/db") == ALL
    assert allowed(a, "b/cli", "a/db") == NONE
    assert allowed(a, "b/cli", "a/web") == ALL  # the tier does not apply to web: skipped
    a = analyzer(tier("security", 100, "Pass") + policy)
    assert allowed(a, "b/cli", "a/db") == ALL  # passed to the end: Calico's profiles allow


def test_first_matching_rule_decides_per_port_and_log_does_not():
    a = analyzer(tier("t", 10) + gnp("p", "{tier: t, selector: app == 'db', ingress: ["
                 "{action: Log}, {action: Deny, protocol: TCP, destination: {ports: ['5000:5999']}}, {action: Allow}]}"))
    got = allowed(a, "b/cli", "a/db")
    assert not got.allows("TCP", 5000) and not got.allows("TCP", 5999)
    assert got.allows("TCP", 4999) and got.allows("TCP", 6000) and got.allows("UDP", 5000)


def test_policy_order_then_name():
    # "policies with the same order are applied in alphanumerical order of their names"; lower order first
    deny = "{tier: t, order: %s, selector: app == 'db', ingress: [{action: Deny}]}"
    allow = "{tier: t, order: %s, selector: app == 'db', ingress: [{action: Allow}]}"
    assert allowed(analyzer(tier("t", 1) + gnp("a-deny", deny % 10) + gnp("b-allow", allow % 5)),
                   "b/cli", "a/db") == ALL
    assert allowed(analyzer(tier("t", 1) + gnp("a-deny", deny % 5) + gnp("b-allow", allow % 5)),
                   "b/cli", "a/db") == NONE
    assert allowed(analyzer(tier("t", 1) + gnp("b-deny", deny % 5) + gnp("a-allow", allow % 5)),
                   "b/cli", "a/db") == ALL


def test_tiers_by_order():
    t1 = gnp("x", "{tier: first, selector: app == 'db', ingress: [{action: Deny}]}")
    t2 = gnp("y", "{tier: second, selector: app == 'db', ingress: [{action: Allow}]}")
    assert allowed(analyzer(tier("first", 10) + tier("second", 20) + t1 + t2), "b/cli", "a/db") == NONE
    assert allowed(analyzer(tier("first", 30) + tier("second", 20) + t1 + t2), "b/cli", "a/db") == ALL


def test_calico_policy_in_default_tier_before_kubernetes_order_1000():
    # Kubernetes policies are at order 1000 in the default tier: a Calico Deny with order 100 comes first,
    # one with order 2000 after (where the Kubernetes allow already decided)
    deny = "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: d, namespace: a}\n" \
           "spec: {order: %d, selector: app == 'db', ingress: [{action: Deny, source: {namespaceSelector: all()}}]}\n---\n"
    assert allowed(analyzer(deny % 100 + KNP_ALLOW_CLI), "b/cli", "a/db") == NONE
    assert allowed(analyzer(deny % 2000 + KNP_ALLOW_CLI), "b/cli", "a/db") == ALL


def test_namespaced_selector_scope():
    # calico-labels page: in a NetworkPolicy an empty namespaceSelector means the policy's own namespace
    pol = ("apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\n"
           "spec: {selector: app == 'db', ingress: [{action: Allow, source: {selector: has(app)}}]}\n---\n")
    a = analyzer(pol)
    assert allowed(a, "a/web", "a/db") == ALL
    assert allowed(a, "b/cli", "a/db") == NONE  # cli has app but lives in b; default tier: Deny
    a = analyzer(pol.replace("has(app)}", "has(app), namespaceSelector: projectcalico.org/name == 'b'}"))
    assert allowed(a, "b/cli", "a/db") == ALL and allowed(a, "a/web", "a/db") == NONE


def test_egress_nets_not_nets_and_named_ports():
    a = analyzer(gnp("out", "{selector: app == 'web', types: [Egress], egress: ["
                     "{action: Allow, protocol: TCP, destination: {nets: [203.0.113.0/24], notNets: [203.0.113.128/25],"
                     " ports: [443]}},"
                     "{action: Allow, protocol: TCP, destination: {selector: app == 'db'}}]}") +
                 gnp("in", "{selector: app == 'web', types: [Ingress], ingress: [{action: Allow, protocol: TCP, "
                     "destination: {ports: [http]}}]}"))
    m = a.matrix()
    inside = next(e.id for e in m.endpoints if e.id.startswith("203.0.113.0/25"))
    outside = next(e.id for e in m.endpoints if e.id.startswith("203.0.113.128/25"))
    assert m.get("a/web", inside) == ConnSet.ports("TCP", 443)
    assert m.get("a/web", outside) == NONE
    assert m.get("a/web", "a/db") == TCP("TCP")
    assert m.get("b/cli", "a/web") == ConnSet.ports("TCP", 8080)  # named port 'http' of web


def test_global_network_set_as_peer_by_label():
    a = analyzer("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: partners, labels: "
                 "{kind: partner}}\nspec: {nets: [198.51.100.0/24]}\n---\n" +
                 gnp("p", "{selector: app == 'web', types: [Egress], egress: [{action: Allow, destination: "
                     "{selector: kind == 'partner'}}]}"))
    m = a.matrix()
    ext = [e.id for e in m.endpoints if e.kind == "External"]
    partner = next(x for x in ext if x.startswith("198.51.100.0/24"))
    assert partner == "198.51.100.0/24 (GlobalNetworkSet partners)"  # the set's outside endpoint, by its name
    assert m.get("a/web", partner) == ALL
    assert all(m.get("a/web", x) == NONE for x in ext if x != partner)


def test_explain_chain_tier_policy_rule_action():
    a = analyzer(tier("security", 100, "Pass") + gnp("pass-cli", "{tier: security, selector: app == 'db', ingress: "
                 "[{action: Pass, source: {namespaceSelector: house == 'b'}}]}") + KNP_ALLOW_CLI)
    e = explain_pair(a, a.cluster.workload("b/cli"), a.cluster.workload("a/db"))
    kinds = [r.kind for r in e.ingress]
    assert kinds == ["CALICO_PASS", "CALICO_ALLOW"]
    assert e.ingress[0].text.startswith("[security tier] GlobalNetworkPolicy pass-cli (no order) ingress rule 1: Pass")
    assert e.ingress[1].text.startswith("[default tier, order 1000] a/from-cli ingress rule")
    assert e.allowed == ALL


def test_staged_policies_do_not_enforce():
    # stagednetworkpolicy reference: a staged policy previews behaviour, it is not enforced
    staged = ("apiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: s}\n"
              "spec: {selector: all(), ingress: [{action: Deny}]}\n---\n")
    a = analyzer(staged)
    assert allowed(a, "b/cli", "a/db") == ALL
    assert len(a.cluster.calico.staged) == 1


def test_class_matrix_equals_the_pipeline_pair_by_pair():
    # the verdict maps (peers partitioned by the rules that tell them apart) against one decision per pair
    configs = [
        tier("security", 100, "Pass") + gnp("dns", "{tier: security, selector: all(), types: [Egress], egress: ["
            "{action: Deny, protocol: TCP, destination: {selector: app == 'db', ports: ['5000:6000']}}, {action: Pass}]}")
        + KNP_ALLOW_CLI,
        tier("t", 5) + gnp("in", "{tier: t, selector: has(role), ingress: [{action: Allow, protocol: TCP, destination: "
            "{ports: [http]}, source: {namespaceSelector: all()}}, {action: Deny, source: {selector: app == 'cli', "
            "namespaceSelector: all()}}]}") + gnp("out", "{selector: app == 'cli', types: [Egress], egress: [{action: "
            "Allow, protocol: TCP, destination: {ports: [http]}}]}"),
    ]
    for extra in configs:
        a = analyzer(extra)
        n = len(a.classes)
        expected = {(x, y): a.class_allows(x, y) for x in range(n) for y in range(n)}
        got = a.class_matrix()
        assert {k: v for k, v in expected.items() if v} == got


EXTERNAL_NP = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: a}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [203.0.113.0/24]}}]}]}
---
"""


@pytest.mark.parametrize("extra", [
    # policies in the default tier (the whole pipeline per group of atoms)
    gnp("out", "{selector: all(), types: [Egress], egress: [{action: Deny, destination: {nets: [198.51.100.0/25]}}, "
               "{action: Allow, protocol: TCP, destination: {notNets: [10.0.0.0/8]}}]}")
    + gnp("in", "{selector: app == 'web', ingress: [{action: Allow, source: {nets: [0.0.0.0/0]}}]}"),
    # policies in a tier before the default tier, composed with the Kubernetes policies
    tier("p", 10, "Pass") + gnp("out", "{tier: p, selector: all(), types: [Egress], egress: [{action: Deny, protocol: "
                                       "TCP, destination: {nets: [198.51.100.0/25], ports: [443]}}, {action: Pass}]}")
    + EXTERNAL_NP,
])
def test_external_cells_equal_the_pipeline_atom_by_atom(extra):
    a = analyzer(extra)
    for direction in ("egress", "ingress"):
        for cls in range(len(a.classes)):
            named = a.classes[cls].named_ports if direction == "ingress" else frozenset()
            want = {i: c for i, at in enumerate(a.atoms) if (c := a.decide(direction, cls, at, named))}
            got = a.atom_map(direction, cls)  # None: not isolated, every range allowed
            assert (dict.fromkeys(range(len(a.atoms)), ALL) if got is None else got) == want


BASELINE_DENY_CLI = """
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: baseline-no-cli}
spec:
  tier: Baseline
  priority: 10
  subject: {namespaces: {}}
  ingress:
  - {name: no-cli, action: Deny, from: [{namespaces: {matchLabels: {house: b}}}]}
---
"""


@pytest.mark.parametrize("order, allowed_after", [(500_000, True), (20_000_000, False), (None, False)])
def test_tiers_after_kube_baseline_run_after_the_baseline_tier(order, allowed_after):
    """Calico tiered-policy page: the Baseline tier's ``kube-baseline`` tier "has the order of 10,000,000"
    (tiers sort by order, a tier without order last: Tier reference). A tier ordered before it (500,000)
    decides before the Baseline tier's Deny; one after it (20,000,000, or none) only sees what the Baseline
    tier left open."""
    spec = f"{{order: {order}, defaultAction: Pass}}" if order is not None else "{defaultAction: Pass}"
    late = (f"apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {{name: late}}\nspec: {spec}\n---\n"
            + gnp("allow-cli", "{tier: late, selector: app == 'db', ingress: [{action: Allow, source: "
                  "{namespaceSelector: house == 'b'}}]}"))
    a = analyzer(late + BASELINE_DENY_CLI)
    assert (allowed(a, "b/cli", "a/db") == ALL) is allowed_after
    assert allowed(a, "b/cli", "a/web") == NONE  # the Baseline Deny, no Calico policy applies to web
    v = explain_pair(a, a.cluster.workload("b/cli"), a.cluster.workload("a/db"))
    layers = [r.layer for r in v.ingress]
    # explain: the deciding layer is the Calico tier before the Baseline tier, the Baseline tier before it
    assert layers == (["Calico tier late"] if allowed_after else ["Baseline"])
