"""Provides the symbolic constants of nftables: protocol numbers, ICMP types, ct states, priorities.

These are the names libnftables prints in JSON (``nft -j list ruleset``) and accepts in rulesets.
References: nft(8) "DATA TYPES" and "PAYLOAD EXPRESSION"; libnftables-json(5); the kernel's
``include/uapi/linux/netfilter/nf_conntrack_common.h`` for the ct state bits.
"""

from __future__ import annotations

import ipaddress
import socket

L4PROTO: dict[str, int] = {
    "hopopt": 0, "ip": 0,  # /etc/protocols names 0 'ip'; after ip6 nexthdr it is the hop-by-hop header
    "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "dccp": 33, "gre": 47, "esp": 50, "ah": 51,
    "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132, "udplite": 136,
}
"""Layer 4 protocol names (``meta l4proto``, ``ip protocol``, ``ip6 nexthdr``) to numbers."""

PORT_PROTOCOLS = ("tcp", "udp", "sctp")
"""The protocols whose headers carry source and destination ports."""

NFPROTO: dict[str, int] = {"ipv4": 2, "ipv6": 10, "inet": 1, "arp": 3, "bridge": 7, "netdev": 5}
"""``meta nfproto`` names (NFPROTO_* of the kernel)."""

ETHERTYPE: dict[str, int] = {"ip": 0x0800, "ip6": 0x86DD, "arp": 0x0806, "vlan": 0x8100}
"""``meta protocol`` names (the link-layer ethertype)."""

# nf_conntrack_common.h: NF_CT_STATE_INVALID_BIT = 1, then 1 << (IP_CT_xxx + 1);
# NF_CT_STATE_UNTRACKED_BIT = 1 << 6.
CT_STATE: dict[str, int] = {"invalid": 1, "established": 2, "related": 4, "new": 8, "untracked": 64}

TCP_FLAGS: dict[str, int] = {"fin": 0x01, "syn": 0x02, "rst": 0x04, "psh": 0x08, "ack": 0x10,
                             "urg": 0x20, "ecn": 0x40, "cwr": 0x80}

ICMP_TYPE: dict[str, int] = {
    "echo-reply": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5, "echo-request": 8,
    "router-advertisement": 9, "router-solicitation": 10, "time-exceeded": 11, "parameter-problem": 12,
    "timestamp-request": 13, "timestamp-reply": 14, "info-request": 15, "info-reply": 16,
    "address-mask-request": 17, "address-mask-reply": 18,
}
ICMPV6_TYPE: dict[str, int] = {
    "destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3, "parameter-problem": 4,
    "echo-request": 128, "echo-reply": 129, "mld-listener-query": 130, "mld-listener-report": 131,
    "mld-listener-done": 132, "mld-listener-reduction": 132, "nd-router-solicit": 133,
    "nd-router-advert": 134, "nd-neighbor-solicit": 135, "nd-neighbor-advert": 136, "nd-redirect": 137,
    "router-renumbering": 138, "ind-neighbor-solicit": 141, "ind-neighbor-advert": 142,
    "mld2-listener-report": 143,
}
ICMP_CODE: dict[str, int] = {
    "net-unreachable": 0, "host-unreachable": 1, "prot-unreachable": 2, "port-unreachable": 3,
    "frag-needed": 4, "net-prohibited": 9, "host-prohibited": 10, "admin-prohibited": 13,
}
ICMPV6_CODE: dict[str, int] = {
    "no-route": 0, "admin-prohibited": 1, "addr-unreachable": 3, "port-unreachable": 4,
    "policy-fail": 5, "reject-route": 6,
}

SERVICES: dict[str, int] = {
    "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "bootps": 67, "bootpc": 68, "http": 80,
    "ntp": 123, "snmp": 161, "ldap": 389, "https": 443, "smtps": 465, "submission": 587, "ldaps": 636,
    "imaps": 993, "pop3s": 995, "mysql": 3306, "postgresql": 5432, "redis": 6379,
}
"""Service names nft may print instead of port numbers (``nft -S`` / hand-written JSON)."""

CHAIN_PRIORITY: dict[str, int] = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0,
                                  "security": 50, "srcnat": 100}
"""Standard priority names for the ip, ip6 and inet families (nft(8) "CHAINS", table 6)."""

CONNTRACK_PRIORITY = -200
"""NF_IP_PRI_CONNTRACK: conntrack attaches its entry at this priority on prerouting and output.
Chains with a lower priority see no conntrack entry (``ct state`` evaluates to ``invalid``)."""

ANALYSED_FAMILIES = ("ip", "ip6", "inet")
HOOK_PATHS: dict[str, tuple[str, ...]] = {
    "input": ("prerouting", "input"),
    "output": ("output", "postrouting"),
    "forward": ("prerouting", "forward", "postrouting"),
}
"""The netfilter hooks a new connection's first packet crosses, in order, for each flow direction."""


def address_value(text: str) -> tuple[int, int]:
    """An IPv4 or IPv6 address as (family 4|6, integer)."""
    text = str(text).strip()
    try:  # the common case, fast (a 50,000-address set): strict dotted quad only, as ip_address wants
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        pass
    ip = ipaddress.ip_address(text)
    return ip.version, int(ip)


def lookup_symbol(table: dict[str, int], value: object) -> int | None:
    """A symbol of ``table`` or a plain number; None when neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        v = value.strip().lower()
        if v in table:
            return table[v]
        try:
            return int(v, 0)
        except ValueError:
            return None
    return None
