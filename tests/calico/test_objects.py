"""Calico objects read from files (reference: docs.tigera.io/calico/latest/reference/resources/
networkpolicy, globalnetworkpolicy, tier, networkset, globalnetworkset)."""

from __future__ import annotations

import pytest

from kubectl_microseg.errors import InputError
from kubectl_microseg.model.calico import CalicoAction, PolicyType, is_calico
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.model.ports import ConnSet
from plugins.manifests import parse_text

# the reference's NetworkPolicy sample (tier internal-access), a Tier, and a GlobalNetworkSet
SAMPLE = """\
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: internal-access}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: internal-access.allow-tcp-6379
  namespace: production
spec:
  tier: internal-access
  selector: role == 'database'
  types: [Ingress, Egress]
  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: role == 'frontend'
    destination:
      ports: [6379]
  egress:
  - action: Allow
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: threats
  labels: {threat: "true"}
spec:
  nets: [198.51.100.0/24]
"""


def cluster(text: str):
    return build_cluster(parse_text(text, "calico.yaml"))


def test_reference_sample_is_read():
    c = cluster(SAMPLE).calico
    (pol, _), = c.policies
    assert (pol.kind, pol.namespace, pol.name, pol.tier) == ("NetworkPolicy", "production",
                                                             "internal-access.allow-tcp-6379", "internal-access")
    assert pol.types == (PolicyType.INGRESS, PolicyType.EGRESS)
    assert pol.selector.matches({"role": "database"}) and not pol.selector.matches({"role": "frontend"})
    rule = pol.ingress[0]
    assert rule.action is CalicoAction.ALLOW and rule.conns() == ConnSet.ports("TCP", 6379)
    assert [t.name for t in c.ordered_tiers()] == ["internal-access", "default"]
    assert c.sets[0].nets[0].exploded == "198.51.100.0/24" and c.sets[0].namespace is None


def test_kubernetes_networkpolicy_is_not_taken_for_calico():
    assert not is_calico({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"})
    assert is_calico({"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy"})


def test_storage_form_strips_the_tier_prefix():
    text = """\
apiVersion: crd.projectcalico.org/v1
kind: GlobalNetworkPolicy
metadata: {name: default.deny-all}
spec: {selector: all(), types: [Ingress, Egress]}
"""
    (pol, _), = cluster(text).calico.policies
    assert (pol.name, pol.tier, pol.namespace) == ("deny-all", "default", None)
    assert pol.ingress == () and pol.types == (PolicyType.INGRESS, PolicyType.EGRESS)


@pytest.mark.parametrize("rules,types", [
    # reference, "types": "If no egress rules: [Ingress]; egress rules but no ingress: [Egress]; both: both"
    ("{}", ("Ingress",)),
    ("{ingress: [{action: Allow}]}", ("Ingress",)),
    ("{egress: [{action: Deny}]}", ("Egress",)),
    ("{ingress: [{action: Allow}], egress: [{action: Deny}]}", ("Ingress", "Egress")),
])
def test_types_defaulting(rules, types):
    text = f"apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: a}}\nspec: {rules}\n"
    (pol, _), = cluster(text).calico.policies
    assert tuple(t.value for t in pol.types) == types


def test_ports_ranges_named_and_not_ports():
    text = """\
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  ingress:
  - action: Allow
    protocol: TCP
    destination: {ports: ["8000:8010", http, 22], notPorts: [8005]}
  - action: Deny
    protocol: 17
  - action: Allow
    notProtocol: UDP
"""
    (pol, _), = cluster(text).calico.policies
    r0, r1, r2 = pol.ingress
    named = frozenset({("http", "TCP", 8080)})
    want = ConnSet.ports("TCP", 8000, 8004) | ConnSet.ports("TCP", 8006, 8010) | ConnSet.ports("TCP", 8080) \
        | ConnSet.ports("TCP", 22)
    assert r0.conns(named) == want
    assert r1.protocol == "UDP" and r1.conns() == ConnSet.protocol("UDP")  # protocol by number
    assert r2.conns() == ConnSet.protocol("TCP") | ConnSet.protocol("SCTP")


def test_unevaluated_fields_are_reported_not_ignored():
    text = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-fw}
spec:
  preDNAT: true
  applyOnForward: true
  ingress:
  - action: Deny
    protocol: ICMP
    icmp: {type: 8}
"""
    notes = "\n".join(cluster(text).notes)
    assert "spec.preDNAT is not evaluated" in notes
    assert "spec.applyOnForward is not evaluated" in notes
    assert "spec.ingress[0].icmp is not evaluated" in notes
    assert "ICMP is outside the matrix" in notes


def test_tier_default_action():
    text = "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: platform}\nspec: {order: 50, defaultAction: Pass}\n"
    t = cluster(text).calico.tiers["platform"]
    assert (t.order, t.default_action) == (50.0, CalicoAction.PASS)
    t = cluster(text.replace(", defaultAction: Pass", "")).calico.tiers["platform"]
    assert t.default_action is CalicoAction.DENY  # Tier reference: defaults to Deny


@pytest.mark.parametrize("spec,line,fragment", [
    ("spec:\n  selector: role == database\n", 4, "expected a quoted string at column 9"),
    ("spec:\n  ingress:\n  - action: Reject\n", 5, "action must be Allow, Deny, Log or Pass"),
    ("spec:\n  ingress:\n  - action: Allow\n    destination: {ports: [80]}\n", 6, "ports need protocol"),
    ("spec:\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination: {ports: ['90:80']}\n", 7,
     "invalid port range"),
    ("spec:\n  ingress:\n  - action: Allow\n    source: {nets: [10.0.0.0/33]}\n", 6, "invalid CIDR"),
    ("spec:\n  egress:\n  - action: Allow\n    sorce: {}\n", 6, 'unknown field "sorce"'),
    ("spec:\n  types: [Ingress]\n  egress: [{action: Allow}]\n", 4, "Egress rules are given"),
])
def test_bad_input_names_file_document_and_line(spec, line, fragment):
    text = "---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\n" + spec
    text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n" + text
    with pytest.raises(InputError) as e:
        cluster(text)
    msg = str(e.value)
    assert fragment in msg and "calico.yaml" in msg
    assert e.value.line == line + 5, msg


def test_staged_kubernetes_policy_is_read_as_the_kubernetes_policy_it_stages():
    """stagedkubernetesnetworkpolicy reference: a Kubernetes NetworkPolicy's spec plus stagedAction; a bad
    spec is the located error the Kubernetes policy would give."""
    text = ("apiVersion: projectcalico.org/v3\nkind: StagedKubernetesNetworkPolicy\nmetadata: {name: s, namespace: a}\n"
            "spec: {podSelector: {}, policyTypes: [Ingress]}\n")
    c = cluster(text)
    assert not any("not evaluated" in n for n in c.notes)
    assert not c.calico.policies and not c.calico.staged and not c.policies
    (pol, _), = c.calico.staged_k8s
    assert (pol.namespace, pol.name, set(pol.policy_types)) == ("a", "s", {"Ingress"})
    with pytest.raises(InputError, match="policyTypes"):
        cluster(text.replace("[Ingress]", "[Sideways]"))
