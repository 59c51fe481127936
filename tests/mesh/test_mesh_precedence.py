"""Which PeerAuthentication applies when several match at one level, and which ports HTTP rules can apply to.

istio.io concepts/security, "Selector field": "When you configure multiple mesh- or namespace-wide peer
authentication policies for the same mesh or namespace, Istio ignores the newer policies. When more than one
workload-specific peer authentication policy matches, Istio picks the oldest one."
"""

from __future__ import annotations

from kubectl_microseg.engine.mesh import MeshAnalyzer, MtlsState, pair_verdict
from kubectl_microseg.model.ports import ConnSet
from tests.mesh.test_istio_mesh import NS, WORKLOADS, mesh_of


def _pa(name: str, mode: str, created: str = "", selector: str = "") -> str:
    stamp = f", creationTimestamp: '{created}'" if created else ""
    sel = f"\n  selector: {{matchLabels: {{{selector}}}}}" if selector else ""
    return f"""
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: {name}, namespace: production{stamp}}}
spec:{sel}
  mtls: {{mode: {mode}}}
"""


def _legacy_to_api(text: str):
    mesh, w = mesh_of(NS + WORKLOADS + text)
    return pair_verdict(mesh, w["legacy"], w["api-server"], ConnSet.all())


def test_the_oldest_namespace_wide_peer_authentication_applies():
    older_strict = _pa("z-strict", "STRICT", "2024-01-01T00:00:00Z") + _pa("a-permissive", "PERMISSIVE",
                                                                            "2025-06-01T00:00:00Z")
    r = _legacy_to_api(older_strict)
    assert r.mtls is MtlsState.REFUSED and not r.uncertain  # z-strict is older, whatever the names say
    assert any("Istio uses the oldest, production/z-strict" in s.text for s in r.steps)
    older_permissive = _pa("z-strict", "STRICT", "2025-06-01T00:00:00Z") + _pa("a-permissive", "PERMISSIVE",
                                                                                "2024-01-01T00:00:00Z")
    assert _legacy_to_api(older_permissive).mtls is MtlsState.PLAINTEXT


def test_the_oldest_matching_workload_peer_authentication_applies():
    two = (_pa("new", "PERMISSIVE", "2025-01-01T00:00:00Z", "app: api-server")
           + _pa("old", "STRICT", "2023-01-01T00:00:00Z", "app: api-server"))
    assert _legacy_to_api(two).mtls is MtlsState.REFUSED


def test_without_timestamps_the_choice_is_uncertain_and_said():
    r = _legacy_to_api(_pa("b", "STRICT") + _pa("a", "PERMISSIVE"))
    assert r.uncertain
    assert any("the input does not say which" in s.text and "production/a taken" in s.text for s in r.steps)


# istio.io ops/configuration/traffic-management/protocol-selection: a Service port's protocol is its
# ``appProtocol`` or its name ``<protocol>[-<suffix>]`` ("appProtocol takes precedence over the port name");
# tasks/security/authorization/authz-tcp: on TCP traffic an ALLOW rule with an HTTP-only field "becomes invalid
# ... Istio ignores the invalid ALLOW rule"; a DENY rule with HTTP-only fields denies all the TCP traffic.
def _service(ports: str) -> str:
    return f"""
---
apiVersion: v1
kind: Service
metadata: {{name: api, namespace: production}}
spec:
  selector: {{app: api-server}}
  ports: {ports}
"""


GET_ONLY = """
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: get-only, namespace: production}
spec:
  selector: {matchLabels: {app: api-server}}
  rules: [{to: [{operation: {methods: ["GET"]}}]}]
"""
DENY_GET = GET_ONLY.replace("get-only", "deny-get").replace("  rules:", "  action: DENY\n  rules:")


def _frontend_to_api(text: str, port: int):
    mesh, w = mesh_of(NS + WORKLOADS + text)
    return pair_verdict(mesh, w["frontend"], w["api-server"], ConnSet({"TCP": [(port, port)]}))


def test_http_only_allow_rule_never_matches_a_tcp_port():
    from kubectl_microseg.engine.mesh import MeshVerdict

    tcp = _service("[{name: tcp-db, port: 5432}, {name: http-web, port: 80, targetPort: 8080}]")
    r = _frontend_to_api(tcp + GET_ONLY, 5432)
    assert r.verdict is MeshVerdict.DENIED  # the rule is ignored on 5432: no ALLOW rule matches
    assert any("the ALLOW rule is ignored there" in s.text for s in r.steps)
    assert _frontend_to_api(tcp + GET_ONLY, 8080).verdict is MeshVerdict.SOME  # HTTP: GET requests only
    # appProtocol takes precedence over the name; a port no Service names is detected at run time (HTTP)
    app = _service("[{name: http-db, appProtocol: tcp, port: 5432}]")
    assert _frontend_to_api(app + GET_ONLY, 5432).verdict is MeshVerdict.DENIED
    assert _frontend_to_api(GET_ONLY, 5432).verdict is MeshVerdict.SOME


def test_http_only_deny_rule_denies_every_connection_on_a_tcp_port():
    from kubectl_microseg.engine.mesh import MeshVerdict

    tcp = _service("[{name: mongo, port: 27017}]")
    assert _frontend_to_api(tcp + DENY_GET, 27017).verdict is MeshVerdict.DENIED
    assert _frontend_to_api(DENY_GET, 27017).verdict is MeshVerdict.SOME  # HTTP: only GET is denied


def test_named_target_port_resolves_on_the_pods():
    from kubectl_microseg.engine.mesh import MeshVerdict

    named = NS + WORKLOADS.replace("containers: [{name: c, image: x}]}",
                                   "containers: [{name: c, image: x, ports: [{name: db, containerPort: 5432}]}]}", 1)
    mesh, w = mesh_of(named + _service("[{name: tcp, port: 15432, targetPort: db}]") + GET_ONLY)
    r = pair_verdict(mesh, w["frontend"], w["api-server"], ConnSet({"TCP": [(5432, 5432)]}))
    assert r.verdict is MeshVerdict.DENIED


def test_namespace_level_rules_class_clients_by_namespace_and_per_account_rules_do_not():
    """The matrix shares verdicts between clients only where the destination's rules cannot tell them apart."""
    from kubectl_microseg.engine.mesh import _by_namespace

    assert _by_namespace(({"principals": ("cluster.local/ns/prod/sa/*",)}, {"namespaces": ("a",)}), ())
    assert not _by_namespace(({"principals": ("cluster.local/ns/prod/sa/frontend",)},), ())
    assert not _by_namespace(({"ipBlocks": ("10.0.0.0/8",)},), ())
    assert not _by_namespace(({"principals": ("cluster.local/ns/prod/sa/front*",)},), ())
    # and the matrix gives two clients of one namespace their own verdicts under a per-account rule
    from kubectl_microseg.engine.mesh import annotate, MeshVerdict
    from tests.core.util import analyzer
    text = NS + WORKLOADS + """
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: one, namespace: production}
spec:
  selector: {matchLabels: {app: api-server}}
  rules: [{from: [{source: {principals: ["cluster.local/ns/production/sa/frontend"]}}]}]
"""
    an = analyzer(text)
    m = annotate(an.matrix(), MeshAnalyzer(an.cluster))
    assert m.cells[("production/frontend", "production/api-server")].mesh.verdict is MeshVerdict.ALLOWED
    assert m.cells[("production/worker", "production/api-server")].mesh.verdict is MeshVerdict.DENIED


def test_active_without_mesh_objects_sees_a_pod_opting_in_by_annotation():
    """The live path asks ``active`` on every update: it must still see a sidecar injected by the pod's (older)
    annotation form in a namespace without injection labels (istio.io sidecar-injection, "Controlling the
    injection policy")."""
    plain = NS.replace("labels: {istio-injection: enabled}", "labels: {}")
    mesh, _ = mesh_of(plain + WORKLOADS)
    assert not mesh.active
    annotated = WORKLOADS.replace("{labels: {app: frontend}}", "{labels: {app: frontend}, annotations: "
                                  "{sidecar.istio.io/inject: 'true'}}", 1)
    assert annotated != WORKLOADS
    mesh, _ = mesh_of(plain + annotated)
    assert mesh.active
