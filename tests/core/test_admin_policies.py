"""AdminNetworkPolicy / BaselineAdminNetworkPolicy semantics (network-policy-api v1alpha1, API overview).

Each test states the rule of the API it checks. Clusters are built from inline YAML.
"""

from __future__ import annotations

import pytest
import yaml

from kubectl_microseg.engine.explain import explain_pair
from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.errors import InputError
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
"""


def analyzer(extra: str) -> Analyzer:
    docs = [d for d in yaml.safe_load_all(BASE + "\n---\n" + extra) if d]
    return Analyzer(build_cluster(SourceObject(d) for d in docs))


def allowed(a: Analyzer, src: str, dst: str) -> ConnSet:
    return a.matrix(external=False).get(src, dst)


def anp(name: str, priority: int, subject: str, direction: str, rules: str) -> str:
    return f"""
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: {name}}}
spec:
  priority: {priority}
  subject: {subject}
  {direction}:
{rules}
"""


TO_A = "{namespaces: {matchLabels: {house: a}}}"
FROM_B = "[{namespaces: {matchLabels: {house: b}}}]"


def test_anp_deny_overrides_a_networkpolicy_allow():
    """ANP rules are evaluated before NetworkPolicies; a Deny cannot be re-allowed by a NetworkPolicy."""
    a = analyzer(anp("deny-b", 10, TO_A, "ingress", f"  - {{name: d, action: Deny, from: {FROM_B}}}") + """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: a}
spec: {podSelector: {}, ingress: [{}]}
""")
    assert allowed(a, "b/cli", "a/web").is_empty()


def test_anp_allow_overrides_networkpolicy_isolation():
    """An ANP Allow is final: it admits traffic a NetworkPolicy default-deny would drop."""
    a = analyzer(anp("allow-b", 10, TO_A, "ingress", f"  - {{name: ok, action: Allow, from: {FROM_B}, ports: [{{portNumber: {{port: 8080}}}}]}}") + """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: a}
spec: {podSelector: {}, policyTypes: [Ingress]}
""")
    assert allowed(a, "b/cli", "a/web") == ConnSet.ports("TCP", 8080)


def test_pass_delegates_to_networkpolicy_and_shields_from_lower_priority_anps():
    """Pass hands the ports to the NetworkPolicy layer; ANPs of lower precedence no longer see them."""
    pas = anp("pass-b", 5, TO_A, "ingress", f"  - {{name: p, action: Pass, from: {FROM_B}}}")
    deny = anp("deny-b", 20, TO_A, "ingress", f"  - {{name: d, action: Deny, from: {FROM_B}}}")
    np = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-80, namespace: a}
spec: {podSelector: {}, ingress: [{ports: [{port: 80}]}]}
"""
    a = analyzer(pas + "\n---\n" + deny + "\n---\n" + np)
    assert allowed(a, "b/cli", "a/web") == ConnSet.ports("TCP", 80)


def test_lower_priority_number_wins():
    """"A lower priority number takes precedence": priority 1 Allow beats priority 2 Deny."""
    allow = anp("first", 1, TO_A, "ingress", f"  - {{name: x, action: Allow, from: {FROM_B}}}")
    deny = anp("second", 2, TO_A, "ingress", f"  - {{name: y, action: Deny, from: {FROM_B}}}")
    assert allowed(analyzer(deny + "\n---\n" + allow), "b/cli", "a/web").is_all()
    deny0 = anp("zeroth", 0, TO_A, "ingress", f"  - {{name: z, action: Deny, from: {FROM_B}}}")
    assert allowed(analyzer(deny + "\n---\n" + allow + "\n---\n" + deny0), "b/cli", "a/web").is_empty()


def test_first_matching_rule_in_a_policy_decides_per_port():
    """Within one policy the first rule that matches decides; later rules only see the other ports."""
    rules = (f"  - {{name: d80, action: Deny, from: {FROM_B}, ports: [{{portNumber: {{protocol: TCP, port: 80}}}}]}}\n"
             f"  - {{name: all, action: Allow, from: {FROM_B}}}")
    a = analyzer(anp("p", 3, TO_A, "ingress", rules))
    assert allowed(a, "b/cli", "a/web") == ConnSet.all() - ConnSet.ports("TCP", 80)


def test_same_priority_is_reported():
    """Two ANPs with one priority: the API leaves the order undefined; the tool says so."""
    x = anp("x", 7, TO_A, "ingress", f"  - {{name: x, action: Allow, from: {FROM_B}}}")
    y = anp("y", 7, TO_A, "ingress", f"  - {{name: y, action: Deny, from: {FROM_B}}}")
    a = analyzer(x + "\n---\n" + y)
    assert any("same priority" in n for n in a.cluster.notes)


def test_banp_applies_only_where_no_networkpolicy_isolates():
    """The baseline decides only traffic no NetworkPolicy isolates; unmatched traffic is allowed."""
    banp = f"""
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {{name: default}}
spec:
  subject: {{namespaces: {{}}}}
  ingress:
  - {{name: deny-b, action: Deny, from: {FROM_B}}}
"""
    a = analyzer(banp)
    assert allowed(a, "b/cli", "a/web").is_empty()
    assert allowed(a, "a/web", "b/cli").is_all()  # no BANP rule matches: allowed by default
    np = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-8080, namespace: a}
spec: {podSelector: {}, ingress: [{ports: [{port: 8080}]}]}
"""
    a2 = analyzer(banp + "\n---\n" + np)
    assert allowed(a2, "b/cli", "a/web") == ConnSet.ports("TCP", 8080)  # NP isolates: BANP not consulted


def test_named_port_resolves_on_destination_with_container_protocol():
    """namedPort selects the destination pod's container port by name; its protocol is the container's."""
    a = analyzer(anp("n", 1, TO_A, "ingress", f"  - {{name: dns, action: Deny, from: {FROM_B}, ports: [{{namedPort: dns}}]}}"))
    assert allowed(a, "b/cli", "a/web") == ConnSet.all() - ConnSet.ports("UDP", 53)
    a2 = analyzer(anp("n", 1, TO_A, "ingress", f"  - {{name: none, action: Deny, from: {FROM_B}, ports: [{{namedPort: nope}}]}}"))
    assert allowed(a2, "b/cli", "a/web").is_all()  # an unknown name matches nothing


def test_egress_networks_peer_selects_outside_addresses():
    """An egress ``networks`` peer selects CIDRs outside the cluster."""
    rules = "  - {name: meta, action: Deny, to: [{networks: [169.254.169.254/32]}]}"
    a = analyzer(anp("m", 1, TO_A, "egress", rules))
    atom = a.atom_for("169.254.169.254")
    web = a.cluster.workload("a/web")
    e = explain_pair(a, web, atom)
    assert e.allowed.is_empty()
    assert "deny" in [r.effect for r in e.deciding("TCP", 80)]
    other = explain_pair(a, web, a.atom_for("1.1.1.1"))
    assert other.allowed.is_all()


PODS_WITH_IPS = """
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: b, labels: {app: db}}
spec: {containers: [{name: c}]}
status: {podIP: 10.244.1.5, podIPs: [{ip: 10.244.1.5}]}
---
apiVersion: v1
kind: Pod
metadata: {name: office, namespace: b, labels: {app: office}}
spec: {containers: [{name: c}]}
status: {podIP: 192.168.7.5, podIPs: [{ip: 192.168.7.5}]}
"""


def test_egress_networks_peer_also_matches_pods_by_their_ips():
    """network-policy-api: networks peers are for outside entities, "but note that cluster-internal traffic
    will be checked against the rule as well": a pod whose IP lies in the CIDR is matched; one outside it is
    not, nor one whose IP the input does not give (taken to be outside every CIDR short of all of IPv4)."""
    rules = "  - {name: no-10, action: Deny, to: [{networks: [10.0.0.0/8]}]}"
    a = analyzer(anp("n", 1, TO_A, "egress", rules) + PODS_WITH_IPS)
    assert allowed(a, "a/web", "b/db").is_empty()
    assert allowed(a, "a/web", "b/office").is_all()
    assert allowed(a, "a/web", "b/cli").is_all()  # a template: no IP known
    assert any("also match pods by their IPs" in n for n in a.cluster.notes)
    e = explain_pair(a, a.cluster.workload("a/web"), a.cluster.workload("b/db"))
    assert [r.short() for r in e.deciding("TCP", 80)] == ["[ANP] n egress rule 1 'no-10' (Deny)"]


def test_networks_covering_all_of_ipv4_match_every_pod():
    """"if you Allow or Deny traffic to 0.0.0.0/0, that will allow or deny all IPv4 pod-to-pod traffic as
    well": pods with and without a known IP alike."""
    rules = "  - {name: none, action: Deny, to: [{networks: [0.0.0.0/0]}]}"
    a = analyzer(anp("all", 1, TO_A, "egress", rules) + PODS_WITH_IPS)
    for dst in ("b/db", "b/office", "b/cli", "a/web"):
        assert allowed(a, "a/web", dst).is_empty(), dst
    assert allowed(a, "b/cli", "a/web").is_all()  # b is not the subject


def test_a_baseline_networks_deny_cuts_pod_traffic_unless_pods_are_allowed_first():
    """The trap the API warns of: a BANP denying private ranges also denies pods in them; an Allow of
    the pods before it (as the demo's BANP does) keeps pod-to-pod traffic open."""
    banp = """
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  egress:
%s  - {name: private, action: Deny, to: [{networks: [10.0.0.0/8]}]}
"""
    assert allowed(analyzer(banp % "" + PODS_WITH_IPS), "a/web", "b/db").is_empty()
    first = "  - {name: pods, action: Allow, to: [{namespaces: {}}]}\n"
    assert allowed(analyzer(banp % first + PODS_WITH_IPS), "a/web", "b/db").is_all()


def test_nodes_peers_are_reported_as_not_evaluated():
    a = analyzer(anp("nodes", 1, TO_A, "egress", "  - {name: n, action: Deny, to: [{nodes: {}}]}"))
    assert any("`nodes` peers are not evaluated" in n for n in a.cluster.notes)
    assert allowed(a, "a/web", "b/cli").is_all()


def test_explain_shows_the_chain_anp_then_networkpolicy():
    pas = anp("pass-b", 5, TO_A, "ingress", f"  - {{name: p, action: Pass, from: {FROM_B}}}")
    np = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-80, namespace: a}
spec: {podSelector: {}, ingress: [{ports: [{port: 80}]}]}
"""
    a = analyzer(pas + "\n---\n" + np)
    e = explain_pair(a, a.cluster.workload("b/cli"), a.cluster.workload("a/web"))
    kinds = [r.kind for r in e.ingress]
    assert kinds == ["ANP_PASS", "ALLOWED_BY_RULE"]
    deciding = [r.short() for r in e.deciding("TCP", 80) if r.direction == "ingress"]
    assert deciding == ["a/only-80 ingress rule 1"]  # the Pass itself allows nothing
    assert e.ingress[0].short() == "[ANP] pass-b ingress rule 1 'p' (Pass)"


@pytest.mark.parametrize("spec, message", [
    ("{priority: 1001, subject: {namespaces: {}}}", "between 0 and 1000"),
    ("{priority: 1, subject: {}}", "exactly one of namespaces, pods"),
    ("{priority: 1, subject: {namespaces: {}}, ingress: [{action: Maybe, from: [{namespaces: {}}]}]}", "Unsupported value"),
    ("{priority: 1, subject: {namespaces: {}}, ingress: [{action: Allow, from: []}]}", "at least 1 item"),
    ("{priority: 1, subject: {namespaces: {}}, ingress: [{action: Allow, from: [{networks: [10.0.0.0/8]}]}]}", "unknown field"),
    ("{priority: 1, subject: {namespaces: {}}, egress: [{action: Allow, to: [{networks: [10.0.0.0]}]}]}", "valid CIDR"),
    ("{priority: 1, subject: {namespaces: {}}, egress: [{action: Allow, to: [{namespaces: {}}], ports: [{portRange: {start: 90, end: 80}}]}]}", "greater than or equal"),
    ("{priority: 1, subject: {namespaces: {}}, egress: [{action: Allow, to: [{namespaces: {}}], ports: [{portNumber: {port: 80}, namedPort: x}]}]}", "exactly one of"),
    ("{priority: 1, subject: {pods: {namespaceSelector: {}}}}", "Required value (at spec.subject.pods.podSelector)"),
    ("{priority: 1, subject: {namespaces: {}}, egress: [{action: Allow, to: [{pods: {podSelector: {}}}]}]}",
     "Required value (at spec.egress[0].to[0].pods.namespaceSelector)"),
])
def test_invalid_admin_policies_are_rejected(spec, message):
    with pytest.raises(InputError) as err:
        analyzer(f"apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {{name: bad}}\nspec: {spec}\n")
    assert message in str(err.value)


def test_baseline_must_be_named_default():
    """The BaselineAdminNetworkPolicy is a singleton named 'default'."""
    with pytest.raises(InputError, match="named 'default'"):
        analyzer("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\n"
                 "metadata: {name: other}\nspec: {subject: {namespaces: {}}}\n")
