"""The service-mesh layer (engine/mesh.py): Istio AuthorizationPolicy and PeerAuthentication on top of L4.

Each test cites istio.io's security reference (docs/reference/config/security/authorization-policy,
.../peer_authentication) or the concepts page (docs/concepts/security, "Authorization policies").
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kubectl_microseg.engine.mesh import (MeshAnalyzer, MeshVerdict, MtlsState, Request, annotate, pair_verdict)
from kubectl_microseg.errors import InputError
from kubectl_microseg.model.istio import Dataplane, MeshOptions, pod_dataplane
from kubectl_microseg.model.ports import ConnSet
from tests.core.util import cluster_of, matrix
from tests.fakeapi.fixtures import fake_api, fake_kubeconfig, isolated_kubeconfig  # noqa: F401 - fixtures

ALL = ConnSet.all()


def deploy(name: str, ns: str = "production", sa: str | None = None, labels: str = "", annotations: str = "") -> str:
    sa_line = f"serviceAccountName: {sa}, " if sa else ""
    return f"""
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}{labels}}}{annotations}}}
    spec: {{{sa_line}containers: [{{name: c, image: x}}]}}
"""


# The seed document's two Istio objects, verbatim (shared/seeds: "Istio Authorization Policy", "Istio
# PeerAuthentication for mTLS").
SEED_AUTHZ = """
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: api-server-authz
  namespace: production
spec:
  selector:
    matchLabels:
      app: api-server
  action: ALLOW
  rules:
    # Allow frontend to call specific API endpoints
    - from:
        - source:
            principals:
              - cluster.local/ns/production/sa/frontend
      to:
        - operation:
            methods: ["GET", "POST"]
            paths: ["/api/v1/*"]
    # Allow health checks from any source
    - to:
        - operation:
            methods: ["GET"]
            paths: ["/health", "/ready"]
"""
SEED_PEER = """
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: strict-mtls
  namespace: production
spec:
  # Apply to all workloads in the namespace
  selector: {}
  mtls:
    mode: STRICT
"""
NS = """
apiVersion: v1
kind: Namespace
metadata: {name: production, labels: {istio-injection: enabled}}
"""
WORKLOADS = (deploy("api-server", sa="api-server") + deploy("frontend", sa="frontend") + deploy("worker", sa="worker")
             + deploy("legacy", labels=', sidecar.istio.io/inject: "false"'))


def mesh_of(text: str, **kw) -> tuple[MeshAnalyzer, dict]:
    c = cluster_of(text)
    mesh = MeshAnalyzer(c, MeshOptions(**kw))
    return mesh, {w.name: w for w in c.workloads}


def req(mesh, w, src, dst, method, path):
    r = pair_verdict(mesh, w[src], w[dst], ALL, Request(method, path))
    return r.verdict, r.mtls


def test_seed_examples_give_the_verdicts_their_comments_state():
    """The seed: frontend's service account may GET/POST /api/v1/*, anyone may GET /health and /ready, nothing
    else; and STRICT mTLS for the namespace. "principals ... requires mTLS enabled" (authorization-policy,
    Source), so "anyone" means any workload with a sidecar: a client without one is refused by STRICT."""
    mesh, w = mesh_of(NS + WORKLOADS + SEED_AUTHZ + SEED_PEER)
    ok, no = MeshVerdict.ALLOWED, MeshVerdict.DENIED
    for method, path in (("GET", "/api/v1/users"), ("POST", "/api/v1/orders/7"), ("GET", "/health"), ("GET", "/ready")):
        assert req(mesh, w, "frontend", "api-server", method, path) == (ok, MtlsState.MTLS)
    for method, path in (("DELETE", "/api/v1/users"), ("PUT", "/api/v1/x"), ("GET", "/api/v2/x"), ("GET", "/admin"),
                         ("POST", "/health"), ("GET", "/api/v1")):
        assert req(mesh, w, "frontend", "api-server", method, path)[0] is no, (method, path)
    # another workload of the mesh: health checks only
    assert req(mesh, w, "worker", "api-server", "GET", "/health") == (ok, MtlsState.MTLS)
    assert req(mesh, w, "worker", "api-server", "GET", "/ready")[0] is ok
    assert req(mesh, w, "worker", "api-server", "GET", "/api/v1/users")[0] is no
    assert req(mesh, w, "worker", "api-server", "POST", "/api/v1/users")[0] is no
    # no sidecar: STRICT refuses the connection whatever the request
    assert req(mesh, w, "legacy", "api-server", "GET", "/health") == (no, MtlsState.REFUSED)
    # the cell (no request named): frontend some requests, worker some requests (health), legacy refused
    some = pair_verdict(mesh, w["frontend"], w["api-server"], ALL)
    assert some.verdict is MeshVerdict.SOME and "GET,POST /api/v1/*" in some.allowed_requests
    assert pair_verdict(mesh, w["worker"], w["api-server"], ALL).allowed_requests == ("GET /health,/ready",)
    # api-server is the only workload an ALLOW policy selects: the others allow every request
    assert pair_verdict(mesh, w["api-server"], w["frontend"], ALL).verdict is ok
    # the destination without a sidecar is outside the mesh: no mesh verdict
    assert pair_verdict(mesh, w["frontend"], w["legacy"], ALL) is None


def test_matrix_json_adds_mesh_fields_and_keeps_l4():
    text = NS + WORKLOADS + SEED_AUTHZ + SEED_PEER
    m = matrix(text)
    before = m.to_contract()
    c = cluster_of(text)
    annotate(m, MeshAnalyzer(c))
    after = m.to_contract()
    # existing fields unchanged; "mesh" added on cells whose destination is in the mesh
    strip = [{k: v for k, v in x.items() if k != "mesh"} for x in after["connections"]]
    assert strip == before["connections"]
    by = {(x["from"], x["to"]): x for x in after["connections"]}
    assert by[("production/legacy", "production/api-server")]["mesh"] == {"verdict": "denied", "mtls": "refused"}
    assert by[("production/frontend", "production/api-server")]["mesh"]["verdict"] == "some-requests"
    assert "mesh" not in by[("production/frontend", "production/legacy")]


def _authz(action: str, body: str, name: str = "p", ns: str = "production") -> str:
    return f"""
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {{name: {name}, namespace: {ns}}}
spec:
  action: {action}
{body}"""


def test_order_custom_deny_allow_and_audit_has_no_effect():
    """authorization-policy: "the CUSTOM action is evaluated first, then the DENY action, and finally the
    ALLOW action"; "AUDIT policies do not affect whether requests are allowed or denied"."""
    base = NS + WORKLOADS
    allow_all = _authz("ALLOW", "  rules: [{}]", "allow-all")
    deny_worker = _authz("DENY", "  rules: [{from: [{source: {principals: [cluster.local/ns/production/sa/worker]}}]}]",
                         "deny-worker")
    audit_all = _authz("AUDIT", "  rules: [{}]", "audit")
    mesh, w = mesh_of(base + allow_all + deny_worker + audit_all)
    assert pair_verdict(mesh, w["worker"], w["api-server"], ALL).verdict is MeshVerdict.DENIED
    assert pair_verdict(mesh, w["frontend"], w["api-server"], ALL).verdict is MeshVerdict.ALLOWED
    mesh, w = mesh_of(base + audit_all)  # AUDIT alone: nothing is denied
    assert pair_verdict(mesh, w["worker"], w["api-server"], ALL).verdict is MeshVerdict.ALLOWED
    custom = _authz("CUSTOM", "  provider: {name: ext-authz}\n  rules: [{}]", "ext")
    mesh, w = mesh_of(base + custom)
    r = pair_verdict(mesh, w["worker"], w["api-server"], ALL)
    assert r.verdict is MeshVerdict.SOME and r.uncertain  # the external authorizer decides


def test_allow_without_rules_allows_nothing_and_empty_rule_allows_all():
    """authorization-policy examples "allow-nothing" (an ALLOW policy without rules: "doesn't match
    anything") and "allow-all" (a rule {} "matches everything")."""
    mesh, w = mesh_of(NS + WORKLOADS + _authz("ALLOW", ""))
    assert pair_verdict(mesh, w["frontend"], w["api-server"], ALL).verdict is MeshVerdict.DENIED
    mesh, w = mesh_of(NS + WORKLOADS + _authz("ALLOW", "  rules: [{}]"))
    assert pair_verdict(mesh, w["frontend"], w["api-server"], ALL).verdict is MeshVerdict.ALLOWED


def test_allow_present_none_matching_denies_and_selector_scopes():
    """"If any of the ALLOW policies match the request, allow the request. Deny the request." — only for
    workloads the policy selects (selector: "If not set, the policy will be applied to all workloads in
    the same namespace"); a policy in the root namespace applies to every namespace."""
    pol = _authz("ALLOW", "  selector: {matchLabels: {app: api-server}}\n  rules: [{from: [{source: {namespaces: [other]}}]}]")
    mesh, w = mesh_of(NS + WORKLOADS + pol)
    assert pair_verdict(mesh, w["frontend"], w["api-server"], ALL).verdict is MeshVerdict.DENIED
    assert pair_verdict(mesh, w["frontend"], w["worker"], ALL).verdict is MeshVerdict.ALLOWED
    root = _authz("ALLOW", "", "deny-all", "istio-system")
    mesh, w = mesh_of(NS + WORKLOADS + root)
    assert pair_verdict(mesh, w["frontend"], w["worker"], ALL).verdict is MeshVerdict.DENIED
    mesh, w = mesh_of(NS + WORKLOADS + root.replace("istio-system", "mesh-root"), root_namespace="mesh-root")
    assert pair_verdict(mesh, w["frontend"], w["worker"], ALL).verdict is MeshVerdict.DENIED
    refs = _authz("ALLOW", "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]")
    mesh, w = mesh_of(NS + WORKLOADS + refs)  # bound to a gateway: not the sidecars
    assert pair_verdict(mesh, w["frontend"], w["worker"], ALL).verdict is MeshVerdict.ALLOWED


def test_source_fields_and_not_forms():
    """Source: principals/namespaces "require mTLS"; values match exact, prefix "abc*", suffix "*abc" or
    presence "*"; notX match what X does not; requestPrincipals (JWT) and remoteIpBlocks depend on the
    request."""
    def verdict(source: str, src: str = "frontend", mode: str = "PERMISSIVE") -> MeshVerdict:
        pa = f"""
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: default, namespace: production}}
spec: {{mtls: {{mode: {mode}}}}}
"""
        mesh, w = mesh_of(NS + WORKLOADS + pa + _authz("ALLOW", f"  rules: [{{from: [{{source: {source}}}]}}]"))
        return pair_verdict(mesh, w[src], w["api-server"], ALL).verdict

    assert verdict("{principals: ['*/sa/frontend']}") is MeshVerdict.ALLOWED
    assert verdict("{principals: ['cluster.local/ns/production/*']}") is MeshVerdict.ALLOWED
    assert verdict("{principals: ['*']}", "legacy") is MeshVerdict.DENIED  # plaintext: no identity
    assert verdict("{notPrincipals: ['*/sa/frontend']}") is MeshVerdict.DENIED
    assert verdict("{notPrincipals: ['*/sa/frontend']}", "worker") is MeshVerdict.ALLOWED
    assert verdict("{namespaces: [production]}") is MeshVerdict.ALLOWED
    assert verdict("{namespaces: [production]}", "legacy") is MeshVerdict.DENIED
    assert verdict("{notNamespaces: [prod*]}") is MeshVerdict.DENIED
    assert verdict("{requestPrincipals: ['*']}") is MeshVerdict.SOME
    assert verdict("{remoteIpBlocks: [10.0.0.0/8]}") is MeshVerdict.SOME
    # principals and a plaintext client in PERMISSIVE mode: health checks pass, the identity rule never
    mesh, w = mesh_of(NS + WORKLOADS + SEED_AUTHZ)
    assert req(mesh, w, "legacy", "api-server", "GET", "/health") == (MeshVerdict.ALLOWED, MtlsState.PLAINTEXT)
    assert req(mesh, w, "legacy", "api-server", "GET", "/api/v1/x") == (MeshVerdict.DENIED, MtlsState.PLAINTEXT)


def test_operation_ports_and_when():
    """Operation ports are the destination's; paths exact/prefix/suffix; ``when`` on request data is
    shown and marks the verdict uncertain."""
    mesh, w = mesh_of(NS + WORKLOADS + _authz("ALLOW", "  rules: [{to: [{operation: {ports: ['8080']}}]}]"))
    assert pair_verdict(mesh, w["frontend"], w["api-server"], ConnSet.ports("TCP", 8080)).verdict is MeshVerdict.ALLOWED
    assert pair_verdict(mesh, w["frontend"], w["api-server"], ConnSet.ports("TCP", 9090)).verdict is MeshVerdict.DENIED
    assert pair_verdict(mesh, w["frontend"], w["api-server"], ALL).verdict is MeshVerdict.SOME
    mesh, w = mesh_of(NS + WORKLOADS + _authz("ALLOW", "  rules: [{to: [{operation: {paths: ['*.png']}}]}]"))
    assert req(mesh, w, "frontend", "api-server", "GET", "/img/a.png")[0] is MeshVerdict.ALLOWED
    assert req(mesh, w, "frontend", "api-server", "GET", "/img/a.jpg")[0] is MeshVerdict.DENIED
    mesh, w = mesh_of(NS + WORKLOADS + _authz(
        "ALLOW", "  rules: [{when: [{key: 'request.headers[x-version]', values: [v1]}]}]"))
    r = pair_verdict(mesh, w["frontend"], w["api-server"], ALL)
    assert r.verdict is MeshVerdict.SOME and r.uncertain
    assert any("request.headers[x-version]" in s.text for s in r.steps)


def test_peer_authentication_inheritance_and_port_level():
    """peer_authentication: UNSET inherits the parent; mesh-wide unset is PERMISSIVE; a workload selector
    overrides the namespace; portLevelMtls overrides per workload port; selector policies in the root
    namespace are ignored."""
    def pa(name, ns, mode, extra=""):
        return f"""
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: {name}, namespace: {ns}}}
spec:
  mtls: {{mode: {mode}}}
{extra}"""
    mesh_strict = pa("default", "istio-system", "STRICT")
    mesh, w = mesh_of(NS + WORKLOADS + mesh_strict)
    assert pair_verdict(mesh, w["legacy"], w["api-server"], ALL).mtls is MtlsState.REFUSED
    mesh, w = mesh_of(NS + WORKLOADS + mesh_strict + pa("default", "production", "UNSET"))
    assert pair_verdict(mesh, w["legacy"], w["api-server"], ALL).mtls is MtlsState.REFUSED  # inherits STRICT
    mesh, w = mesh_of(NS + WORKLOADS + mesh_strict + pa("default", "production", "PERMISSIVE"))
    assert pair_verdict(mesh, w["legacy"], w["api-server"], ALL).mtls is MtlsState.PLAINTEXT
    wl = pa("api", "production", "UNSET", "  selector: {matchLabels: {app: api-server}}\n  portLevelMtls: {8080: {mode: DISABLE}}")
    mesh, w = mesh_of(NS + WORKLOADS + mesh_strict + wl)
    r = pair_verdict(mesh, w["legacy"], w["api-server"], ALL)
    assert r.mtls is MtlsState.MIXED and dict(r.mtls_ports) == {8080: MtlsState.PLAINTEXT}
    assert pair_verdict(mesh, w["legacy"], w["api-server"], ConnSet.ports("TCP", 8080)).mtls is MtlsState.PLAINTEXT
    assert pair_verdict(mesh, w["frontend"], w["api-server"], ConnSet.ports("TCP", 443)).mtls is MtlsState.MTLS
    ignored = pa("x", "istio-system", "STRICT", "  selector: {matchLabels: {app: api-server}}")
    mesh, w = mesh_of(NS + WORKLOADS + ignored)
    assert pair_verdict(mesh, w["legacy"], w["api-server"], ALL).mtls is MtlsState.PLAINTEXT
    assert any("ignored" in n for n in mesh.notes)


def test_sidecar_injection_and_ambient():
    """Injection: the pod label sidecar.istio.io/inject overrides the namespace's istio-injection /
    istio.io/rev labels; ambient: istio.io/dataplane-mode=ambient."""
    assert pod_dataplane({"istio-injection": "enabled"}, {}, {}) is Dataplane.SIDECAR
    assert pod_dataplane({"istio.io/rev": "canary"}, {}, {}) is Dataplane.SIDECAR
    assert pod_dataplane({"istio-injection": "enabled"}, {"sidecar.istio.io/inject": "false"}, {}) is Dataplane.NONE
    assert pod_dataplane({}, {}, {"sidecar.istio.io/inject": "true"}) is Dataplane.SIDECAR
    assert pod_dataplane({"istio-injection": "disabled", "istio.io/rev": "x"}, {}, {}) is Dataplane.NONE
    assert pod_dataplane({"istio.io/dataplane-mode": "ambient"}, {}, {}) is Dataplane.AMBIENT
    assert pod_dataplane({}, {}, {}) is Dataplane.NONE
    mesh, w = mesh_of(NS + WORKLOADS, trust_domain="example.org")
    assert mesh.side(w["frontend"]).principal == "example.org/ns/production/sa/frontend"
    assert mesh.side(w["legacy"]).principal is None


@pytest.mark.parametrize("body,where", [
    ("  action: MAYBE", "spec.action"),
    ("  rules: [{from: [{source: {principal: [x]}}]}]", "spec.rules[0].from[0].source.principal"),
    ("  rules: [{to: [{operation: {ports: ['http']}}]}]", "spec.rules[0].to[0].operation.ports"),
])
def test_bad_authorization_policy_is_located(body, where):
    text = NS + f"""
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: bad, namespace: production}}
spec:
{body}
"""
    with pytest.raises(InputError) as e:
        cluster_of(text)
    assert e.value.path == where and e.value.line == 11  # the line of spec.rules or spec.action


def test_cli_bad_peer_authentication_exit_2(tmp_path):
    f = tmp_path / "pa.yaml"
    f.write_text("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: x, namespace: a}\n"
                 "spec:\n  mtls: {mode: STRONG}\n")
    p = subprocess.run([sys.executable, "-m", "kubectl_microseg", "matrix", "-f", str(f)], capture_output=True, text=True, check=False)
    assert p.returncode == 2 and "pa.yaml" in p.stderr and "line 5" in p.stderr and "STRONG" in p.stderr
    assert "Traceback" not in p.stderr


def test_cli_matrix_and_explain_show_the_mesh(tmp_path):
    f = tmp_path / "seed.yaml"
    f.write_text(NS + WORKLOADS + SEED_AUTHZ + SEED_PEER)
    run = lambda *a: subprocess.run([sys.executable, "-m", "kubectl_microseg", *a, "-f", str(f)],  # noqa: E731
                                    capture_output=True, text=True, check=True).stdout
    table = run("matrix", "--no-external")
    assert "◐" in table and "✕" in table and "connection refused" in table
    doc = json.loads(run("matrix", "-o", "json"))
    assert any(c.get("mesh", {}).get("mtls") == "refused" for c in doc["connections"])
    out = run("explain", "workload", "production/api-server", "--from", "production/frontend")
    assert out.index("ingress") < out.index("mesh    PeerAuthentication production/strict-mtls")
    assert "MESH: some requests (GET,POST /api/v1/*; GET /health,/ready)" in out


def test_cli_test_flows_name_method_and_path(tmp_path):
    """`test` flows may name an HTTP request: the seed's rules decide it on top of L4."""
    f = tmp_path / "seed.yaml"
    f.write_text(NS + WORKLOADS + SEED_AUTHZ + SEED_PEER)
    flows = tmp_path / "flows.yaml"
    flows.write_text("""flows:
  - {from: production/frontend, to: production/api-server, port: 8080, method: POST, path: /api/v1/orders, expect: allow}
  - {from: production/frontend, to: production/api-server, port: 8080, method: DELETE, path: /api/v1/orders, expect: allow}
  - {from: production/worker, to: production/api-server, port: 8080, method: GET, path: /ready, expect: allow}
  - {from: production/legacy, to: production/api-server, port: 8080, method: GET, path: /health, expect: allow}
  - {from: production/frontend, to: production/api-server, port: 8080}
""")
    p = subprocess.run([sys.executable, "-m", "kubectl_microseg", "test", str(flows), "-f", str(f), "-o", "json"],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 1, p.stderr
    res = json.loads(p.stdout)["results"]
    assert [r["verdict"] for r in res] == ["allow", "deny", "allow", "deny", "allow"]
    assert [r["pass"] for r in res[:4]] == [True, False, True, False]
    assert res[3]["mesh"] == {"verdict": "denied", "mtls": "refused"}
    assert any("refused" in b for b in res[3]["because"])
    assert res[4]["uncertain"] and "GET,POST /api/v1/*" in res[4]["reason"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("flows:\n  - {from: production/frontend, to: production/api-server, path: api}\n")
    p = subprocess.run([sys.executable, "-m", "kubectl_microseg", "test", str(bad), "-f", str(f)],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 2 and "must start with /" in p.stderr and "line 2" in p.stderr


# -- lint (lint/k8s_mesh.py) -------------------------------------------------------------------------

def _lint(text: str, rule: str) -> list:
    from tests.lint.helpers import lint_yaml

    return [f for f in lint_yaml(text) if f.rule == rule]


def test_lint_mtls_not_strict_in_production():
    """MS020: peer_authentication — PERMISSIVE accepts plaintext; a production namespace should be STRICT."""
    permissive = SEED_PEER.replace("STRICT", "PERMISSIVE")
    found = _lint(NS + WORKLOADS + permissive, "MS020")
    assert len(found) == 1 and "PERMISSIVE" in found[0].message and "production/strict-mtls" in found[0].message
    assert _lint(NS + WORKLOADS + SEED_PEER, "MS020") == []
    # no PeerAuthentication at all: Istio's default PERMISSIVE is reported too
    assert len(_lint(NS + WORKLOADS, "MS020")) == 1
    # a namespace not marked production/PCI is not reported
    assert _lint((NS + WORKLOADS + permissive).replace("production", "sandbox"), "MS020") == []


def test_lint_identity_rule_towards_no_sidecar_client_allow_nothing_and_not_enforced():
    """MS021 (principals "require mTLS"), MS022 (ALLOW without rules), MS023 (no proxy, no enforcement)."""
    found = _lint(NS + WORKLOADS + SEED_AUTHZ, "MS021")
    assert len(found) == 1 and "production/legacy" in found[0].message and "rule 1" in found[0].message
    text = NS + WORKLOADS + SEED_AUTHZ
    assert found[0].location.line == text.splitlines().index("    - from:") + 1  # the rule's line
    no_legacy = NS + deploy("api-server", sa="api-server") + deploy("frontend", sa="frontend") + SEED_AUTHZ
    assert _lint(no_legacy, "MS021") == []
    assert len(_lint(NS + WORKLOADS + _authz("ALLOW", ""), "MS022")) == 1
    assert _lint(NS + WORKLOADS + _authz("ALLOW", "  rules: [{}]"), "MS022") == []
    legacy_only = _authz("DENY", "  selector: {matchLabels: {app: legacy}}\n  rules: [{}]")
    found = _lint(NS + WORKLOADS + legacy_only, "MS023")
    assert len(found) == 1 and "production/legacy" in found[0].message
    assert _lint(NS + WORKLOADS + SEED_AUTHZ, "MS023") == []


def test_lint_layers_disagree():
    """MS024: NetworkPolicy default deny without mesh authorization, and the reverse."""
    default_deny = """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: production}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""
    elsewhere = _authz("ALLOW", "  rules: [{}]", "x", "other")  # the cluster uses mesh authorization
    found = _lint(NS + WORKLOADS + default_deny + elsewhere, "MS024")
    assert len(found) == 1 and "no AuthorizationPolicy" in found[0].message
    assert _lint(NS + WORKLOADS + default_deny, "MS024") == []  # an mTLS-only mesh: not reported
    assert _lint(NS + WORKLOADS + default_deny + SEED_AUTHZ, "MS024") == []
    found = _lint(NS + WORKLOADS + _authz("ALLOW", "  rules: [{from: [{source: {namespaces: [production]}}]}]"), "MS024")
    assert len(found) == 1 and "no NetworkPolicy default deny" in found[0].message


def test_live_source_reads_the_istio_kinds_where_served(fake_api, fake_kubeconfig):  # noqa: F811 - fixtures
    """From a live cluster (the fake API server, the real client): the Istio kinds are listed like the admin
    policies, and the mesh verdicts are those of the files; without Istio's CRDs (404) nothing is noted."""
    from kubectl_microseg.model.cluster import build_cluster
    from kubectl_microseg.plugins.kube import KubeSource
    from kubectl_microseg.plugins.manifests import parse_text
    from tests.live.helpers import FAST

    fake_api.add(*(o.raw for o in parse_text(NS + WORKLOADS + SEED_AUTHZ + SEED_PEER, "x.yaml")))
    src = KubeSource(tuning=FAST)
    try:
        snap = src.load()
        assert {"AuthorizationPolicy", "PeerAuthentication"} <= {o.kind for o in snap.objects}
        c = build_cluster(snap.objects)
        w = {x.name: x for x in c.workloads}
        r = pair_verdict(MeshAnalyzer(c), w["legacy"], w["api-server"], ALL)
        assert (r.verdict, r.mtls) == (MeshVerdict.DENIED, MtlsState.REFUSED)
        fake_api.faults.fail(404, resource="authorizationpolicies", times=None)
        fake_api.faults.fail(404, resource="peerauthentications", times=None)
        snap = src.load()
        assert not {"AuthorizationPolicy", "PeerAuthentication"} & {o.kind for o in snap.objects}
        assert snap.notes == [] and not snap.all_namespaces_uncertain
    finally:
        src.close()


def test_simulate_sees_mesh_changes(tmp_path):
    """simulate: a changed PeerAuthentication or AuthorizationPolicy changes no L4 cell but the mesh verdicts:
    listed (meshChanges), and a newly denied mesh verdict fails the run like a newly denied flow."""
    permissive = tmp_path / "permissive.yaml"
    permissive.write_text("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: strict-mtls, "
                          "namespace: pci}\nspec: {mtls: {mode: PERMISSIVE}}\n")
    p = subprocess.run([sys.executable, "-m", "kubectl_microseg", "--demo", "simulate", "-f", str(permissive),
                        "-o", "json"], capture_output=True, text=True, check=False)
    doc = json.loads(p.stdout)
    assert p.returncode == 0 and doc["added"] == doc["removed"] == doc["changed"] == []
    assert doc["meshChanges"] == [{"from": "production/order-service", "to": "pci/payment-service",
                                   "before": {"verdict": "denied", "mtls": "refused"},
                                   "after": {"verdict": "allowed", "mtls": "plaintext"}, "newlyDenied": False,
                                   "causes": [{"kind": "PeerAuthentication", "object": "pci/strict-mtls",
                                               "change": "changed",
                                               "text": "PeerAuthentication pci/strict-mtls changed"}]}]
    lock = tmp_path / "lock.yaml"
    lock.write_text("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: lock, "
                    "namespace: production}\nspec: {selector: {matchLabels: {app: frontend}}}\n")
    p = subprocess.run([sys.executable, "-m", "kubectl_microseg", "--demo", "simulate", "-f", str(lock)],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 1
    assert "- ingress-nginx/ingress-nginx-controller -> production/frontend: allowed, mTLS mtls -> denied, mTLS mtls" \
        in p.stdout
    # attributed: the new policy is the cause (a rule-less ALLOW "allow-nothing", istio.io authorization-policy),
    # and the guard names it too
    assert "        because AuthorizationPolicy production/lock added" in p.stdout
    assert ("! mesh-cut: ingress-nginx/ingress-nginx-controller -> production/frontend: the mesh now denies it at L7 "
            "(was allowed) [AuthorizationPolicy production/lock added]") in p.stdout


def test_mesh_change_causes_name_injection_and_ignore_unrelated_objects(tmp_path):
    """A change of sidecar injection is the cause when no mesh object changed; a policy of another namespace
    changed at the same time is not named (it is not in the pair's mesh chain)."""
    from kubectl_microseg.engine.simulate import simulate
    from kubectl_microseg.model.objects import SourceObject
    from kubectl_microseg.plugins.demo import DemoSource

    base = list(DemoSource().load().objects)
    order = next(o for o in base if o.kind == "Deployment" and o.name == "order-service")
    injected = json.loads(json.dumps(order.raw))
    injected["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] = "true"
    other = SourceObject({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                          "metadata": {"name": "elsewhere", "namespace": "staging"}, "spec": {"action": "AUDIT"}})
    diff, _ = simulate(base, [SourceObject(injected), other])
    change = next(c for c in diff.mesh_changes if (c["from"], c["to"]) == ("production/order-service",
                                                                             "pci/payment-service"))
    assert change["before"]["mtls"] == "refused" and change["after"]["mtls"] == "mtls"
    assert [x["change"] for x in change["causes"]] == ["dataplane"]
    assert change["causes"][0]["text"] == "production/order-service: none -> sidecar (sidecar injection labels)"


def test_simulate_in_one_namespace_keeps_its_mesh_changes_only(tmp_path):
    """`simulate -n NS` filters the diff to pairs touching NS, mesh changes included (the filter once built
    the diff positionally and put the notes where the mesh changes go)."""
    permissive = tmp_path / "permissive.yaml"
    permissive.write_text("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: strict-mtls, "
                          "namespace: pci}\nspec: {mtls: {mode: PERMISSIVE}}\n")
    base = [sys.executable, "-m", "kubectl_microseg", "--demo", "simulate", "-f", str(permissive), "-o", "json"]
    inside = subprocess.run(base + ["-n", "pci"], capture_output=True, text=True, check=False)
    assert inside.returncode == 0, inside.stderr
    assert [(c["from"], c["to"]) for c in json.loads(inside.stdout)["meshChanges"]] == \
        [("production/order-service", "pci/payment-service")]
    outside = subprocess.run(base + ["-n", "staging"], capture_output=True, text=True, check=False)
    assert outside.returncode == 0, outside.stderr
    assert "meshChanges" not in json.loads(outside.stdout)
