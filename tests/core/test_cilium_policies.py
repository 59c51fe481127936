"""Cilium policies (cilium.io/v2 CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, CiliumCIDRGroup): one
test per rule of docs.cilium.io's policy language reference ("Policy Language", security/policy/language),
"Deny Policies" (security/policy/deny), "Policy Enforcement Modes" (security/policy/intro) and the Rule
type's field documentation (pkg/policy/api/rule.go), each quoting the rule it checks.
"""

from __future__ import annotations

import pytest

from kubectl_microseg.engine.explain import explain_pair
from kubectl_microseg.errors import InputError

from .util import ALL, NONE, analyzer, cluster_of, conns, external_for, external_ids, matrix, run_cli, sctp, tcp, udp

BASE = """
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: alpha}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: beta}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: a}
spec:
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cli, namespace: b}
spec:
  template:
    metadata: {labels: {app: cli}}
    spec: {containers: [{name: c}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: b}
spec:
  template:
    metadata: {labels: {app: agent}}
    spec: {hostNetwork: true, containers: [{name: c}]}
"""


def cnp(name: str, ns: str, spec: str, kind: str = "CiliumNetworkPolicy") -> str:
    meta = f"{{name: {name}, namespace: {ns}}}" if kind == "CiliumNetworkPolicy" else f"{{name: {name}}}"
    body = "\n".join("  " + line for line in spec.strip("\n").splitlines())
    return f"---\napiVersion: cilium.io/v2\nkind: {kind}\nmetadata: {meta}\nspec:\n{body}\n"


def ccnp(name: str, spec: str) -> str:
    return cnp(name, "", spec, "CiliumClusterwideNetworkPolicy")


WEB_FROM_CLI = """
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEndpoints: [{matchLabels: {app: cli}}]
"""


def test_cnp_peer_is_limited_to_its_namespace():
    # language reference, "Namespaces": a CiliumNetworkPolicy's fromEndpoints selects endpoints of the
    # policy's own namespace unless the selector names io.kubernetes.pod.namespace
    m = matrix(BASE + cnp("p", "a", WEB_FROM_CLI))
    assert conns(m, "b/cli", "a/web") == NONE
    assert conns(m, "a/api", "a/web") == NONE  # web is default-deny for ingress now
    named = WEB_FROM_CLI.replace("{app: cli}", "{app: cli, 'k8s:io.kubernetes.pod.namespace': b}")
    m = matrix(BASE + cnp("p", "a", named))
    assert conns(m, "b/cli", "a/web") == ALL


def test_ccnp_peer_spans_namespaces_and_namespace_labels():
    # a CiliumClusterwideNetworkPolicy's selectors are not limited to a namespace; namespace labels are
    # io.cilium.k8s.namespace.labels.<key> on every endpoint
    m = matrix(BASE + ccnp("p", WEB_FROM_CLI))
    assert conns(m, "b/cli", "a/web") == ALL
    by_ns = WEB_FROM_CLI.replace("{app: cli}", "{'io.cilium.k8s.namespace.labels.team': beta}")
    m = matrix(BASE + ccnp("p", by_ns))
    assert conns(m, "b/cli", "a/web") == ALL
    assert conns(m, "a/api", "a/web") == NONE


def test_endpoint_selector_of_cnp_only_in_its_namespace():
    # the subject of a CNP: endpoints of its namespace; `k8s:` source prefixes are accepted
    spec = "endpointSelector: {matchLabels: {'k8s:app': cli}}\ningress: [{}]\n"
    m = matrix(BASE + cnp("p", "a", spec))
    assert conns(m, "a/api", "b/cli") == ALL
    m = matrix(BASE + cnp("p", "b", spec))
    assert conns(m, "a/api", "b/cli") == NONE  # ingress: [{}] -> default deny, allows nothing


def test_deny_wins_over_kubernetes_networkpolicy_allow():
    # Deny Policies: "Deny policies take precedence over allow policies, regardless of whether they are a
    # Cilium Network Policy, a Clusterwide Cilium Network Policy or even a Kubernetes Network Policy."
    np = """---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: all-in, namespace: a}
spec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {}}]}]}
"""
    deny = """
endpointSelector: {matchLabels: {app: web}}
ingressDeny:
- fromEndpoints: [{matchLabels: {app: cli}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
"""
    a = analyzer(BASE + np + ccnp("d", deny))
    m = a.matrix()
    assert conns(m, "b/cli", "a/web") == ALL - tcp(8080)
    assert conns(m, "a/api", "a/web") == ALL
    ex = explain_pair(a, a.cluster.workload("b/cli"), a.cluster.workload("a/web"))
    kinds = [r.kind for r in ex.ingress]
    assert "CILIUM_DENY" in kinds and "ALLOWED_BY_RULE" in kinds
    deny_reason = next(r for r in ex.ingress if r.kind == "CILIUM_DENY")
    assert deny_reason.effect == "deny" and deny_reason.layer == "CiliumDeny"
    assert "ccnp:d ingressDeny rule 1" in deny_reason.text


def test_deny_only_policy_makes_the_endpoint_default_deny():
    # rule.go, enableDefaultDeny: "If not specified, the default is true for each traffic direction that
    # has rules ... if a policy only has Ingress or IngressDeny rules, then the default for ingress is true"
    deny = """
endpointSelector: {matchLabels: {app: web}}
ingressDeny:
- fromEndpoints: [{matchLabels: {app: cli, 'k8s:io.kubernetes.pod.namespace': b}}]
"""
    m = matrix(BASE + cnp("d", "a", deny))
    assert conns(m, "a/api", "a/web") == NONE
    assert conns(m, "a/web", "a/api") == ALL  # egress untouched
    m = matrix(BASE + cnp("d", "a", deny + "enableDefaultDeny: {ingress: false}\n"))
    assert conns(m, "a/api", "a/web") == ALL
    assert conns(m, "b/cli", "a/web") == NONE


def test_enable_default_deny_false_allow_only_adds_to_the_union():
    # rule.go: "If multiple policies apply to an endpoint, that endpoint's default deny will be enabled if
    # any policy requests it": an allow policy with enableDefaultDeny false opens nothing on its own ...
    allow = WEB_FROM_CLI.replace("{app: cli}", "{app: api}") + "enableDefaultDeny: {ingress: false}\n"
    m = matrix(BASE + cnp("p", "a", allow))
    assert conns(m, "b/cli", "a/web") == ALL
    # ... and joins the union once another policy (here a Kubernetes NetworkPolicy) isolates the endpoint
    np = """---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-in, namespace: a}
spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}
"""
    m = matrix(BASE + np + cnp("p", "a", allow))
    assert conns(m, "b/cli", "a/web") == NONE
    assert conns(m, "a/api", "a/web") == ALL


def test_union_with_kubernetes_networkpolicy():
    np = """---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-in, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 80}]}]
"""
    allow = """
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEndpoints: [{matchLabels: {app: api}}]
  toPorts: [{ports: [{port: "http"}]}]
"""
    m = matrix(BASE + np + cnp("p", "a", allow))
    # protocol ANY (the default): TCP, UDP and SCTP; the named port resolves at the destination
    assert conns(m, "a/api", "a/web") == tcp(80) | tcp(8080)


def test_to_ports_any_endport_and_l4_only_rule():
    # language reference, "Layer 4 Examples": a rule with toPorts and no L3 peer applies to every peer;
    # protocol ANY is TCP, UDP and SCTP; endPort makes a range
    spec = """
endpointSelector: {matchLabels: {app: web}}
ingress:
- toPorts: [{ports: [{port: "9000", endPort: 9005}]}]
"""
    m = matrix(BASE + cnp("p", "a", spec))
    want = tcp(9000, 9005) | udp(9000, 9005) | sctp(9000, 9005)
    assert conns(m, "b/cli", "a/web") == want
    assert conns(m, "a/api", "a/web") == want


ENTITY = """
endpointSelector: {matchLabels: {app: api}}
egress:
- toEntities: [%s]
"""


def test_entities_world_cluster_all():
    # language reference, "Entities Based": world is everything outside the cluster, cluster every
    # endpoint inside it, all both
    m = matrix(BASE + cnp("p", "a", ENTITY % "world"))
    assert conns(m, "a/api", "a/web") == NONE
    assert conns(m, "a/api", external_for(m, "8.8.8.8")) == ALL
    m = matrix(BASE + cnp("p", "a", ENTITY % "cluster"))
    assert conns(m, "a/api", "b/cli") == ALL
    assert conns(m, "a/api", "b/agent") == ALL  # the host / remote nodes are part of the cluster
    assert conns(m, "a/api", external_for(m, "8.8.8.8")) == NONE
    m = matrix(BASE + cnp("p", "a", ENTITY % "all"))
    assert conns(m, "a/api", "b/cli") == ALL and conns(m, "a/api", external_for(m, "8.8.8.8")) == ALL


def test_entities_host_alone_is_uncertain_host_and_remote_node_together_match():
    # host is the local node, remote-node the others: a hostNetwork pod is one or the other by placement
    a = analyzer(BASE + cnp("p", "a", ENTITY % "host"))
    m = a.matrix()
    assert m.cells[("a/api", "b/agent")].uncertain if ("a/api", "b/agent") in m.cells else True
    ex = explain_pair(a, a.cluster.workload("a/api"), a.cluster.workload("b/agent"))
    assert ex.uncertain and any(r.kind == "UNEVALUATED" for r in ex.egress)
    m = matrix(BASE + cnp("p", "a", ENTITY % "host, remote-node"))
    assert conns(m, "a/api", "b/agent") == ALL
    assert conns(m, "a/api", "b/cli") == NONE


def test_cidr_set_except_and_cidr_groups():
    # language reference, "CIDR based": toCIDRSet with except; CiliumCIDRGroup referenced by cidrGroupRef
    group = """---
apiVersion: cilium.io/v2
kind: CiliumCIDRGroup
metadata: {name: partners, labels: {kind: partner}}
spec: {externalCIDRs: [198.51.100.0/24]}
"""
    spec = """
endpointSelector: {matchLabels: {app: api}}
egress:
- toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}, {cidrGroupRef: partners}]
"""
    m = matrix(BASE + group + cnp("p", "a", spec))
    assert conns(m, "a/api", external_for(m, "10.2.0.1")) == ALL
    assert conns(m, "a/api", external_for(m, "10.1.0.1")) == NONE
    assert conns(m, "a/api", external_for(m, "198.51.100.7")) == ALL
    assert conns(m, "a/api", "a/web") == NONE  # CIDR rules never match endpoints managed by Cilium
    sel = spec.replace("{cidrGroupRef: partners}", "{cidrGroupSelector: {matchLabels: {kind: partner}}}")
    m = matrix(BASE + group + cnp("p", "a", sel))
    assert conns(m, "a/api", external_for(m, "198.51.100.7")) == ALL


def test_fqdn_peers_are_uncertain():
    spec = """
endpointSelector: {matchLabels: {app: api}}
egress:
- toFQDNs: [{matchName: api.example.com}]
  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
"""
    a = analyzer(BASE + cnp("p", "a", spec))
    m = a.matrix()
    ext = external_for(m, "8.8.8.8")
    assert (("a/api", ext) not in m.cells) or m.cells[("a/api", ext)].uncertain
    assert any("uncertain" in n and "FQDN api.example.com" in n for n in a.cluster.notes)
    atom = a.atom_for("8.8.8.8")
    ex = explain_pair(a, a.cluster.workload("a/api"), atom)
    assert ex.uncertain


def test_l7_rules_are_listed_in_explain():
    # language reference, "Layer 7 Examples": the HTTP rules allow only the listed method/path pairs
    spec = """
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEndpoints: [{matchLabels: {app: api}}]
  toPorts:
  - ports: [{port: "8080", protocol: TCP}]
    rules:
      http: [{method: GET, path: "/public/.*"}, {method: POST, path: /login}]
"""
    a = analyzer(BASE + cnp("p", "a", spec))
    assert conns(a.matrix(), "a/api", "a/web") == tcp(8080)
    ex = explain_pair(a, a.cluster.workload("a/api"), a.cluster.workload("a/web"))
    text = " ".join(r.text for r in ex.ingress)
    assert "L7-filtered" in text and "http GET /public/.*" in text and "http POST /login" in text


def test_specs_list_and_host_policy_note():
    text = BASE + """---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: two, namespace: a}
specs:
- endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEndpoints: [{matchLabels: {app: api}}]}]
- nodeSelector: {matchLabels: {role: worker}}
  ingress: [{fromEntities: [cluster]}]
"""
    a = analyzer(text)
    assert conns(a.matrix(), "a/api", "a/web") == ALL
    assert conns(a.matrix(), "b/cli", "a/web") == NONE
    assert any("not evaluated: Cilium host policies" in n and "cnp:a/two[specs.1]" in n for n in a.cluster.notes)


SA_PODS = """
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: robot, namespace: a}
spec:
  template:
    metadata: {labels: {app: twin}}
    spec: {serviceAccountName: robot, containers: [{name: c}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: plain, namespace: a}
spec:
  template:
    metadata: {labels: {app: twin}}
    spec: {containers: [{name: c}]}
"""


@pytest.mark.parametrize("key", ["io.cilium.k8s.policy.serviceaccount", "k8s:io.cilium.k8s.policy.serviceaccount"])
@pytest.mark.parametrize("form", ["matchLabels", "matchExpressions"])
def test_service_account_selector_is_evaluated(key, form):
    # docs.cilium.io, "Using Kubernetes Constructs In Policy", "ServiceAccounts": a pod carries the label
    # io.cilium.k8s.policy.serviceaccount=<its serviceAccountName> (the API server's default: "default").
    # Two pods with the same labels, different service accounts: different verdicts, nothing uncertain.
    sel = (f"{{matchLabels: {{'{key}': robot, app: twin}}}}" if form == "matchLabels" else
           f"{{matchLabels: {{app: twin}}, matchExpressions: [{{key: '{key}', operator: In, values: [robot]}}]}}")
    ingress = f"endpointSelector: {{matchLabels: {{app: web}}}}\ningress: [{{fromEndpoints: [{sel}]}}]\n"
    egress = f"endpointSelector: {sel}\negress: [{{toEndpoints: [{{matchLabels: {{app: web}}}}]}}]\n"
    a = analyzer(BASE + SA_PODS + cnp("in", "a", ingress) + cnp("out", "a", egress))
    m = a.matrix()
    # ingress ("in" admits only service account robot) and egress ("out" isolates only robot: web alone)
    assert conns(m, "a/robot", "a/web") == ALL
    assert conns(m, "a/plain", "a/web") == NONE  # same labels, service account "default"
    assert conns(m, "a/robot", "a/api") == NONE
    assert conns(m, "a/plain", "a/api") == ALL  # not selected by "out": not isolated at egress
    assert not any(c.uncertain for c in m.cells.values()) and not m.uncertain_reasons
    for src, dst in (("a/robot", "a/web"), ("a/plain", "a/web"), ("a/robot", "a/api"), ("a/plain", "a/api")):
        ex = explain_pair(a, a.cluster.workload(src), a.cluster.workload(dst))
        assert not ex.uncertain, (src, dst)
    ex = explain_pair(a, a.cluster.workload("a/robot"), a.cluster.workload("a/web"))
    assert any(r.policy is not None and r.policy.id == "cnp:a/in" for r in ex.ingress)
    ex = explain_pair(a, a.cluster.workload("a/plain"), a.cluster.workload("a/web"))
    assert ex.allowed == NONE and not any(r.policy is not None and r.policy.id == "cnp:a/in" and r.conns for r in ex.ingress)


def test_cluster_label_selector_is_uncertain():
    # io.cilium.k8s.policy.cluster names the cluster; its name is not known offline: uncertain, not guessed
    spec = """
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEndpoints: [{matchLabels: {'io.cilium.k8s.policy.cluster': default, app: api}}]
"""
    a = analyzer(BASE + cnp("p", "a", spec))
    m = a.matrix()
    assert conns(m, "a/api", "a/web") == NONE
    ex = explain_pair(a, a.cluster.workload("a/api"), a.cluster.workload("a/web"))
    assert ex.uncertain


@pytest.mark.parametrize("spec, where, message, marker", [
    ("endpointSelector: {}\nnodeSelector: {}\n", "spec", "exactly one of endpointSelector and nodeSelector",
     "spec:"),
    ("endpointSelector: {}\ningress: [{fromEntities: [planet]}]\n", "spec.ingress[0].fromEntities[0]", "planet",
     "planet"),
    ("endpointSelector: {}\negress: [{toCIDR: [10.0.0.0/33]}]\n", "spec.egress[0].toCIDR[0]", "10.0.0.0/33",
     "10.0.0.0/33"),
    ("endpointSelector: {}\ningressDeny: [{toPorts: [{ports: [{port: '80'}], rules: {http: [{}]}}]}]\n",
     "spec.ingressDeny[0].toPorts[0].rules", "not allowed in deny rules", "ingressDeny"),
])
def test_validation_names_file_document_and_line(spec, where, message, marker):
    text = BASE + cnp("bad", "a", spec)
    with pytest.raises(InputError) as e:
        cluster_of(text, "pol.yaml")
    err = str(e.value)
    assert "pol.yaml" in err and "document 7" in err and message in err and "CiliumNetworkPolicy bad" in err
    assert where in err
    want = max(i for i, line in enumerate(text.splitlines(), 1) if marker in line)
    assert e.value.line == want


def test_matrix_fast_path_agrees_with_the_pipeline_on_every_pair():
    # the matrix's reverse index and deny pass against decide() for every pair of classes
    text = BASE + ccnp("d", """
endpointSelector: {matchLabels: {app: web}}
ingressDeny: [{fromEndpoints: [{matchLabels: {app: cli}}], toPorts: [{ports: [{port: "8080"}]}]}]
ingress: [{fromEntities: [cluster]}]
""") + cnp("e", "b", ENTITY.replace("api", "cli") % "cluster")
    a = analyzer(text)
    fast = a.class_matrix()
    n = len(a.classes)
    for s in range(n):
        for d in range(n):
            assert fast.get((s, d), NONE) == a.class_allows(s, d), (s, d)
    # the address ranges too: the rules' map less the deny rules against the pipeline, range by range
    world = cnp("w", "a", "endpointSelector: {}\negressDeny: [{toCIDR: [169.254.169.254/32]}]\n"
                "egress: [{toCIDR: [169.254.0.0/16, 10.0.0.0/8]}, {toEntities: [world], toPorts: [{ports: [{port: '443'}]}]}]\n")
    a = analyzer(text + world + ccnp("in", "endpointSelector: {matchLabels: {app: cli}}\n"
                                     "ingressDeny: [{fromCIDR: [10.0.0.0/24]}]\nenableDefaultDeny: {ingress: false}\n"))
    assert a.cilium.has_deny
    for c in range(len(a.classes)):
        for d in ("ingress", "egress"):
            named = a.classes[c].named_ports if d == "ingress" else frozenset()
            got = a.atom_map(d, c)
            for i, atom in enumerate(a.atoms):
                want = a.decide(d, c, atom, named)
                assert (ALL if got is None else got.get(i, NONE)) == want, (c, d, atom.id)


def test_cli_matrix_reads_cilium_objects(tmp_path, capsys):
    f = tmp_path / "c.yaml"
    f.write_text(BASE + cnp("p", "a", WEB_FROM_CLI))
    code, out, err = run_cli(capsys, "matrix", "-f", str(f), "-A", "-o", "json")
    assert code == 0, err
    assert "CiliumNetworkPolicy (1)" not in out  # evaluated, not skipped as an unknown kind
    assert '"from": "a/api", "to": "a/web"' not in out.replace("\n", "").replace("  ", "")


def test_l7_rules_mark_the_cell_l7_filtered_in_json(tmp_path, capsys):
    import json

    spec = """
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEndpoints: [{matchLabels: {app: api}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{method: GET, path: /}]}}]
- fromEndpoints: [{matchLabels: {app: cli, 'k8s:io.kubernetes.pod.namespace': b}}]
"""
    f = tmp_path / "c.yaml"
    f.write_text(BASE + cnp("p", "a", spec))
    code, out, err = run_cli(capsys, "matrix", "-f", str(f), "-A", "-o", "json")
    assert code == 0, err
    doc = json.loads(out)
    by_pair = {(c["from"], c["to"]): c for c in doc["connections"]}
    assert by_pair[("a/api", "a/web")].get("l7Filtered") is True
    assert "l7Filtered" not in by_pair[("b/cli", "a/web")]


@pytest.mark.parametrize("argv, golden", [
    (["b/cli", "--to", "a/web", "--port", "8080"], "cilium.explain-deny.txt"),
    (["a/api", "--to", "a/web"], "cilium.explain-l7.txt"),
])
def test_explain_golden(argv, golden, capsys, monkeypatch):
    # Deny Policies' table: an L4 deny on 80/TCP denies that port even where an L3 allow admits the peer
    from .util import GOLDEN

    monkeypatch.chdir(GOLDEN)
    code, out, err = run_cli(capsys, "explain", "-f", "cilium.yaml", "workload", *argv)
    assert code == 0, err
    assert out == (GOLDEN / golden).read_text()


def test_get_lists_cilium_policies_and_isolation(tmp_path, capsys):
    import json

    f = tmp_path / "c.yaml"
    f.write_text(BASE + ccnp("iso", WEB_FROM_CLI) + cnp("nothing", "a", "endpointSelector: {matchLabels: {app: x}}\n"
                                                        "egressDeny: [{toEntities: [world]}]\n"))
    code, out, err = run_cli(capsys, "get", "-f", str(f), "-A")
    assert code == 0, err
    assert "isolated (ccnp:iso)" in out  # a/web's ingress
    assert "cnp:a/nothing" in out and "NOTHING" in out
    code, out, err = run_cli(capsys, "get", "ccnp", "-f", str(f), "-A", "-o", "json")
    rows = {r["id"]: r for r in json.loads(out)["ciliumPolicies"]}
    assert rows["ccnp:iso"]["selects"] == ["a/web"] and rows["ccnp:iso"]["defaultDeny"] == ["ingress"]
    assert rows["cnp:a/nothing"]["rules"]["egressDeny"] == 1 and rows["cnp:a/nothing"]["defaultDeny"] == ["egress"]


def test_cnp_subject_never_leaves_its_namespace_and_namespace_labels_do_not_lift_the_peer_limit():
    # pkg/k8s/utils ParseToCiliumRule: "EndpointSelector always applies in namespace of the policy
    # resource" (a different namespace match is removed); getEndpointSelector adds the policy's namespace
    # to a peer selector unless it has the io.kubernetes.pod.namespace key: namespace labels do not count
    other_ns = "endpointSelector: {matchLabels: {'k8s:io.kubernetes.pod.namespace': b, app: cli}}\ningress: [{}]\n"
    m = matrix(BASE + cnp("p", "a", other_ns))
    assert conns(m, "a/api", "b/cli") == ALL  # b/cli is not selected by a policy of namespace a
    by_labels = WEB_FROM_CLI.replace("{app: cli}", "{app: cli, 'io.cilium.k8s.namespace.labels.team': beta}")
    m = matrix(BASE + cnp("p", "a", by_labels))
    assert conns(m, "b/cli", "a/web") == NONE


def test_incremental_updates_with_cilium_policies_match_a_fresh_analysis():
    # engine.incremental: a CNP/CCNP event recompiles the Cilium layer and recomputes only the pairs of the
    # classes the policy selects (before or after); a namespace event compiles it onto the new classes
    from kubectl_microseg.engine.incremental import LiveModel
    from kubectl_microseg.plugins.manifests import parse_text
    import textwrap

    def same_as_fresh(live: LiveModel, text: str) -> None:
        got = {k: (v.conns, v.uncertain, v.l7) for k, v in live.matrix().cells.items()}
        want = {k: (v.conns, v.uncertain, v.l7) for k, v in analyzer(text).matrix().cells.items()}
        assert got == want

    objs = parse_text(textwrap.dedent(BASE), "base.yaml")
    live = LiveModel(objs)
    live.matrix()
    up = live.apply(parse_text(ccnp("p", WEB_FROM_CLI), "p.yaml"))
    assert not up.rebuilt and up.pairs and all("a/web" in k for k in up.pairs)
    same_as_fresh(live, BASE + ccnp("p", WEB_FROM_CLI))
    deny = "endpointSelector: {matchLabels: {app: api}}\negressDeny: [{toEndpoints: [{}]}]\n" + FQDN.split("\n", 2)[2]
    up = live.apply(parse_text(cnp("q", "a", deny), "q.yaml"))
    assert not up.rebuilt
    same_as_fresh(live, BASE + ccnp("p", WEB_FROM_CLI) + cnp("q", "a", deny))
    deny2 = deny.replace("toEndpoints: [{}]", "toEntities: [world]")  # modified: only q's rules are compiled again
    assert not live.apply(parse_text(cnp("q", "a", deny2), "q.yaml")).rebuilt
    same_as_fresh(live, BASE + ccnp("p", WEB_FROM_CLI) + cnp("q", "a", deny2))
    assert not live.apply(parse_text(cnp("q", "a", deny), "q.yaml")).rebuilt
    relabel = textwrap.dedent(BASE).replace("labels: {app: cli}", "labels: {app: other}")
    up = live.apply([o for o in parse_text(relabel, "base.yaml") if o.kind == "Deployment" and o.name == "cli"])
    assert not up.rebuilt
    same_as_fresh(live, BASE.replace("labels: {app: cli}", "labels: {app: other}") + ccnp("p", WEB_FROM_CLI)
                  + cnp("q", "a", deny))
    assert ("b/cli", "a/web") not in live.matrix().cells
    up = live.apply(deleted=[("CiliumClusterwideNetworkPolicy", "", "p"), ("CiliumNetworkPolicy", "a", "q")])
    assert not up.rebuilt
    same_as_fresh(live, BASE.replace("labels: {app: cli}", "labels: {app: other}"))
    # a CNP naming io.cilium.k8s.policy.serviceaccount: pods must be classed by service account (rebuild)
    live.apply(parse_text(textwrap.dedent(SA_PODS), "sa.yaml"))
    sa = "endpointSelector: {matchLabels: {app: web}}\ningress: [{fromEndpoints: [{matchLabels: {'io.cilium.k8s.policy.serviceaccount': robot}}]}]\n"
    assert live.apply(parse_text(cnp("s", "a", sa), "s.yaml")).rebuilt
    want = BASE.replace("labels: {app: cli}", "labels: {app: other}") + SA_PODS + cnp("s", "a", sa)
    same_as_fresh(live, want)
    assert ("a/robot", "a/web") in live.matrix().cells and ("a/plain", "a/web") not in live.matrix().cells


FQDN = """
endpointSelector: {matchLabels: {app: api}}
egress:
- toFQDNs: [{matchName: API.example.com.}, {matchPattern: "*.example.org"}]
  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
- toFQDNs: [{matchPattern: "*.example.com"}]
  toPorts: [{ports: [{port: "80", protocol: TCP}]}]
"""


def test_fqdn_names_are_named_external_endpoints_marked_uncertain():
    # language reference, "DNS based": toFQDNs allows "connections to any IPs returned in DNS queries" for
    # the name; matchPattern: "``*`` within a domain allows 0 or more valid DNS characters, except for the
    # ``.`` separator. ``*.cilium.io`` will match ``sub.cilium.io`` but not ``cilium.io``". The IPs are known
    # only at run time (DNS proxy), so each name is an endpoint of its own and every cell to it is uncertain.
    a = analyzer(BASE + cnp("p", "a", FQDN))
    m = a.matrix()
    ids = external_ids(m)
    assert {"fqdn:api.example.com", "fqdn:*.example.com", "fqdn:*.example.org"} <= set(ids)
    assert conns(m, "a/api", "fqdn:api.example.com") == tcp(443) | tcp(80)  # its name, and *.example.com
    assert conns(m, "a/api", "fqdn:*.example.com") == tcp(80)
    assert conns(m, "a/api", "fqdn:*.example.org") == tcp(443)
    assert all(m.cells[k].uncertain for k in m.cells if k[1].startswith("fqdn:"))
    assert conns(m, "a/web", "fqdn:api.example.com") == ALL  # a/web's egress is not isolated
    doc = m.to_contract()
    ep = next(e for e in doc["endpoints"] if e["id"] == "fqdn:api.example.com")
    assert ep["kind"] == "External" and ep["fqdn"] == "api.example.com" and ep["cidrs"] == []
    ex = explain_pair(a, a.cluster.workload("a/api"), a.fqdn_atom("fqdn:api.example.com"))
    assert ex.uncertain and ex.allowed == tcp(443) | tcp(80)
    text = " ".join(r.text for r in ex.egress)
    assert "cnp:a/p egress rule 1: FQDN api.example.com" in text and "DNS answers at run time" in text


def test_fqdn_endpoint_and_address_rules():
    # a world deny denies every outside address, the name's too ("Deny policies take precedence"); a CIDR
    # rule for part of the address space does not match it (its addresses are not known)
    deny = FQDN + "egressDeny: [{toEntities: [world], toPorts: [{ports: [{port: '80', protocol: TCP}]}]}]\n"
    m = matrix(BASE + cnp("p", "a", deny))
    assert conns(m, "a/api", "fqdn:api.example.com") == tcp(443)
    cidr = "endpointSelector: {matchLabels: {app: api}}\negress: [{toCIDR: [192.0.2.0/24]}, {toFQDNs: [{matchName: x.io}]}]\n"
    m = matrix(BASE + cnp("p", "a", cidr))
    assert conns(m, "a/api", "fqdn:x.io") == ALL
    only_cidr = "endpointSelector: {matchLabels: {app: api}}\negress: [{toCIDR: [192.0.2.0/24]}]\n"
    names_y = "endpointSelector: {matchLabels: {app: web}}\negress: [{toFQDNs: [{matchName: y.io}]}]\n"
    m = matrix(BASE + cnp("p", "a", only_cidr) + cnp("q", "a", names_y))
    assert ("a/api", "fqdn:y.io") not in m.cells  # a/api: only 192.0.2.0/24, which need not hold y.io


def test_fqdn_flow_and_bad_fqdn(tmp_path, capsys):
    f = tmp_path / "c.yaml"
    f.write_text(BASE + cnp("p", "a", FQDN))
    flows = tmp_path / "flows.yaml"
    flows.write_text("flows:\n- {from: a/api, to: 'fqdn:api.example.com', port: 443, expect: allow}\n"
                     "- {from: a/api, to: 'fqdn:*.example.org', port: 80, expect: deny}\n")
    code, out, err = run_cli(capsys, "test", "-f", str(f), str(flows), "-o", "json")
    assert code == 0, out + err
    code, out, err = run_cli(capsys, "explain", "-f", str(f), "workload", "a/api", "--to", "fqdn:nope.io")
    assert code == 2 and "fqdn:nope.io" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE + cnp("p", "a", "endpointSelector: {}\negress: [{toFQDNs: [{matchName: 'a*.io'}]}]\n"))
    code, out, err = run_cli(capsys, "matrix", "-f", str(bad))
    assert code == 2 and "matchName" in err


L7_WEB = """
endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEndpoints: [{matchLabels: {app: api}}]
  toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{method: GET, path: /}]}}]
"""


def test_l4_rule_on_the_same_port_lifts_the_l7_filter():
    # docs.cilium.io, "Layer 7 Policies": "If a layer 4 rule is specified in the policy, and a similar layer 4
    # rule with layer 7 rules is also specified, then the layer 7 portions of the latter rule will have no
    # effect" (rules are a union: the L4-only rule lets every request through)
    a = analyzer(BASE + cnp("p", "a", L7_WEB))
    assert a.matrix().cells[("a/api", "a/web")].l7  # only the L7 rule: filtered
    l4 = L7_WEB + "- fromEndpoints: [{matchLabels: {app: api}}]\n  toPorts: [{ports: [{port: '8080', protocol: TCP}]}]\n"
    a = analyzer(BASE + cnp("p", "a", l4))
    cell = a.matrix().cells[("a/api", "a/web")]
    assert cell.conns == tcp(8080) and not cell.l7
    ex = explain_pair(a, a.cluster.workload("a/api"), a.cluster.workload("a/web"))
    assert "have no effect" in " ".join(r.text for r in ex.ingress)
    # a Kubernetes NetworkPolicy naming the port is such an L4 rule too; another port's L4 rule is not
    np = """---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: %s}]}]
"""
    assert not matrix(BASE + cnp("p", "a", L7_WEB) + np % "8080").cells[("a/api", "a/web")].l7
    m = matrix(BASE + cnp("p", "a", L7_WEB) + np % "9090")
    assert m.cells[("a/api", "a/web")].l7 and conns(m, "a/api", "a/web") == tcp(8080) | tcp(9090)


def test_calico_and_cilium_objects_together():
    # A cluster normally runs one CNI. With both CNIs' objects the tool evaluates both in the pipeline's order
    # (engine/pipeline.py: Cilium deny, Calico tiers, Admin, NetworkPolicy = Calico's default tier with the
    # Kubernetes policies and Cilium's allows, Baseline, default) and says so in a note
    calico = ("---\napiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\n"
              "spec: {order: 100, defaultAction: Pass}\n---\n"
              "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: sec}\n"
              "spec: {tier: security, selector: app == 'web', types: [Ingress], ingress: ["
              "{action: Deny, protocol: TCP, source: {selector: app == 'api'}, destination: {ports: [9090]}}, "
              "{action: Allow, protocol: TCP, source: {selector: app == 'cli', namespaceSelector: all()}, "
              "destination: {ports: [8080]}}, {action: Pass}]}\n")
    cilium = cnp("web", "a", """
endpointSelector: {matchLabels: {app: web}}
ingress: [{fromEndpoints: [{matchLabels: {app: api}}]}]
ingressDeny: [{fromEndpoints: [{matchLabels: {app: cli, 'k8s:io.kubernetes.pod.namespace': b}}], toPorts: [{ports: [{port: '8080'}]}]}]
""")
    a = analyzer(BASE + calico + cilium)
    assert any("Calico and Cilium policy objects are both present" in n for n in a.cluster.notes)
    m = a.matrix()
    # Cilium's deny comes before Calico's tiers ("Deny policies take precedence over allow policies"): the
    # security tier's Allow of b/cli on 8080 does not open it
    assert conns(m, "b/cli", "a/web") == NONE
    # a Calico Deny in an earlier tier beats Cilium's allow (Calico tier reference: a Deny ends evaluation)
    got = conns(m, "a/api", "a/web")
    assert not got.allows("TCP", 9090) and got.allows("TCP", 8080)
    # Cilium's default deny holds inside Calico's default tier: a/web admits only a/api
    assert conns(m, "a/web", "a/web") == NONE
    fast = a.class_matrix()
    n = len(a.classes)
    for s in range(n):
        for d in range(n):
            assert fast.get((s, d), NONE) == a.class_allows(s, d), (s, d)
    ex = explain_pair(a, a.cluster.workload("a/api"), a.cluster.workload("a/web"))
    text = " ".join(r.text for r in ex.ingress)
    assert "[security tier]" in text and "cnp:a/web ingress rule 1" in text
    # without the Cilium objects the note is gone and the Calico tier alone decides
    assert not any("both present" in n for n in analyzer(BASE + calico).cluster.notes)
    # live: a CNP event and a pod event on a cluster with both stay incremental and match a fresh analysis
    from kubectl_microseg.engine.incremental import LiveModel
    from kubectl_microseg.plugins.manifests import parse_text
    import textwrap

    live = LiveModel(parse_text(textwrap.dedent(BASE + calico + cilium), "in.yaml"))
    live.matrix()
    opened = cilium.replace("ingressDeny: [", "ingressDeny: [{fromCIDR: [192.0.2.0/24]}, ").replace(
        "{app: api}}]}]", "{app: api}}]}, {fromEndpoints: [{matchLabels: {app: web}}]}]")
    up = live.apply(parse_text(opened, "p.yaml"))
    relabel = textwrap.dedent(BASE).replace("labels: {app: api}", "labels: {app: api, v: '2'}")
    up2 = live.apply([o for o in parse_text(relabel, "b.yaml") if o.name == "api" and o.kind == "Deployment"])
    assert not up.rebuilt and not up2.rebuilt
    want = analyzer(relabel + calico + opened).matrix()
    assert {k: v.conns for k, v in live.matrix().cells.items()} == {k: v.conns for k, v in want.cells.items()}
    assert conns(want, "a/web", "a/web") == ALL
