"""Isolation, policyTypes defaulting, rule presence and the combination of policies.

Citations:
- [API-PT] Kubernetes API reference, NetworkPolicySpec.policyTypes: "If this field is not specified, it
  will default based on the existence of ingress or egress rules; policies that contain an egress
  section are assumed to affect egress, and all policies (whether or not they contain an ingress
  section) are assumed to affect ingress." pkg/apis/networking/v1/defaults.go: Egress is added only
  when len(spec.egress) != 0, so ``egress: []`` defaults to Ingress only.
- [API-Ingress] NetworkPolicySpec.ingress: "If this field is empty then this NetworkPolicy does not
  allow any traffic (and serves solely to ensure that the pods it selects are isolated by default)".
  Same for egress [API-Egress].
- [API-From] NetworkPolicyIngressRule.from: "If this field is empty or missing, this rule matches all
  sources"; NetworkPolicyEgressRule.to likewise for destinations.
- [Concepts-Iso] Concepts page "Network Policies", "The two sorts of pod isolation": a pod is isolated
  for ingress (egress) when any policy that selects it has Ingress (Egress) in policyTypes; isolation
  is per direction; a non-isolated direction allows everything.
- [Concepts-Add] same page: "Network policies do not conflict; they are additive ... the union of
  those policies' ingress/egress rules".
- [Concepts-Both] same page: "For a connection from a source pod to a destination pod to be allowed,
  both the egress policy on the source pod and the ingress policy on the destination pod need to
  allow the connection."
"""

from __future__ import annotations

from kubectl_microseg.model.policy import parse_network_policy

from .util import ALL, NONE, analyzer, conns, external_for, matrix, netpol, pod, tcp, udp

A_B = pod("a") + pod("b") + pod("c")


def pol(spec: str, name: str = "p") -> str:
    return netpol(name, spec)


def raw_policy(spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": "default"}, "spec": spec}


def test_policy_types_default_ingress_only_without_egress_rules():
    """[API-PT] no policyTypes and no egress section: Ingress only."""
    p = parse_network_policy(raw_policy({"podSelector": {}}))
    assert p.policy_types == {"Ingress"}


def test_policy_types_default_adds_egress_when_egress_rules_exist():
    """[API-PT] an egress section with rules: Ingress and Egress."""
    p = parse_network_policy(raw_policy({"podSelector": {}, "egress": [{}]}))
    assert p.policy_types == {"Ingress", "Egress"}


def test_policy_types_default_empty_egress_list_is_ingress_only():
    """[API-PT] defaults.go: ``egress: []`` has length 0, so the default is Ingress only."""
    p = parse_network_policy(raw_policy({"podSelector": {}, "egress": []}))
    assert p.policy_types == {"Ingress"}
    m = matrix(A_B + pol("podSelector: {matchLabels: {app: a}}\negress: []"))
    assert conns(m, "default/a", "default/b") == ALL  # egress not isolated
    assert not conns(m, "default/b", "default/a")  # ingress isolated, nothing allowed


def test_missing_pod_selector_or_spec_selects_every_pod_with_a_warning():
    """kubernetes/kubernetes#131354: spec.podSelector is optional; when omitted it is the empty selector,
    every pod of the namespace (spec itself is a non-pointer struct: a policy without spec is
    ``podSelector: {}`` with policyTypes defaulted to Ingress, a default deny of ingress)."""
    p = parse_network_policy(raw_policy({"policyTypes": ["Ingress"]}))
    assert p.pod_selector.matches({}) and any("no spec.podSelector" in w for w in p.warnings)
    bare = {k: v for k, v in raw_policy({}).items() if k != "spec"}
    q = parse_network_policy(bare)
    assert q.policy_types == {"Ingress"} and q.pod_selector.matches({"app": "x"})
    assert any("has no spec" in w for w in q.warnings)
    m = matrix(A_B + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: nospec}\n")
    assert not conns(m, "default/a", "default/b") and not conns(m, "default/c", "default/a")


def test_policy_types_empty_list_is_defaulted():
    """[API-PT] defaults.go: len(policyTypes) == 0 is defaulted like a missing field."""
    p = parse_network_policy(raw_policy({"podSelector": {}, "policyTypes": [], "egress": [{}]}))
    assert p.policy_types == {"Ingress", "Egress"}


def test_egress_only_policy_leaves_ingress_open():
    """[Concepts-Iso] isolation is per direction: policyTypes [Egress] does not isolate ingress."""
    m = matrix(A_B + pol("podSelector: {matchLabels: {app: a}}\npolicyTypes: [Egress]"))
    assert conns(m, "default/b", "default/a") == ALL
    assert not conns(m, "default/a", "default/b")
    assert not conns(m, "default/a", external_for(m, "8.8.8.8"))
    assert conns(m, external_for(m, "8.8.8.8"), "default/a") == ALL


def test_ingress_rules_without_ingress_policy_type_have_no_effect():
    """[API-PT] explicit policyTypes [Egress]: ingress rules are present but the policy does not
    affect ingress, so they neither isolate nor allow."""
    m = matrix(A_B + pol("podSelector: {matchLabels: {app: a}}\npolicyTypes: [Egress]\n"
                         "ingress:\n- from: [{podSelector: {matchLabels: {app: b}}}]\negress: [{}]"))
    assert conns(m, "default/c", "default/a") == ALL
    assert conns(m, "default/a", "default/c") == ALL


def test_missing_from_allows_all_sources():
    """[API-From] a rule without ``from`` matches all sources (pods and outside addresses)."""
    m = matrix(A_B + pol("podSelector: {matchLabels: {app: a}}\ningress:\n- ports: [{port: 80}]"))
    assert conns(m, "default/b", "default/a") == tcp(80)
    assert conns(m, external_for(m, "1.2.3.4"), "default/a") == tcp(80)
    assert conns(m, external_for(m, "2001:db8::1"), "default/a") == tcp(80)


def test_empty_from_list_allows_all_sources():
    """[API-From] ``from: []`` (empty) is the same as a missing ``from``."""
    m = matrix(A_B + pol("podSelector: {matchLabels: {app: a}}\ningress:\n- from: []\n  ports: [{port: 80}]"))
    assert conns(m, "default/b", "default/a") == tcp(80)
    assert conns(m, external_for(m, "1.2.3.4"), "default/a") == tcp(80)


def test_empty_to_list_allows_all_destinations():
    """[API-From] (egress) ``to: []`` and a missing ``to`` match all destinations."""
    for rule in ("- to: []\n  ports: [{port: 53, protocol: UDP}]", "- ports: [{port: 53, protocol: UDP}]"):
        m = matrix(A_B + pol(f"podSelector: {{matchLabels: {{app: a}}}}\nPolicyTypes: [Egress]\negress:\n{rule}"
                             .replace("PolicyTypes", "policyTypes")))
        assert conns(m, "default/a", "default/b") == udp(53)
        assert conns(m, "default/a", external_for(m, "8.8.8.8")) == udp(53)


def test_empty_rule_allows_everything():
    """[API-From] + ports "If this field is empty or missing, this rule matches all ports": ``- {}``."""
    m = matrix(A_B + pol("podSelector: {matchLabels: {app: a}}\ningress:\n- {}"))
    assert conns(m, "default/b", "default/a") == ALL
    assert conns(m, external_for(m, "1.2.3.4"), "default/a") == ALL


def test_empty_ingress_list_isolates_and_allows_nothing():
    """[API-Ingress] ``ingress: []``: selected pods are isolated and nothing is allowed."""
    m = matrix(A_B + pol("podSelector: {matchLabels: {app: a}}\ningress: []"))
    for src in ("default/b", "default/c", "default/a", external_for(m, "1.2.3.4")):
        assert not conns(m, src, "default/a"), src
    assert conns(m, "default/a", "default/b") == ALL  # egress untouched


def test_empty_egress_with_policy_type_isolates_egress():
    """[API-Egress] ``policyTypes: [Egress]`` and no egress rules: nothing leaves the pod."""
    m = matrix(A_B + pol("podSelector: {matchLabels: {app: a}}\npolicyTypes: [Egress]\negress: []"))
    for dst in ("default/b", "default/a", external_for(m, "1.2.3.4"), external_for(m, "::1")):
        assert not conns(m, "default/a", dst), dst


def test_non_selected_pods_are_not_isolated():
    """[Concepts-Iso] a pod no policy selects allows everything in both directions."""
    m = matrix(A_B + pol("podSelector: {matchLabels: {app: a}}\npolicyTypes: [Ingress, Egress]"))
    assert conns(m, "default/b", "default/c") == ALL
    assert conns(m, external_for(m, "1.1.1.1"), "default/c") == ALL


def test_policies_are_additive_union():
    """[Concepts-Add] two policies selecting the same pod: the union of their rules."""
    m = matrix(A_B
               + pol("podSelector: {matchLabels: {app: a}}\ningress:\n- from: [{podSelector: {matchLabels: {app: b}}}]\n"
                     "  ports: [{port: 80}]", "p1")
               + pol("podSelector: {}\ningress:\n- from: [{podSelector: {matchLabels: {app: b}}}]\n"
                     "  ports: [{port: 443}]\n- from: [{podSelector: {matchLabels: {app: c}}}]\n  ports: [{port: 22}]", "p2"))
    assert conns(m, "default/b", "default/a") == tcp(80) | tcp(443)
    assert conns(m, "default/c", "default/a") == tcp(22)


def test_a_deny_policy_does_not_subtract_from_an_allow_policy():
    """[Concepts-Add] a default-deny policy next to an allow policy changes nothing for the allowed flow."""
    allow = pol("podSelector: {matchLabels: {app: a}}\ningress:\n- from: [{podSelector: {matchLabels: {app: b}}}]", "allow")
    m = matrix(A_B + allow + pol("podSelector: {}\npolicyTypes: [Ingress, Egress]", "deny-all"))
    # b's egress is isolated by deny-all, so b -> a is denied by the egress side
    assert not conns(m, "default/b", "default/a")
    m2 = matrix(A_B + allow + pol("podSelector: {}\npolicyTypes: [Ingress]", "deny-in"))
    assert conns(m2, "default/b", "default/a") == ALL


def test_connection_needs_egress_and_ingress():
    """[Concepts-Both] both the source's egress and the destination's ingress must allow it; the
    allowed ports are the intersection."""
    ing = pol("podSelector: {matchLabels: {app: b}}\ningress:\n- from: [{podSelector: {matchLabels: {app: a}}}]\n"
              "  ports: [{port: 80}, {port: 443}]", "in")
    eg = pol("podSelector: {matchLabels: {app: a}}\npolicyTypes: [Egress]\negress:\n"
             "- to: [{podSelector: {matchLabels: {app: b}}}]\n  ports: [{port: 443}, {port: 8443}]", "out")
    m = matrix(A_B + ing + eg)
    assert conns(m, "default/a", "default/b") == tcp(443)
    m_in = matrix(A_B + ing)
    assert conns(m_in, "default/a", "default/b") == tcp(80) | tcp(443)
    m_out = matrix(A_B + eg)
    assert conns(m_out, "default/a", "default/b") == tcp(443) | tcp(8443)
    assert not conns(m_out, "default/a", "default/c")


def test_self_pair_follows_the_same_rules():
    """[Concepts-Both] a pod talking to itself (or a pod of its own workload) is an ordinary flow;
    the contract lists self pairs like any other pair."""
    m = matrix(A_B + pol("podSelector: {matchLabels: {app: a}}\ningress: []"))
    assert not conns(m, "default/a", "default/a")
    assert conns(m, "default/b", "default/b") == ALL


def test_verdict_reasons_name_policy_and_rule():
    """explain: the verdict's reasons name the policy and the 1-based rule that allowed the flow."""
    an = analyzer(A_B + pol("podSelector: {matchLabels: {app: a}}\ningress:\n- from: [{podSelector: {matchLabels: {app: c}}}]\n"
                            "- from: [{podSelector: {matchLabels: {app: b}}}]\n  ports: [{port: 80}]"))
    cls = {w.id: an.workload_classes[w.id][0] for w in an.cluster.workloads}
    v = an.verdict_classes(cls["default/b"], cls["default/a"], "default/b", "default/a")
    assert v.allowed == tcp(80)
    assert [r.short() for r in v.ingress.reasons] == ["default/p ingress rule 2"]
    assert v.ingress.isolated and not v.egress.isolated
    v2 = an.verdict_classes(cls["default/a"], cls["default/b"], "default/a", "default/b")
    assert v2.allowed == ALL and v2.egress.reasons[0].kind == "NOT_ISOLATED"
    an2 = analyzer(A_B + pol("podSelector: {matchLabels: {app: a}}\ningress: []"))
    cls2 = {w.id: an2.workload_classes[w.id][0] for w in an2.cluster.workloads}
    v3 = an2.verdict_classes(cls2["default/b"], cls2["default/a"], "default/b", "default/a")
    assert v3.allowed == NONE and v3.ingress.reasons[0].kind == "SELECTED_NO_RULES"
