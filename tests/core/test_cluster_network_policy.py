"""ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2, network-policy-api v0.2.0): one test per rule of
the API, each quoting the rule (apis/v1alpha2/clusternetworkpolicy_types.go, the v0.2.0 CRD, and
site-src/api-overview.md), and the documented examples (site-src/user-story-examples) with the verdicts
the user stories state.
"""

from __future__ import annotations

import pytest

from kubectl_microseg.engine.explain import explain_pair
from kubectl_microseg.errors import InputError

from .util import ALL, analyzer, cluster_of, conns, external_for, matrix, tcp, udp

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
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cli, namespace: b}
spec:
  template:
    metadata: {labels: {app: cli}}
    spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: b, labels: {app: agent}}
spec: {hostNetwork: true, containers: [{name: c}]}
status: {podIP: 192.0.2.7}
"""

ALLOW_ALL_INGRESS_A = """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: a}
spec: {podSelector: {}, ingress: [{}]}
"""
DENY_ALL_INGRESS_A = """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: a}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""


def cnp(name: str, tier: str, priority: int, body: str, subject: str = "{namespaces: {matchLabels: {house: a}}}") -> str:
    return f"""
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {{name: {name}}}
spec:
  tier: {tier}
  priority: {priority}
  subject: {subject}
{body}
"""


def from_b(action: str, extra: str = "") -> str:
    return f"  ingress:\n  - {{action: {action}, from: [{{namespaces: {{matchLabels: {{house: b}}}}}}]{extra}}}"


def verdict(text: str, src: str = "b/cli", dst: str = "a/web"):
    return conns(matrix(BASE + text), src, dst)


# ---------------------------------------------------------------------- tiers
def test_admin_tier_deny_beats_a_networkpolicy_allow():
    """spec.tier: "The Admin tier takes precedence over all other policies ... If Admin tier has made a final
    decision (Accept or Deny) on a connection, then no further evaluation is done." """
    assert verdict(cnp("deny", "Admin", 10, from_b("Deny")) + ALLOW_ALL_INGRESS_A).is_empty()


def test_admin_tier_accept_beats_networkpolicy_isolation():
    """Accept: "No further ingress ClusterNetworkPolicy or NetworkPolicy rules will be processed." """
    assert verdict(cnp("acc", "Admin", 10, from_b("Accept")) + DENY_ALL_INGRESS_A) == ALL


def test_baseline_tier_applies_only_where_no_networkpolicy_selects():
    """spec.tier: "v1.NetworkPolicy always makes a final decision for selected pods. Further evaluation only
    happens for Pods not selected by a v1.NetworkPolicy." and Baseline "can be overridden by the
    v1.NetworkPolicy"."""
    base = cnp("baseline-deny", "Baseline", 10, from_b("Deny"))
    assert verdict(base).is_empty()
    assert verdict(base + ALLOW_ALL_INGRESS_A) == ALL


def test_no_tier_decides_means_the_kubernetes_default():
    """spec.tier: "If a given connection wasn't allowed or denied by any of the tiers, the default kubernetes
    policy is applied, which says that all pods can communicate with each other." """
    assert verdict(cnp("other", "Admin", 10, from_b("Deny"), "{namespaces: {matchLabels: {house: zzz}}}")) == ALL


def test_rules_are_read_as_is_without_implicit_isolation():
    """api-overview: "there will not be any implicit isolation effects for the Pods selected by the
    ClusterNetworkPolicy, as opposed to what NetworkPolicy rules imply." """
    m = matrix(BASE + cnp("acc", "Admin", 10, "  ingress:\n  - {action: Accept, from: [{namespaces: {matchLabels: {house: zzz}}}]}"))
    assert conns(m, "b/cli", "a/web") == ALL


# ---------------------------------------------------------------------- priorities and rule order
def test_lower_priority_number_is_checked_first():
    """spec.priority: "Policies with lower priority values have higher precedence, and are checked before
    policies with higher priority values in the same tier." """
    assert verdict(cnp("deny", "Admin", 20, from_b("Deny")) + cnp("acc", "Admin", 5, from_b("Accept"))) == ALL
    assert verdict(cnp("deny", "Admin", 5, from_b("Deny")) + cnp("acc", "Admin", 20, from_b("Accept"))).is_empty()


def test_same_priority_in_a_tier_is_warned_as_undefined():
    """spec.priority: "If two (or more) policies in the same tier with the same priority could match a
    connection, then the implementation can apply any of the matching policies"."""
    c = cluster_of(BASE + cnp("x", "Admin", 7, from_b("Deny")) + cnp("y", "Admin", 7, from_b("Accept")))
    assert any("[CNP] x and [CNP] y" in n and "undefined" in n for n in c.notes)
    other_tier = cluster_of(BASE + cnp("x", "Admin", 7, from_b("Deny")) + cnp("y", "Baseline", 7, from_b("Accept")))
    assert not any("undefined" in n for n in other_tier.notes)


def test_first_written_rule_decides_per_port():
    """spec.ingress: "The relative precedence of ingress rules within a single CNP object ... will be
    determined by the order in which the rule is written." """
    body = ("  ingress:\n"
            "  - {action: Accept, from: [{namespaces: {matchLabels: {house: b}}}], protocols: [{tcp: {destinationPort: {number: 8080}}}]}\n"
            "  - {action: Deny, from: [{namespaces: {matchLabels: {house: b}}}]}")
    assert verdict(cnp("p", "Admin", 1, body)) == tcp(8080)


# ---------------------------------------------------------------------- actions
def test_admin_pass_hands_over_to_networkpolicy_and_skips_the_rest_of_the_tier():
    """Pass: "Skips all further ClusterNetworkPolicy rules in the current tier for the selected traffic, and
    passes evaluation to the next tier." """
    passes = cnp("pass", "Admin", 1, from_b("Pass")) + cnp("deny", "Admin", 2, from_b("Deny"))
    assert verdict(passes) == ALL  # lower-precedence Admin Deny skipped; nothing else decides
    assert verdict(passes + DENY_ALL_INGRESS_A).is_empty()  # the NetworkPolicy tier decides


def test_admin_pass_without_networkpolicy_reaches_the_baseline_tier():
    """api-overview: "When the Pass action is matched at the Admin tier, NetworkPolicy will apply next or if
    there is no NetworkPolicy match, Baseline policies will be evaluated." """
    assert verdict(cnp("pass", "Admin", 1, from_b("Pass")) + cnp("base", "Baseline", 1, from_b("Deny"))).is_empty()


def test_baseline_pass_skips_the_rest_of_the_baseline_tier():
    """Pass in the Baseline tier skips its remaining rules; the next tier is the default (allow)."""
    assert verdict(cnp("pass", "Baseline", 1, from_b("Pass")) + cnp("deny", "Baseline", 2, from_b("Deny"))) == ALL


def test_egress_accept_still_needs_the_destination_ingress():
    """Egress Accept: "No further egress ClusterNetworkPolicy or NetworkPolicy rules will be processed but any
    ingress rules at the destination do apply." """
    egress = cnp("egress-acc", "Admin", 1, "  egress:\n  - {action: Accept, to: [{namespaces: {matchLabels: {house: a}}}]}",
                 "{namespaces: {matchLabels: {house: b}}}")
    egress_deny_b = """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: b}
spec: {podSelector: {}, policyTypes: [Egress]}
"""
    assert verdict(egress + egress_deny_b) == ALL
    assert verdict(egress + egress_deny_b + DENY_ALL_INGRESS_A).is_empty()


# ---------------------------------------------------------------------- subjects and peers
def test_subject_pods_namespace_selector_is_optional():
    """v1alpha2 NamespacedPod: namespaceSelector "+optional ... if empty, it selects all Namespaces";
    podSelector "+required"."""
    c = cnp("p", "Admin", 1, from_b("Deny"), "{pods: {podSelector: {matchLabels: {app: web}}}}")
    assert verdict(c).is_empty()
    with pytest.raises(InputError, match=r"Required value \(at spec.subject.pods.podSelector\)"):
        cluster_of(BASE + cnp("p", "Admin", 1, from_b("Deny"), "{pods: {namespaceSelector: {}}}"))


def test_subject_is_exactly_one_of_namespaces_or_pods():
    """ClusterNetworkPolicySubject: "Exactly one field must be set." (MinProperties=1, MaxProperties=1)"""
    with pytest.raises(InputError, match="exactly one of namespaces, pods"):
        cluster_of(BASE + cnp("p", "Admin", 1, from_b("Deny"),
                              "{namespaces: {}, pods: {podSelector: {}}}"))


def test_host_network_pods_are_neither_subjects_nor_peers():
    """"Note that host-networked pods are not included in subject selection." and for namespaces/pods
    peers: "Note that host-networked pods are not included in this type of peer." """
    body = "  ingress:\n  - {action: Deny, from: [{namespaces: {}}]}"
    m = matrix(BASE + cnp("all", "Admin", 1, body, "{namespaces: {}}"))
    assert conns(m, "b/agent", "a/web") == ALL  # the hostNetwork source is not a namespaces peer
    assert conns(m, "a/web", "b/agent") == ALL  # nor a subject
    assert conns(m, "b/cli", "a/web").is_empty()


def test_ingress_peers_are_only_namespaces_or_pods():
    """ClusterNetworkPolicyIngressPeer has only namespaces and pods."""
    with pytest.raises(InputError, match="not allowed in an ingress peer"):
        cluster_of(BASE + cnp("p", "Admin", 1, "  ingress:\n  - {action: Deny, from: [{networks: [10.0.0.0/8]}]}"))


def test_networks_peer_matches_outside_addresses_and_pod_ips():
    """Networks: "This is intended for representing entities that live outside the cluster ... but note that
    cluster-internal traffic will be checked against the rule as well." """
    body = "  egress:\n  - {action: Deny, to: [{networks: [192.0.2.0/24]}]}"
    m = matrix(BASE + cnp("n", "Admin", 1, body, "{namespaces: {matchLabels: {house: a}}}"))
    assert conns(m, "a/web", external_for(m, "192.0.2.9")).is_empty()
    assert conns(m, "a/web", external_for(m, "198.51.100.1")) == ALL
    assert conns(m, "a/web", "b/agent").is_empty()  # the hostNetwork pod's address (192.0.2.7) is in it


def test_nodes_and_domain_names_are_not_evaluated_and_marked_uncertain():
    """Nodes "selects the nodeIPs"; DomainNames match what names resolve to: neither is known offline. They
    match nothing here, with a warning, and the verdicts they could decide are uncertain (never a silent allow)."""
    body = ("  egress:\n  - {action: Accept, to: [{domainNames: ['*.example.com']}]}\n"
            "  - {action: Deny, to: [{nodes: {}}]}\n  - {action: Deny, to: [{networks: [0.0.0.0/0]}]}")
    a = analyzer(BASE + cnp("n", "Admin", 1, body))
    assert any("domainNames" in n for n in a.cluster.notes) and any("`nodes`" in n for n in a.cluster.notes)
    m = a.matrix()
    outside = external_for(m, "203.0.113.1")
    assert conns(m, "a/web", outside).is_empty()  # not silently allowed ...
    web = a.cluster.workload("a/web")
    atom = a.atom_for("203.0.113.1")
    e = explain_pair(a, web, atom)
    assert e.verdicts[0].uncertain and any(r.kind == "UNEVALUATED" for r in e.egress)  # ... but uncertain


@pytest.mark.parametrize("peer", ["{networks: [10.0.0.0/8]}", "{domainNames: [example.com]}", "{nodes: {}}"])
def test_named_ports_cannot_go_with_address_peers(peer):
    """CRD CEL rule: "networks/nodes/domainNames peer cannot be set with namedPorts since there are no
    namedPorts for networks/nodes/domainNames"."""
    body = f"  egress:\n  - {{action: Deny, to: [{peer}], protocols: [{{destinationNamedPort: http}}]}}"
    with pytest.raises(InputError, match="cannot be set with namedPorts"):
        cluster_of(BASE + cnp("p", "Admin", 1, body))


def test_a_peer_of_an_unknown_type_fails_closed():
    """Peers: "If an implementation sees no fields are set then ... it should fail closed. For "Accept" rules,
    "fail closed" means: "treat the rule as matching no traffic". For "Deny" and "Pass" rules, "fail closed"
    means: "treat the rule as a 'Deny all' rule"." """
    unknown = "[{services: {name: x}}]"
    acc = cnp("acc", "Admin", 1, f"  ingress:\n  - {{action: Accept, from: {unknown}}}") + DENY_ALL_INGRESS_A
    assert verdict(acc).is_empty()  # the Accept matches nothing: the NetworkPolicy still denies
    passing = cnp("pass", "Admin", 1, f"  ingress:\n  - {{action: Pass, from: {unknown}}}") + ALLOW_ALL_INGRESS_A
    assert verdict(passing).is_empty()  # the Pass became "Deny all"
    assert any("fails closed" in n for n in cluster_of(BASE + passing).notes)


# ---------------------------------------------------------------------- protocols
def test_protocols_ports_ranges_and_named_ports():
    """Protocols: TCP, UDP or SCTP with a destinationPort of a number or a range, or destinationNamedPort
    ("selects a destination port on a pod based on the ContainerPort name")."""
    body = ("  ingress:\n  - {action: Accept, from: [{namespaces: {matchLabels: {house: b}}}], protocols: ["
            "{tcp: {destinationPort: {number: 80}}}, {udp: {destinationPort: {range: {start: 1000, end: 1010}}}}, "
            "{destinationNamedPort: dns}]}")
    assert verdict(cnp("p", "Admin", 1, body) + DENY_ALL_INGRESS_A) == tcp(80) | udp(1000, 1010) | udp(53)


def test_no_protocols_means_every_port():
    """Protocols: "If unspecified, protocol-specific attributes will not be used to match traffic." """
    assert verdict(cnp("p", "Admin", 1, from_b("Accept")) + DENY_ALL_INGRESS_A) == ALL


@pytest.mark.parametrize("proto,message", [
    ("{tcp: {destinationPort: {range: {start: 10, end: 10}}}}", "Start port must be less than End port"),
    ("{tcp: {}}", "destinationPort"),
    ("{tcp: {destinationPort: {number: 0}}}", "between 1 and 65535"),
    ("{tcp: {destinationPort: {number: 80}}, udp: {destinationPort: {number: 53}}}", "exactly one of"),
])
def test_protocol_validation(proto, message):
    """PortRange: "self.start < self.end"; the protocol's attributes have MinProperties=1; Number is 1..65535;
    a protocol sets exactly one field."""
    with pytest.raises(InputError, match=message):
        cluster_of(BASE + cnp("p", "Admin", 1, from_b("Deny", f", protocols: [{proto}]")))


# ---------------------------------------------------------------------- validation of the spec
@pytest.mark.parametrize("tier,priority,message", [
    ("Middle", 1, 'supported values: "Admin", "Baseline"'),
    ("Admin", 1001, "between 0 and 1000"),
    ("Admin", -1, "between 0 and 1000"),
])
def test_tier_and_priority_are_validated(tier, priority, message):
    """Tier: Enum={"Admin", "Baseline"}; Priority: Minimum=0, Maximum=1000."""
    with pytest.raises(InputError, match=message):
        cluster_of(BASE + cnp("p", tier, priority, from_b("Deny")))


def test_at_most_25_rules_and_actions_are_accept_deny_pass():
    """Ingress/Egress: MaxItems=25; Action: Enum={"Accept", "Deny", "Pass"} (v1alpha1's Allow is not one)."""
    many = "  ingress:\n" + "".join("  - {action: Deny, from: [{namespaces: {}}]}\n" for _ in range(26))
    with pytest.raises(InputError, match="at most 25"):
        cluster_of(BASE + cnp("p", "Admin", 1, many))
    with pytest.raises(InputError, match="Unsupported value: 'Allow'"):
        cluster_of(BASE + cnp("p", "Admin", 1, from_b("Allow")))


def test_several_baseline_policies_are_ordered_by_priority():
    """Unlike the v1alpha1 singleton BANP, the Baseline tier holds any number of policies, by priority."""
    two = cnp("b1", "Baseline", 5, from_b("Accept")) + cnp("b2", "Baseline", 9, from_b("Deny"))
    assert verdict(two) == ALL


def test_v1alpha1_admin_policies_still_work_and_are_reported_deprecated():
    """network-policy-api v0.2.0 replaced AdminNetworkPolicy/BaselineAdminNetworkPolicy by ClusterNetworkPolicy."""
    old = """
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: old}
spec:
  priority: 1
  subject: {namespaces: {matchLabels: {house: a}}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {house: b}}}]}]
"""
    assert verdict(old).is_empty()
    assert any(n.startswith("deprecated: AdminNetworkPolicy") for n in cluster_of(BASE + old).notes)


# ---------------------------------------------------------------------- the documentation's examples
STORY = """
apiVersion: v1
kind: Namespace
metadata: {name: sensitive-ns}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring-ns}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: bar-ns-1}
---
apiVersion: v1
kind: Namespace
metadata: {name: foo-ns-1}
---
apiVersion: v1
kind: Pod
metadata: {name: vault, namespace: sensitive-ns, labels: {app: vault}}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: prometheus, namespace: monitoring-ns, labels: {app: prometheus}}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {app: kube-dns}}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: svc-pub, namespace: bar-ns-1, labels: {app: svc-pub}}
spec: {containers: [{name: c, ports: [{name: web-alt, containerPort: 8081}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: foo-ns-1, labels: {app: client}}
spec: {containers: [{name: c}]}
"""

STORY_1 = """
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: cluster-wide-deny-example
spec:
  tier: Admin
  priority: 10
  subject:
    namespaces:
      matchLabels:
        kubernetes.io/metadata.name: sensitive-ns
  ingress:
    - action: Deny
      from:
      - namespaces:
          matchLabels: {} # Match all namespaces.
      name: select-all-deny-all
"""

STORY_2 = """
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: cluster-wide-allow-example
spec:
  tier: Admin
  priority: 30
  subject:
    namespaces: {}
  ingress:
    - action: Accept
      name: allow-monitoring-ns-ingress
      from:
      - namespaces:
          matchLabels:
            kubernetes.io/metadata.name: monitoring-ns
  egress:
  - action: Accept
    name: allow-kube-dns-egress
    to:
    - pods:
        namespaceSelector:
          matchLabels:
            kubernetes.io/metadata.name: kube-system
        podSelector:
          matchLabels:
            app: kube-dns
"""

STORY_3 = """
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: pub-svc-delegate-example
spec:
  tier: Admin
  priority: 20
  subject:
    namespaces: {}
  egress:
  - action: Pass # to be handled by NetworkPolicy.
    to:
    - pods:
        namespaceSelector:
          matchLabels:
            kubernetes.io/metadata.name: bar-ns-1
        podSelector:
          matchLabels:
            app: svc-pub
    protocols:
    - tcp:
        destinationPort:
          number: 8080
    - destinationNamedPort: "web-alt"
    - udp:
        destinationPort:
          number: 53
"""

STORY_5 = """
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: default
spec:
  tier: Baseline
  priority: 10
  subject:
    namespaces: {}
  ingress:
    - action: Deny   # zero-trust cluster default security posture
      from:
      - namespaces: {}
"""

ISOLATE_EVERYTHING = "".join(f"""
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: deny-all, namespace: {ns}}}
spec: {{podSelector: {{}}, policyTypes: [Ingress, Egress]}}
""" for ns in ("sensitive-ns", "monitoring-ns", "kube-system", "bar-ns-1", "foo-ns-1"))


def test_story_1_deny_traffic_at_a_cluster_level():
    """Story 1: the Admin CNP "applied to the sensitive-ns denying ingress from all other in-cluster resources
    for all ports and protocols" (non-overridable)."""
    allow_all = """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: sensitive-ns}
spec: {podSelector: {}, ingress: [{}]}
"""
    m = matrix(STORY + STORY_1 + allow_all)
    for src in ("monitoring-ns/prometheus", "foo-ns-1/client", "kube-system/coredns"):
        assert conns(m, src, "sensitive-ns/vault").is_empty()
    assert conns(m, "sensitive-ns/vault", "foo-ns-1/client") == ALL  # egress is not touched


def test_story_2_allow_traffic_at_a_cluster_level():
    """Story 2: "allowing egress traffic to kube-dns pods, and ingress traffic from pods in monitoring-ns for
    all ports and protocols", non-overridable by NetworkPolicies."""
    m = matrix(STORY + STORY_2 + ISOLATE_EVERYTHING)
    assert conns(m, "foo-ns-1/client", "kube-system/coredns").is_empty()  # coredns' own ingress still isolates
    m = matrix(STORY + STORY_2 + ISOLATE_EVERYTHING.replace("[Ingress, Egress]", "[Egress]"))
    assert conns(m, "foo-ns-1/client", "kube-system/coredns") == ALL
    assert conns(m, "foo-ns-1/client", "bar-ns-1/svc-pub").is_empty()
    m = matrix(STORY + STORY_2 + ISOLATE_EVERYTHING.replace("[Ingress, Egress]", "[Ingress]"))
    assert conns(m, "monitoring-ns/prometheus", "foo-ns-1/client") == ALL
    assert conns(m, "bar-ns-1/svc-pub", "foo-ns-1/client").is_empty()


def test_story_3_delegate_to_networkpolicy():
    """Story 3: egress to svc-pub "on TCP port 8080, the named port web-alt and UDP port 53 is delegated to the
    k8s network policies ... If no k8s network policies match the delegated traffic, the traffic will be
    allowed." A lower-precedence Admin Deny is skipped for those ports only."""
    deny_rest = """
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: deny-later}
spec:
  tier: Admin
  priority: 90
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: bar-ns-1}}}]}]
"""
    m = matrix(STORY + STORY_3 + deny_rest)
    assert conns(m, "foo-ns-1/client", "bar-ns-1/svc-pub") == tcp(8080) | tcp(8081) | udp(53)
    m = matrix(STORY + STORY_3)
    assert conns(m, "foo-ns-1/client", "bar-ns-1/svc-pub") == ALL


def test_story_5_cluster_wide_default_guardrails():
    """Story 5: "all Ingress traffic to every cluster resource is denied by a baseline deny rule"; "Namespace
    owners will need to use NetworkPolicies to explicitly allow known traffic"."""
    m = matrix(STORY + STORY_5)
    assert conns(m, "foo-ns-1/client", "bar-ns-1/svc-pub").is_empty()
    allow = """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client, namespace: bar-ns-1}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: foo-ns-1}}}]}]
"""
    m = matrix(STORY + STORY_5 + allow)
    assert conns(m, "foo-ns-1/client", "bar-ns-1/svc-pub") == ALL
    assert conns(m, "monitoring-ns/prometheus", "bar-ns-1/svc-pub").is_empty()


def test_unknown_fields_are_refused_as_kubectl_strict_validation_does():
    """Strict decoding (issue 24) applies to ClusterNetworkPolicy too: a misspelt field is an error, except in
    a peer, where the API says an unknown field means a newer CRD and the peer fails closed."""
    with pytest.raises(InputError, match='unknown field "protocol"'):
        cluster_of(BASE + cnp("p", "Admin", 1, from_b("Deny", ", protocol: [{tcp: {destinationPort: {number: 1}}}]")))
