"""Hand-written cases, one or more per construct: the kernel, the engine and the expectation must agree.

Each case loads a ruleset into the lab's firewall namespace R and sends real packets (A -> R input,
R -> A output, A -> B forward). Every drop-policy chain first accepts established traffic and IPv6
neighbour discovery, so what is measured is the verdict on the first packet.
"""

from __future__ import annotations

import pytest

from .kernel import compare
from .netlab import LabFlow

pytestmark = pytest.mark.netns

EST = ("ct state established,related accept\n"
       "        icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept\n")
ALLOW, DENY = "allow", "deny"


def F(hook: str, proto: str, src: str, dst: str, port: int | None, expect: str, sport: int | None = None,
      assume: tuple[str, ...] = ()):
    return (LabFlow(hook, proto, src, dst, port, sport, assume=assume), expect)


IDLE = ("under-limits",)
"""The lab is idle: no rate is exceeded by a flow's first packet (without this the verdict is unknown)."""


SEED = f"""
table inet microseg {{
    define mgmt_net = 10.0.100.0/24
    define api_net = 10.0.10.0/24
    define monitoring_net = 10.0.50.0/24
    define dns_server = 10.0.0.2
    chain input {{
        type filter hook input priority 0; policy drop;
        {EST}
        iif lo accept
        ip saddr $mgmt_net tcp dport 22 accept
        ip saddr $api_net tcp dport 5432 accept
        ip saddr $monitoring_net tcp dport 9187 accept
        log prefix "nft-input-drop: " counter drop
    }}
    chain output {{
        type filter hook output priority 0; policy drop;
        {EST}
        oif lo accept
        ip daddr $dns_server udp dport 53 accept
        ip daddr $dns_server tcp dport 53 accept
        udp dport 123 accept
        log prefix "nft-output-drop: " counter drop
    }}
}}
"""

CASES: dict[str, tuple[str, list]] = {
    "seed database server": (SEED, [
        F("input", "tcp", "10.0.100.7", "10.0.0.9", 22, ALLOW),
        F("input", "tcp", "10.0.10.5", "10.0.0.9", 22, DENY),
        F("input", "tcp", "10.0.10.5", "10.0.0.9", 5432, ALLOW),
        F("input", "tcp", "10.0.50.3", "10.0.0.9", 9187, ALLOW),
        F("input", "tcp", "10.0.50.3", "10.0.0.9", 5432, DENY),
        F("input", "tcp", "203.0.113.50", "10.0.0.9", 5432, DENY),
        F("input", "udp", "10.0.100.7", "10.0.0.9", 53, DENY),
        F("input", "tcp", "fd00:100::7", "fd00::9", 22, DENY),
        F("output", "udp", "10.0.0.9", "10.0.0.2", 53, ALLOW),
        F("output", "tcp", "10.0.0.9", "10.0.0.2", 53, ALLOW),
        F("output", "udp", "10.0.0.9", "10.0.100.7", 53, DENY),
        F("output", "udp", "10.0.0.9", "203.0.113.50", 123, ALLOW),
        F("output", "tcp", "10.0.0.9", "203.0.113.50", 443, DENY),
    ]),
    "accept ends only its base chain; priorities across tables": ("""
table ip early {
    chain i { type filter hook input priority -10; policy accept; tcp dport 80 accept; }
}
table inet late {
    chain i { type filter hook input priority 10; policy drop;
        """ + EST + """
        tcp dport 22 accept
    }
}
""", [F("input", "tcp", "10.0.100.7", "10.0.0.9", 80, DENY), F("input", "tcp", "10.0.100.7", "10.0.0.9", 22, ALLOW),
      F("input", "udp", "fd00:100::7", "fd00::9", 53, DENY)]),
    "drop in an early chain is final": ("""
table inet a {
    chain i { type filter hook input priority -5; tcp dport 80 drop; }
}
table ip6 b {
    chain i { type filter hook input priority 5; policy accept; tcp dport 81 drop; }
}
table inet c {
    chain i { type filter hook input priority 20; policy accept; accept; }
}
""", [F("input", "tcp", "10.0.100.7", "10.0.0.9", 80, DENY), F("input", "tcp", "10.0.100.7", "10.0.0.9", 81, ALLOW),
      F("input", "tcp", "fd00:100::7", "fd00::9", 81, DENY), F("input", "tcp", "fd00:100::7", "fd00::9", 82, ALLOW)]),
    "jump, return, goto, continue": ("""
table inet t {
    chain x {
        tcp dport 80 return
        tcp dport 81 accept
        tcp dport 82 drop
    }
    chain empty {
        counter
    }
    chain i { type filter hook input priority 0; policy drop;
        """ + EST + """
        jump x
        tcp dport 80 accept
        tcp dport 83 goto empty
        tcp dport 83 accept
        tcp dport 84 jump empty
        tcp dport 84 accept
        tcp dport 85 continue
        tcp dport 85 accept
    }
}
""", [F("input", "tcp", "10.0.100.7", "10.0.0.9", 80, ALLOW), F("input", "tcp", "10.0.100.7", "10.0.0.9", 81, ALLOW),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 82, DENY), F("input", "tcp", "10.0.100.7", "10.0.0.9", 83, DENY),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 84, ALLOW), F("input", "tcp", "10.0.100.7", "10.0.0.9", 85, ALLOW),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 86, DENY)]),
    "return from a base chain applies its policy": ("""
table inet t {
    chain i { type filter hook input priority 0; policy drop;
        """ + EST + """
        tcp dport 80 return
        accept
    }
}
""", [F("input", "tcp", "10.0.100.7", "10.0.0.9", 80, DENY), F("input", "tcp", "10.0.100.7", "10.0.0.9", 81, ALLOW)]),
    "verdict maps, anonymous and named; a miss goes on": ("""
table ip t {
    map ports { type inet_service : verdict; elements = { 80 : accept, 81 : drop, 82 : jump c } }
    map srcs { type ipv4_addr : verdict; flags interval; elements = { 10.0.10.0/24 : accept, 10.0.50.0/24 : drop } }
    chain c {
        ip saddr 10.0.100.0/24 accept
    }
    chain i { type filter hook input priority 0; policy drop;
        ct state established,related accept
        tcp dport vmap @ports
        udp dport vmap { 53 : accept, 123 : drop }
        ip saddr vmap @srcs
        udp dport 123 accept
    }
}
""", [F("input", "tcp", "10.9.9.9", "10.0.0.9", 80, ALLOW), F("input", "tcp", "10.0.10.5", "10.0.0.9", 81, DENY),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 82, ALLOW), F("input", "tcp", "10.9.9.9", "10.0.0.9", 82, DENY),
      F("input", "tcp", "10.0.10.5", "10.0.0.9", 443, ALLOW), F("input", "tcp", "10.0.50.3", "10.0.0.9", 443, DENY),
      F("input", "udp", "10.9.9.9", "10.0.0.9", 53, ALLOW), F("input", "udp", "10.0.10.5", "10.0.0.9", 123, DENY)]),
    "named sets with intervals, concatenations, anonymous sets": ("""
table inet t {
    set src { type ipv4_addr; flags interval; elements = { 10.0.100.0/24, 192.168.1.1-192.168.1.9 } }
    set svc { type ipv4_addr . inet_service; flags interval; elements = { 10.0.10.0/24 . 5432, 10.0.50.3 . 9000-9200 } }
    set src6 { type ipv6_addr; flags interval; elements = { fd00:100::/64 } }
    chain i { type filter hook input priority 0; policy drop;
        """ + EST + """
        ip saddr @src tcp dport { 22, 80-81 } accept
        ip saddr . tcp dport @svc accept
        ip6 saddr @src6 udp dport 53 accept
        ip saddr . udp dport { 203.0.113.0/24 . 1000-2000 } accept
    }
}
""", [F("input", "tcp", "10.0.100.7", "10.0.0.9", 22, ALLOW), F("input", "tcp", "192.168.1.5", "10.0.0.9", 81, ALLOW),
      F("input", "tcp", "192.168.1.5", "10.0.0.9", 82, DENY), F("input", "tcp", "10.0.10.5", "10.0.0.9", 5432, ALLOW),
      F("input", "tcp", "10.0.10.5", "10.0.0.9", 9187, DENY), F("input", "tcp", "10.0.50.3", "10.0.0.9", 9187, ALLOW),
      F("input", "udp", "fd00:100::7", "fd00::9", 53, ALLOW), F("input", "udp", "fd00:10::5", "fd00::9", 53, DENY),
      F("input", "udp", "203.0.113.50", "10.0.0.9", 1500, ALLOW), F("input", "udp", "203.0.113.50", "10.0.0.9", 443, DENY)]),
    "negation, ranges, prefixes, and the implicit protocol dependency": ("""
table inet t {
    chain i { type filter hook input priority 0; policy accept;
        ip saddr != 10.0.0.0/8 tcp dport 80 drop
        tcp dport != 22 ip saddr 10.0.10.0-10.0.10.255 drop
        ip saddr 10.0.100.0/24 tcp dport != { 22, 443 } drop
        meta l4proto udp udp dport 1000-2000 drop
    }
}
""", [F("input", "tcp", "192.168.1.5", "10.0.0.9", 80, DENY), F("input", "tcp", "10.9.9.9", "10.0.0.9", 80, ALLOW),
      F("input", "tcp", "10.0.10.5", "10.0.0.9", 443, DENY), F("input", "tcp", "10.0.10.5", "10.0.0.9", 22, ALLOW),
      F("input", "udp", "10.0.10.5", "10.0.0.9", 53, ALLOW),  # tcp dport != 22 does not match UDP
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 443, ALLOW), F("input", "tcp", "10.0.100.7", "10.0.0.9", 80, DENY),
      F("input", "udp", "10.0.100.7", "10.0.0.9", 1500, DENY), F("input", "udp", "10.0.100.7", "10.0.0.9", 5432, ALLOW),
      F("input", "tcp", "fd00:100::7", "fd00::9", 80, ALLOW)]),  # ip saddr never matches IPv6 in inet
    "meta l4proto, nfproto, th ports, ip6 prefixes": ("""
table inet t {
    chain i { type filter hook input priority 0; policy drop;
        """ + EST + """
        meta l4proto { tcp, udp } th dport 53 accept
        meta nfproto ipv6 ip6 saddr fd00:10::/32 tcp dport 1000-2000 accept
        meta l4proto tcp th sport 20000-29999 tcp dport 8080 accept
    }
}
""", [F("input", "tcp", "10.0.100.7", "10.0.0.9", 53, ALLOW), F("input", "udp", "fd00:100::7", "fd00::9", 53, ALLOW),
      F("input", "tcp", "fd00:10::5", "fd00::9", 1500, ALLOW), F("input", "tcp", "fd00:100::7", "fd00::9", 1500, DENY),
      F("input", "tcp", "10.0.10.5", "10.0.0.9", 8080, ALLOW, sport=21000),
      F("input", "tcp", "10.0.10.5", "10.0.0.9", 8080, DENY, sport=41000)]),
    "interface names, wildcards, iif/oif": ("""
table inet t {
    chain i { type filter hook input priority 0; policy drop;
        """ + EST + """
        iifname "r1" accept
        iifname "r*" tcp dport 80 accept
        iif "r0" tcp dport 81 accept
        iifname != "r0" tcp dport 82 accept
        iifname { "eth0", "r0" } udp dport 53 accept
    }
    chain o { type filter hook output priority 0; policy drop;
        """ + EST + """
        oifname "r0" tcp dport 443 accept
        oif "r1" tcp dport 80 accept
    }
    chain f { type filter hook forward priority 0; policy drop;
        ct state established,related accept
        iifname "r0" oifname "r1" tcp dport 5432 accept
        oifname "r0*" udp dport 53 accept
    }
}
""", [F("input", "tcp", "10.0.100.7", "10.0.0.9", 80, ALLOW), F("input", "tcp", "10.0.100.7", "10.0.0.9", 81, ALLOW),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 82, DENY), F("input", "udp", "10.0.100.7", "10.0.0.9", 53, ALLOW),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 22, DENY),
      F("output", "tcp", "10.0.0.9", "10.0.100.7", 443, ALLOW), F("output", "tcp", "10.0.0.9", "10.0.100.7", 80, DENY),
      F("forward", "tcp", "10.0.10.5", "198.51.100.7", 5432, ALLOW), F("forward", "udp", "10.0.10.5", "10.2.0.2", 53, DENY),
      F("forward", "tcp", "fd00:10::5", "fd00:b::2", 5432, ALLOW)]),
    "ct state: new, before conntrack (raw), notrack": ("""
table inet t {
    chain raw { type filter hook prerouting priority raw; policy accept;
        ct state invalid tcp dport 81 drop
        tcp dport 84 notrack
    }
    chain i { type filter hook input priority 0; policy drop;
        """ + EST + """
        ct state new tcp dport 80 accept
        ct state untracked tcp dport 84 accept
        ct state new tcp dport 81 accept
        ct state invalid tcp dport 85 accept
    }
}
""", [F("input", "tcp", "10.0.100.7", "10.0.0.9", 80, ALLOW), F("input", "tcp", "10.0.100.7", "10.0.0.9", 81, DENY),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 84, ALLOW), F("input", "tcp", "10.0.100.7", "10.0.0.9", 85, DENY)]),
    "icmp and icmpv6 types, limit rate, limit rate over": ("""
table inet t {
    chain i { type filter hook input priority 0; policy drop;
        """ + EST + """
        ip saddr 10.0.100.0/24 icmp type echo-request limit rate 10/second accept
        ip saddr 10.0.10.0/24 limit rate over 1/minute drop
        ip saddr 10.0.10.0/24 icmp type { echo-request, timestamp-request } accept
        icmpv6 type echo-request ip6 saddr fd00:100::/64 accept
    }
}
""", [F("input", "icmp", "10.0.100.7", "10.0.0.9", None, ALLOW, assume=IDLE),
      F("input", "icmp", "10.0.10.5", "10.0.0.9", None, ALLOW, assume=IDLE),
      F("input", "icmp", "10.0.50.3", "10.0.0.9", None, DENY), F("input", "icmpv6", "fd00:100::7", "fd00::9", None, ALLOW),
      F("input", "icmpv6", "fd00:10::5", "fd00::9", None, DENY)]),
    "reject, counters and logs": ("""
table inet t {
    chain i { type filter hook input priority 0; policy accept;
        counter
        tcp dport 85 log prefix "rej " reject with tcp reset
        udp dport 86 reject
        tcp dport 87 counter log drop
        ip protocol tcp tcp dport 88 reject with icmp type admin-prohibited
    }
}
""", [F("input", "tcp", "10.0.100.7", "10.0.0.9", 85, DENY), F("input", "udp", "10.0.100.7", "10.0.0.9", 86, DENY),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 87, DENY), F("input", "tcp", "10.0.100.7", "10.0.0.9", 88, DENY),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 22, ALLOW)]),
    "families: an ip table does not see IPv6, an ip6 table not IPv4": ("""
table ip four {
    chain i { type filter hook input priority 0; policy drop;
        ct state established,related accept
    }
}
table ip6 six {
    chain o { type filter hook output priority 0; policy drop;
        """ + EST + """
    }
}
""", [F("input", "tcp", "10.0.100.7", "10.0.0.9", 22, DENY), F("input", "tcp", "fd00:100::7", "fd00::9", 22, ALLOW),
      F("output", "tcp", "10.0.0.9", "10.0.100.7", 22, ALLOW), F("output", "tcp", "fd00::9", "fd00:100::7", 22, DENY)]),
    "the whole path: prerouting, postrouting, marks": ("""
table inet t {
    chain pre { type filter hook prerouting priority -150; policy accept;
        tcp dport 80 drop
        tcp dport 88 meta mark set 7
    }
    chain i { type filter hook input priority 0; policy accept;
        meta mark 7 drop
    }
    chain post { type filter hook postrouting priority 0; policy accept;
        ct state established,related accept
        tcp dport 87 drop
    }
}
""", [F("input", "tcp", "10.0.100.7", "10.0.0.9", 80, DENY), F("input", "tcp", "10.0.100.7", "10.0.0.9", 88, DENY),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 87, ALLOW), F("output", "tcp", "10.0.0.9", "10.0.100.7", 87, DENY),
      F("output", "tcp", "10.0.0.9", "10.0.100.7", 80, ALLOW), F("forward", "tcp", "10.0.10.5", "10.2.0.2", 87, DENY),
      F("forward", "tcp", "10.0.10.5", "10.2.0.2", 80, DENY), F("forward", "tcp", "10.0.10.5", "10.2.0.2", 22, ALLOW)]),
    "tcp flags: mask, list with ==, '!' operator": ("""
table inet t {
    chain i { type filter hook input priority 0; policy accept;
        ct state established,related accept
        tcp dport 80 tcp flags syn / fin,syn,rst,ack drop
        tcp dport 81 tcp flags & (syn|ack) == syn|ack drop
        tcp dport 82 tcp flags ! syn drop
        tcp dport 83 tcp flags != syn drop
        tcp dport 84 tcp flags syn,ack drop
        tcp dport 85 tcp flags == syn drop
        tcp dport 86 tcp flags & (fin|syn|rst|ack) != syn drop
    }
}
""", [F("input", "tcp", "10.0.100.7", "10.0.0.9", 80, DENY), F("input", "tcp", "10.0.100.7", "10.0.0.9", 81, ALLOW),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 82, ALLOW), F("input", "tcp", "10.0.100.7", "10.0.0.9", 83, ALLOW),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 84, DENY), F("input", "tcp", "10.0.100.7", "10.0.0.9", 85, DENY),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 86, ALLOW), F("input", "tcp", "fd00:100::7", "fd00::9", 81, ALLOW),
      F("input", "tcp", "fd00:100::7", "fd00::9", 82, ALLOW)]),
    "ct state with '|' values (== / != new,established)": ("""
table inet t {
    chain i { type filter hook input priority 0; policy accept;
        ct state established,related accept
        tcp dport 80 ct state != established,related drop
        tcp dport 81 ct state == new,established drop
    }
}
""", [F("input", "tcp", "10.0.10.5", "10.0.0.9", 80, DENY), F("input", "tcp", "10.0.10.5", "10.0.0.9", 81, ALLOW),
      F("input", "tcp", "10.0.10.5", "10.0.0.9", 22, ALLOW), F("input", "tcp", "fd00:10::5", "fd00::9", 80, DENY)]),
    "reject with icmp/icmpv6/tcp reset: implicit dependencies": ("""
table inet t {
    chain i { type filter hook input priority 0; policy accept;
        udp dport 86 reject with icmp type admin-prohibited
        tcp dport 87 reject with icmpv6 type admin-prohibited
        tcp dport 88 reject with icmpx type admin-prohibited
        ip saddr 10.0.50.3 reject with tcp reset
    }
    chain o { type filter hook output priority 0; policy accept;
        tcp dport 443 reject with icmp type host-prohibited
    }
}
""", [F("input", "udp", "10.0.100.7", "10.0.0.9", 86, DENY), F("input", "udp", "fd00:100::7", "fd00::9", 86, ALLOW),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 87, ALLOW), F("input", "tcp", "fd00:100::7", "fd00::9", 87, DENY),
      F("input", "tcp", "10.0.100.7", "10.0.0.9", 88, DENY), F("input", "tcp", "fd00:100::7", "fd00::9", 88, DENY),
      F("input", "udp", "10.0.50.3", "10.0.0.9", 53, ALLOW), F("input", "tcp", "10.0.50.3", "10.0.0.9", 22, DENY),
      F("output", "tcp", "10.0.0.9", "10.0.100.7", 443, DENY), F("output", "tcp", "fd00::9", "fd00:100::7", 443, ALLOW)]),
    "dormant table": ("""
table inet off {
    flags dormant
    chain i { type filter hook input priority 0; policy drop; }
}
table inet on {
    chain i { type filter hook input priority 0; policy accept; tcp dport 80 drop; }
}
""", [F("input", "tcp", "10.0.100.7", "10.0.0.9", 22, ALLOW), F("input", "tcp", "10.0.100.7", "10.0.0.9", 80, DENY),
      F("input", "udp", "10.0.100.7", "10.0.0.9", 53, ALLOW), F("input", "tcp", "fd00:100::7", "fd00::9", 22, ALLOW)]),
    "interfaces on hooks without them: oifname in prerouting, iifname in postrouting (no ct)": ("""
table inet t {
    chain pre { type filter hook prerouting priority 0; policy accept;
        oifname "r1" tcp dport 80 drop
        oifname != "r1" tcp dport 81 drop
        oif "r1" udp dport 53 drop
    }
    chain post { type filter hook postrouting priority 0; policy accept;
        iifname "r0" tcp dport 82 drop
        iifname != "r0" tcp dport 83 drop
    }
}
""", [F("forward", "tcp", "10.0.10.5", "10.2.0.2", 80, ALLOW), F("forward", "tcp", "10.0.10.5", "10.2.0.2", 81, DENY),
      F("forward", "udp", "10.0.10.5", "10.2.0.2", 53, ALLOW), F("input", "tcp", "10.0.10.5", "10.0.0.9", 81, DENY),
      F("input", "tcp", "10.0.10.5", "10.0.0.9", 80, ALLOW), F("forward", "tcp", "10.0.10.5", "198.51.100.7", 82, DENY),
      F("forward", "tcp", "fd00:10::5", "fd00:b::2", 83, ALLOW), F("output", "tcp", "10.0.0.9", "10.0.10.5", 82, ALLOW),
      F("output", "tcp", "10.0.0.9", "10.0.10.5", 83, DENY), F("output", "tcp", "fd00::9", "fd00:10::5", 83, DENY),
      F("output", "tcp", "fd00::9", "fd00:10::5", 82, ALLOW)]),
    "notrack after conntrack has no effect": (f"""
table inet t {{
    chain pre {{ type filter hook prerouting priority 0; policy accept; tcp dport {{ 84, 85 }} notrack; }}
    chain rawpre {{ type filter hook prerouting priority raw; policy accept; tcp dport 86 notrack; }}
    chain i {{ type filter hook input priority 0; policy drop;
        {EST}
        ct state untracked tcp dport {{ 84, 86 }} accept
        ct state new tcp dport 85 accept
        tcp dport 22 accept
    }}
}}
""", [F("input", "tcp", "10.0.10.5", "10.0.0.9", 84, DENY), F("input", "tcp", "10.0.10.5", "10.0.0.9", 85, ALLOW),
      F("input", "tcp", "10.0.10.5", "10.0.0.9", 86, ALLOW), F("input", "tcp", "10.0.10.5", "10.0.0.9", 22, ALLOW),
      F("input", "tcp", "fd00:10::5", "fd00::9", 84, DENY), F("input", "tcp", "fd00:10::5", "fd00::9", 85, ALLOW)]),
    "equal priorities, two tables only (minimal)": ("""
table inet a {
    chain p { type filter hook prerouting priority 0; policy accept; tcp dport 80 meta mark set 1; }
}
table inet b {
    chain p { type filter hook prerouting priority 0; policy accept; meta mark 1 drop; }
}
""", [F("input", "tcp", "10.0.10.5", "10.0.0.9", 80, ALLOW), F("input", "tcp", "10.0.10.5", "10.0.0.9", 22, ALLOW),
      F("input", "tcp", "fd00:10::5", "fd00::9", 80, ALLOW)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_case(lab, name: str) -> None:
    text, items = CASES[name]
    flows = [f for f, _ in items]
    outcomes = compare(lab, text, flows)
    problems = [o.line() + f" [expected {exp}]" for o, (_, exp) in zip(outcomes, items)
                if not (o.kernel == o.engine == exp)]
    assert not problems, "\n".join(problems)
