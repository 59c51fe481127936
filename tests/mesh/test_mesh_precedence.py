"""Which PeerAuthentication applies when several match at one level, and which ports HTTP rules can apply to.

istio.io concepts/security, "Selector field": "When you configure multiple mesh- or namespace-wide peer
authentication policies for the same mesh or namespace, Istio ignores the newer policies. When more than one
workload-specific peer authentication policy matches, Istio picks the oldest one."
"""

from __future__ import annotations

from kubectl_microseg.engine.mesh import MtlsState, pair_verdict
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
