"""Port rules of NetworkPolicy rules.

Citations:
- [API-Port] Kubernetes API reference, NetworkPolicyPort: protocol "The protocol (TCP, UDP, or SCTP)
  which traffic must match. If not specified, this field defaults to TCP."; port "If this field is not
  provided, this matches all port names and numbers. If present, only traffic on the specified protocol
  AND port will be matched."; endPort "indicates that the range of ports from port to endPort if set,
  inclusive, should be allowed by the policy".
- [API-Ports] NetworkPolicyIngressRule.ports / EgressRule.ports: "If this field is empty or missing,
  this rule matches all ports ... If this field is present and contains at least one item, then this
  rule allows traffic only if the traffic matches at least one port in the list."
- [API-Named] port "can be a number or a name of a port on a pod" (resolved against the destination
  pod's containerPorts); a named port resolves only where a container port has that name and the
  rule's protocol (netpol-analyzer convention 7, shared/conformance/README.md); a name that resolves
  nowhere opens nothing.
"""

from __future__ import annotations

import pytest

from kubectl_microseg.model.ports import ConnSet

from .util import ALL, NONE, conns, external_for, matrix, netpol, pod, sctp, tcp, udp

SRC = pod("client", labels={"app": "client"})


def ingress_ports(ports_yaml: str, dst_ports: str = "", dst: str = "server") -> ConnSet:
    """client -> server under an ingress rule on server with the given ``ports``."""
    text = (SRC + pod(dst, labels={"app": "server"}, ports=dst_ports)
            + netpol("p", f"podSelector: {{matchLabels: {{app: server}}}}\ningress:\n- ports: {ports_yaml}"))
    return conns(matrix(text), "default/client", f"default/{dst}")


@pytest.mark.parametrize("ports, expected", [
    ("[{port: 80}]", tcp(80)),  # [API-Port] protocol defaults to TCP
    ("[{port: 53, protocol: UDP}]", udp(53)),
    ("[{port: 9000, protocol: SCTP}]", sctp(9000)),
    ("[{port: 80, protocol: TCP}, {port: 53, protocol: UDP}]", tcp(80) | udp(53)),  # [API-Ports] any of
    ("[{port: 8000, endPort: 8010}]", tcp(8000, 8010)),  # [API-Port] endPort inclusive
    ("[{port: 8000, endPort: 8000}]", tcp(8000)),
    ("[{port: 1, endPort: 65535, protocol: UDP}]", ConnSet.protocol("UDP")),
    ("[{protocol: UDP}]", ConnSet.protocol("UDP")),  # [API-Port] no port: every port of that protocol
    ("[{}]", ConnSet.protocol("TCP")),  # protocol defaulted to TCP, all its ports
    ("[]", ALL),  # [API-Ports] empty list: all ports
    ("null", ALL),  # missing: all ports
])
def test_numeric_ports_protocols_and_ranges(ports, expected):
    assert ingress_ports(ports) == expected


def test_named_port_resolves_against_destination_container_ports():
    """[API-Named] 'http' resolves to the destination's containerPort named http."""
    got = ingress_ports("[{port: http}]", "[{name: http, containerPort: 8080}]")
    assert got == tcp(8080)


def test_named_port_needs_matching_protocol():
    """[API-Named] name and protocol must both match: a UDP rule does not open a TCP named port."""
    assert ingress_ports("[{port: dns, protocol: UDP}]", "[{name: dns, containerPort: 53}]") == NONE
    assert ingress_ports("[{port: dns, protocol: UDP}]", "[{name: dns, containerPort: 53, protocol: UDP}]") == udp(53)
    assert ingress_ports("[{port: dns}]", "[{name: dns, containerPort: 53, protocol: UDP}]") == NONE


def test_unresolvable_named_port_opens_nothing():
    """[API-Named] a name no container port has opens nothing (and is not an error)."""
    assert ingress_ports("[{port: metrics}]", "[{name: http, containerPort: 80}]") == NONE
    # the other entries of the same rule still apply
    assert ingress_ports("[{port: metrics}, {port: 443}]", "[{name: http, containerPort: 80}]") == tcp(443)


def test_named_port_is_resolved_per_destination():
    """[API-Named] the same egress rule opens different numbers toward destinations whose 'web'
    port differs, and nothing toward a destination without it."""
    text = (pod("client", labels={"app": "client"})
            + pod("s1", labels={"app": "s"}, ports="[{name: web, containerPort: 80}]")
            + pod("s2", labels={"app": "s"}, ports="[{name: web, containerPort: 8080}]")
            + pod("s3", labels={"app": "s"}, ports="[{name: other, containerPort: 9090}]")
            + netpol("p", "podSelector: {matchLabels: {app: client}}\npolicyTypes: [Egress]\n"
                          "egress:\n- ports: [{port: web}]"))
    m = matrix(text)
    assert conns(m, "default/client", "default/s1") == tcp(80)
    assert conns(m, "default/client", "default/s2") == tcp(8080)
    assert conns(m, "default/client", "default/s3") == NONE
    # an outside address has no container ports: a named egress port opens nothing there
    assert conns(m, "default/client", external_for(m, "8.8.8.8")) == NONE


def test_named_ports_in_ingress_and_egress_are_both_resolved_at_destination():
    """[API-Named] + both directions needed: egress names 'web', ingress numbers 8080."""
    text = (pod("client", labels={"app": "client"})
            + pod("s", labels={"app": "s"}, ports="[{name: web, containerPort: 8080}]")
            + netpol("e", "podSelector: {matchLabels: {app: client}}\npolicyTypes: [Egress]\n"
                          "egress:\n- ports: [{port: web}]")
            + netpol("i", "podSelector: {matchLabels: {app: s}}\ningress:\n- ports: [{port: 8080}, {port: 9090}]"))
    assert conns(matrix(text), "default/client", "default/s") == tcp(8080)


def test_named_port_of_a_workload_template():
    """[API-Named] a Deployment's pod template container ports resolve named ports too."""
    text = SRC + """
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: x
        ports: [{name: http, containerPort: 8080}, {name: admin, containerPort: 9000, protocol: UDP}]
""" + netpol("p", "podSelector: {matchLabels: {app: web}}\ningress:\n- ports: [{port: http}, {port: admin, protocol: UDP}]")
    assert conns(matrix(text), "default/client", "default/web") == tcp(8080) | udp(9000)
