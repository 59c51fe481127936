"""ipBlock peers: CIDR and except, IPv4 and IPv6, the split of outside addresses into atoms, and
whether an ipBlock matches pods.

Citations:
- [API-IPBlock] Kubernetes API reference, IPBlock: "IPBlock describes a particular CIDR (Ex.
  "192.168.1.0/24","2001:db8::/64") that is allowed to the pods matched by a NetworkPolicySpec's
  podSelector. The except entry describes CIDRs that should not be included within this rule."
- [Concepts-IPBlock] Concepts page "Network Policies": "ipBlock: This selects particular IP CIDR ranges
  to allow as ingress sources or egress destinations. These should be cluster-external IPs, since Pod
  IPs are ephemeral and unpredictable." CONTRACT.md: by default an ipBlock selects only outside
  addresses, never pods; a mode that also matches pod IPs (as some CNIs do) is an option.
- [Contract-External] CONTRACT.md: outside addresses are endpoints of kind External, the space split by
  every CIDR and except the policies name plus the rest, IPv4 and IPv6.
"""

from __future__ import annotations

import ipaddress

import pytest

from kubectl_microseg.errors import InputError
from kubectl_microseg.model.addresses import AddressSet

from .util import ALL, analyzer, conns, external_for, external_ids, matrix, netpol, pod, tcp

PODS = pod("a", labels={"app": "a"}, ip="10.1.0.5") + pod("b", labels={"app": "b"}, ip="10.1.0.6")


def egress_block(block: str) -> str:
    return netpol("p", f"podSelector: {{matchLabels: {{app: a}}}}\npolicyTypes: [Egress]\negress:\n- to:\n  - ipBlock: {block}")


def test_ipblock_with_except_ipv4():
    """[API-IPBlock] addresses in cidr and not in except are allowed; except holes are not."""
    m = matrix(PODS + egress_block("{cidr: 10.0.0.0/8, except: [10.1.0.0/16, 10.2.3.0/24]}"))
    for ip, ok in [("10.0.0.1", True), ("10.255.255.255", True), ("10.1.2.3", False), ("10.2.3.4", False),
                   ("10.2.4.1", True), ("11.0.0.0", False), ("9.255.255.255", False), ("::1", False)]:
        assert bool(conns(m, "default/a", external_for(m, ip))) is ok, ip


def test_ipblock_ipv6_with_except():
    """[API-IPBlock] IPv6 CIDRs work the same way ("2001:db8::/64" is the reference's own example)."""
    m = matrix(PODS + egress_block("{cidr: '2001:db8::/32', except: ['2001:db8:1::/48']}"))
    for ip, ok in [("2001:db8::1", True), ("2001:db8:1::1", False), ("2001:db8:2::1", True),
                   ("2001:db9::1", False), ("10.0.0.1", False)]:
        assert bool(conns(m, "default/a", external_for(m, ip))) is ok, ip


def test_atoms_split_exactly_at_cidr_and_except_boundaries():
    """[Contract-External] the External endpoints partition IPv4+IPv6, each wholly in or out of the block."""
    m = matrix(PODS + egress_block("{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}"))
    ext = [e for e in m.endpoints if e.is_external]
    nets = [ipaddress.ip_network(c) for e in ext for c in e.cidrs]
    v4 = sum(n.num_addresses for n in nets if n.version == 4)
    v6 = sum(n.num_addresses for n in nets if n.version == 6)
    assert v4 == 2**32 and v6 == 2**128  # a partition: the sizes add up and (below) nothing overlaps
    for i, x in enumerate(nets):
        for y in nets[i + 1:]:
            assert x.version != y.version or not x.overlaps(y)
    ids = external_ids(m)
    assert len(ids) == len(set(ids))
    block = AddressSet.from_cidr("10.0.0.0/8", ["10.1.0.0/16"])
    inside = set()
    for e in ext:
        parts = [AddressSet.from_cidr(c) for c in e.cidrs]
        flags = {bool(p & block) and (p - block) == AddressSet() for p in parts}
        assert len(flags) == 1 and (flags.pop() or not any(p & block for p in parts)), e.id
        if parts[0] & block:
            inside |= set(e.cidrs)
    union = AddressSet()
    for c in inside:
        union = union | AddressSet.from_cidr(c)
    assert union == block


def test_ipblock_never_matches_pods_by_default():
    """[Concepts-IPBlock] by default an ipBlock containing a pod's IP does not select that pod."""
    m = matrix(PODS + egress_block("{cidr: 10.1.0.0/16}"))
    assert not conns(m, "default/a", "default/b")
    assert conns(m, "default/a", external_for(m, "10.1.0.6")) == ALL


def test_ipblock_matches_pods_option():
    """--ipblock-matches-pods: the ipBlock also selects pods whose IP it contains (except excluded)."""
    m = matrix(PODS + egress_block("{cidr: 10.1.0.0/16}"), ipblock_matches_pods=True)
    assert conns(m, "default/a", "default/b") == ALL
    m2 = matrix(PODS + egress_block("{cidr: 10.1.0.0/16, except: [10.1.0.6/32]}"), ipblock_matches_pods=True)
    assert not conns(m2, "default/a", "default/b")
    m3 = matrix(PODS + egress_block("{cidr: 10.2.0.0/16}"), ipblock_matches_pods=True)
    assert not conns(m3, "default/a", "default/b")


def test_ipblock_matches_pods_option_for_ingress():
    """--ipblock-matches-pods on the ingress side: the source pod's IP inside the block is allowed."""
    text = PODS + netpol("p", "podSelector: {matchLabels: {app: b}}\ningress:\n- from:\n  - ipBlock: {cidr: 10.1.0.5/32}\n"
                              "  ports: [{port: 443}]")
    assert not conns(matrix(text), "default/a", "default/b")
    assert conns(matrix(text, ipblock_matches_pods=True), "default/a", "default/b") == tcp(443)


def test_ingress_ipblock_from_outside():
    """[API-IPBlock] ingress from an ipBlock: sources in the block reach the pod on the rule's ports."""
    text = PODS + netpol("p", "podSelector: {matchLabels: {app: b}}\ningress:\n- from:\n"
                              "  - ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}\n  ports: [{port: 443}]")
    m = matrix(text)
    assert conns(m, external_for(m, "192.168.2.1"), "default/b") == tcp(443)
    assert not conns(m, external_for(m, "192.168.1.1"), "default/b")
    assert not conns(m, external_for(m, "8.8.8.8"), "default/b")
    assert not conns(m, "default/a", "default/b")


def test_overlapping_ipblocks_in_one_rule_unite():
    """[API-From] the peers of one rule are ORed: an except hole covered by another block is allowed."""
    m = matrix(PODS + netpol("p", "podSelector: {matchLabels: {app: a}}\npolicyTypes: [Egress]\negress:\n- to:\n"
                                  "  - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n  - ipBlock: {cidr: 10.1.2.0/24}"))
    assert conns(m, "default/a", external_for(m, "10.1.2.3"))
    assert not conns(m, "default/a", external_for(m, "10.1.3.3"))


def test_host_bits_in_cidr_are_refused():
    """StrictIPCIDRValidation (apimachinery validation/ip.go, on by default since v1.33; a v1.36.2 server
    refuses ``10.0.0.1/24``): "must not have bits set beyond the prefix length", in cidr and except."""
    with pytest.raises(InputError, match="must not have bits set beyond the prefix length"):
        matrix(PODS + egress_block("{cidr: 10.1.2.3/16}"))
    with pytest.raises(InputError, match="must not have bits set beyond the prefix length"):
        matrix(PODS + egress_block("{cidr: 10.0.0.0/8, except: [10.1.2.3/16]}"))


def test_explain_atom_for_address():
    """The analyzer finds the external range of an address (used by ``test`` with IP endpoints)."""
    an = analyzer(PODS + egress_block("{cidr: 10.0.0.0/8}"))
    assert an.atom_for("10.9.9.9").id == "10.0.0.0/8"
    assert an.atom_for("2001:db8::1").id == "::/0"
