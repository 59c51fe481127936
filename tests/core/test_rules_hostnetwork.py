"""hostNetwork pods.

Citations:
- [Concepts-Host] Concepts page "Network Policies", "NetworkPolicy and hostNetwork pods": the behaviour
  is undefined; the most common implementations either treat hostNetwork pod traffic like node traffic
  (policies neither select it nor match it with pod/namespace selectors; only an ipBlock containing the
  node address matches it) or treat them as ordinary pods. The default here is the first (node
  traffic); ``--hostnetwork-as-pods`` is the second (what np-guard/netpol-analyzer does, README
  convention 8).
"""

from __future__ import annotations

from .util import ALL, NONE, analyzer, conns, external_for, matrix, netpol, pod, tcp

NODE_IP = "192.168.49.2"
PODS = (pod("h", labels={"app": "h"}, host_network=True, ip=NODE_IP)
        + pod("a", labels={"app": "a"}, ip="10.244.0.5") + pod("b", labels={"app": "b"}, ip="10.244.0.6"))
DENY_ALL = netpol("deny-all", "podSelector: {}\npolicyTypes: [Ingress, Egress]")


def allow_in_from(peer: str, name: str = "allow") -> str:
    return netpol(name, f"podSelector: {{matchLabels: {{app: b}}}}\ningress:\n- from:\n  - {peer}\n  ports: [{{port: 80}}]")


def test_hostnetwork_pod_is_not_selected_or_isolated():
    """[Concepts-Host] default: a select-all deny policy does not isolate the hostNetwork pod."""
    m = matrix(PODS + DENY_ALL)
    assert conns(m, "default/h", "default/h") == ALL
    assert conns(m, external_for(m, "8.8.8.8"), "default/h") == ALL
    assert conns(m, "default/h", external_for(m, "8.8.8.8")) == ALL
    # ordinary pods are isolated, so they reach neither h nor each other
    assert not conns(m, "default/a", "default/h") and not conns(m, "default/a", "default/b")
    assert not conns(m, "default/h", "default/a")


def test_hostnetwork_pod_not_matched_by_pod_selectors():
    """[Concepts-Host] default: podSelector/namespaceSelector peers do not match a hostNetwork pod."""
    for peer in ("podSelector: {matchLabels: {app: h}}", "podSelector: {}", "namespaceSelector: {}"):
        m = matrix(PODS + allow_in_from(peer))
        assert not conns(m, "default/h", "default/b"), peer
    m = matrix(PODS + allow_in_from("podSelector: {}"))
    assert conns(m, "default/a", "default/b") == tcp(80)


def test_hostnetwork_pod_matched_by_ipblock_containing_node_ip():
    """[Concepts-Host] default: traffic of a hostNetwork pod is the node's; an ipBlock holding the node
    address matches it, in both directions."""
    m = matrix(PODS + allow_in_from("ipBlock: {cidr: 192.168.49.0/24}"))
    assert conns(m, "default/h", "default/b") == tcp(80)
    m2 = matrix(PODS + allow_in_from("ipBlock: {cidr: 192.168.49.0/24, except: [192.168.49.2/32]}"))
    assert not conns(m2, "default/h", "default/b")
    eg = netpol("eg", "podSelector: {matchLabels: {app: a}}\npolicyTypes: [Egress]\negress:\n"
                      "- to: [{ipBlock: {cidr: 192.168.49.2/32}}]\n  ports: [{port: 10250}]")
    m3 = matrix(PODS + eg)
    assert conns(m3, "default/a", "default/h") == tcp(10250)
    assert not conns(m3, "default/a", "default/b")


def test_hostnetwork_endpoint_is_marked_in_the_contract():
    doc = matrix(PODS).to_contract()
    ep = {e["id"]: e for e in doc["endpoints"]}
    assert ep["default/h"].get("hostNetwork") is True
    assert "hostNetwork" not in ep["default/a"]


def test_hostnetwork_explain_says_policies_do_not_apply():
    """explain: the verdict for a hostNetwork pod says why it is not isolated."""
    an = analyzer(PODS + DENY_ALL)
    h = an.workload_classes["default/h"][0]
    a = an.workload_classes["default/a"][0]
    v = an.verdict_classes(a, h, "default/a", "default/h")
    assert v.ingress.reasons[0].kind == "HOST_NETWORK" and not v.ingress.isolated
    assert v.allowed == NONE  # a's egress is still denied


def test_hostnetwork_as_pods_treats_them_like_pods():
    """--hostnetwork-as-pods (netpol-analyzer's semantics): selected, isolated and matched by selectors;
    not matched by ipBlock (pods never are by default)."""
    m = matrix(PODS + DENY_ALL, hostnetwork_as_pods=True)
    assert not conns(m, "default/h", "default/h")
    assert not conns(m, external_for(m, "8.8.8.8"), "default/h")
    m2 = matrix(PODS + allow_in_from("podSelector: {matchLabels: {app: h}}"), hostnetwork_as_pods=True)
    assert conns(m2, "default/h", "default/b") == tcp(80)
    m3 = matrix(PODS + allow_in_from("ipBlock: {cidr: 192.168.49.0/24}"), hostnetwork_as_pods=True)
    assert not conns(m3, "default/h", "default/b")


def test_hostnetwork_as_pods_and_ipblock_matches_pods_together():
    """Both options: the hostNetwork pod is a pod, and an ipBlock holding its IP matches it."""
    m = matrix(PODS + allow_in_from("ipBlock: {cidr: 192.168.49.0/24}"), hostnetwork_as_pods=True,
               ipblock_matches_pods=True)
    assert conns(m, "default/h", "default/b") == tcp(80)


def test_hostnetwork_workload_template():
    """[Concepts-Host] a DaemonSet with hostNetwork in its template is not selected either (no IP known,
    so no ipBlock can match it)."""
    ds = """
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {hostNetwork: true, containers: [{name: c, image: x}]}
"""
    m = matrix(PODS + ds + DENY_ALL + allow_in_from("podSelector: {matchLabels: {app: agent}}"))
    assert conns(m, "default/a", "default/agent") == NONE  # a's egress is isolated
    assert conns(m, "default/agent", "default/a") == NONE  # a's ingress is isolated
    assert conns(m, "default/agent", "default/b") == NONE  # the selector does not match it
    assert conns(m, external_for(m, "1.1.1.1"), "default/agent") == ALL
