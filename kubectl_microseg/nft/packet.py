"""Provides Packet (the first packet of a new connection, as the kernel sees it) and Flow (a test flow).

A Flow is what a user writes in a FLOWS file (shared/CONTRACT.md, ``nft test``); ``Flow.packet()`` turns
it into the Packet the evaluator matches. Defaults: ``ct_state`` new, source port 40000 (an ephemeral
port), TCP flags SYN for a new TCP connection (ACK otherwise), ICMP type echo-request; an interface
that is not given is "an interface the ruleset does not name" (loopback addresses use ``lo``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Any

from ..vocab import FlowVerdict, StrEnum
from . import values as V

NOCT_ICMPV6 = frozenset({130, 131, 132, 133, 134, 135, 136, 143})
"""ICMPv6 types conntrack leaves untracked (MLD query, report, done, router and neighbour solicitation
and advertisement, MLDv2 report): ``noct_valid_new`` in the kernel's nf_conntrack_proto_icmpv6.c."""
MLD_TYPES = frozenset({130, 131, 132, 143})
"""MLD messages carry a hop-by-hop header (Router Alert, RFC 2710 section 3, RFC 3810 section 5)."""
IPV6_HOPOPTS = 0

class Assumption(StrEnum):
    """What a flow may state (``assume:``) about the kernel's state between packets (:data:`ASSUMPTIONS`)."""

    UNDER_LIMITS = "under-limits"
    OVER_LIMITS = "over-limits"
    SETS_AS_LISTED = "sets-as-listed"


ASSUMPTIONS: dict[Assumption, str] = {
    Assumption.UNDER_LIMITS: "no rate limit, quota, meter or ct count threshold is exceeded",
    Assumption.OVER_LIMITS: "every rate limit, quota, meter and ct count threshold is exceeded",
    Assumption.SETS_AS_LISTED: "sets updated from the packet path (dynamic sets, meters) hold exactly their listed "
                      "elements, plus what this packet adds",
}
"""What a flow may state (``assume:``) about the state the kernel keeps between packets. Without them an
expression whose result depends on that state is unknown, and so is every verdict that depends on it."""

OTHER_IF = "\x00other"
"""The name of an interface no rule names: no literal and no wildcard other than ``*`` matches it."""
DEFAULT_SPORT = 40000
HOOKS = ("input", "output", "forward")
PROTOCOLS = ("tcp", "udp", "sctp", "icmp", "icmpv6")


@dataclass(frozen=True)
class Packet:
    """What the rules can look at in the first packet of a connection."""

    family: int
    """4 or 6."""
    saddr: int
    daddr: int
    l4proto: int
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int = 0
    iif: str | None = None
    """Input interface name; None when the hook has none (output); OTHER_IF for an unnamed one."""
    oif: str | None = None
    ct_state: str = "new"
    tcp_flags: int = V.TCP_FLAGS["syn"]
    mark: int = 0
    nexthdr: int | None = None
    """IPv6: the first Next Header (an extension header's number when there is one); None: l4proto."""
    assume: frozenset[Assumption] = frozenset()
    """The flow's stated assumptions about kernel state (keys of ASSUMPTIONS)."""

    def with_(self, **kw: Any) -> Packet:
        return replace(self, **kw)


@dataclass(frozen=True)
class Flow:
    """One flow of a FLOWS file (or of a matrix cell, or of an SSH session check)."""

    src: str
    dst: str
    protocol: str = "tcp"
    port: int | None = None
    hook: str = "input"
    sport: int | None = None
    iif: str | None = None
    oif: str | None = None
    ct_state: str | None = None
    """None: new, or untracked for the ICMPv6 types conntrack does not track (neighbour discovery, MLD)."""
    icmp_type: str | int | None = None
    expect: str | None = None
    line: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    assume: tuple[Assumption, ...] = ()

    def __post_init__(self) -> None:
        if self.ct_state is None:
            untracked = self.protocol.lower() in ("icmpv6", "ipv6-icmp") and self._icmp_number() in NOCT_ICMPV6
            object.__setattr__(self, "ct_state", "untracked" if untracked else "new")

    def _icmp_number(self) -> int | None:
        table = V.ICMP_TYPE if self.protocol.lower() == "icmp" else V.ICMPV6_TYPE
        return V.lookup_symbol(table, self.icmp_type if self.icmp_type is not None else "echo-request")

    def packet(self) -> Packet:
        """The packet of this flow on its hook (interfaces defaulted as the module docstring says)."""
        s = ipaddress.ip_address(self.src)
        d = ipaddress.ip_address(self.dst)
        if s.version != d.version:
            raise ValueError(f"{self.src} and {self.dst} are not of the same IP version")
        proto = self.protocol.lower()
        l4 = V.L4PROTO[proto]
        iif, oif = self.iif, self.oif
        if self.hook in ("input", "forward") and iif is None:
            iif = "lo" if s.is_loopback else OTHER_IF
        if self.hook in ("output", "forward") and oif is None:
            oif = "lo" if d.is_loopback else OTHER_IF
        ct_state = self.ct_state or "new"
        established = ct_state not in ("new", "untracked")
        flags = V.TCP_FLAGS["ack"] if established else V.TCP_FLAGS["syn"]
        icmp_type = None
        if proto in ("icmp", "icmpv6"):
            icmp_type = self._icmp_number()
            if icmp_type is None:
                raise ValueError(f"unknown {proto} type {self.icmp_type!r}")
        has_ports = proto in V.PORT_PROTOCOLS
        # the kernel's ip6 nexthdr is the first header after the fixed one: hop-by-hop for MLD
        nexthdr = IPV6_HOPOPTS if proto == "icmpv6" and icmp_type in MLD_TYPES else None
        return Packet(family=s.version, saddr=int(s), daddr=int(d), l4proto=l4,
                      sport=(self.sport if self.sport is not None else DEFAULT_SPORT) if has_ports else None,
                      dport=self.port if has_ports else None, icmp_type=icmp_type, iif=iif,
                      oif=oif if self.hook != "input" else None, ct_state=ct_state, tcp_flags=flags,
                      nexthdr=nexthdr, assume=frozenset(self.assume))

    def describe(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.hook} {self.protocol} {self.src} -> {self.dst}{port}"


def flow_from_dict(item: dict[str, Any], line: int | None = None) -> Flow:
    """Validate one FLOWS entry (contract field names); raises ValueError with the reason."""
    if not isinstance(item, dict):
        raise ValueError("a flow must be a mapping")
    known = {"hook", "from", "to", "protocol", "port", "sport", "iif", "oif", "ct_state", "expect", "icmp_type",
             "assume"}
    unknown = sorted(set(item) - known)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    for req in ("from", "to"):
        if req not in item:
            raise ValueError(f"missing '{req}'")
    hook = str(item.get("hook", "input")).lower()
    if hook not in HOOKS:
        raise ValueError(f"hook must be one of {', '.join(HOOKS)}, not {hook!r}")
    proto = str(item.get("protocol", "tcp")).lower()
    if proto == "ipv6-icmp":
        proto = "icmpv6"
    if proto not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {proto!r}")
    for k in ("from", "to"):
        try:
            ipaddress.ip_address(str(item[k]))
        except ValueError:
            raise ValueError(f"'{k}' must be an IPv4 or IPv6 address, not {item[k]!r}") from None
    port = _port(item.get("port"), "port")
    if proto in V.PORT_PROTOCOLS and port is None:
        raise ValueError(f"'port' is required for {proto}")
    ct = str(item["ct_state"]).lower() if item.get("ct_state") is not None else None
    if ct is not None and ct not in V.CT_STATE:
        raise ValueError(f"ct_state must be one of {', '.join(V.CT_STATE)}, not {ct!r}")
    assume = item.get("assume") or []
    if isinstance(assume, str):
        assume = [assume]
    if not isinstance(assume, list) or any(str(a) not in ASSUMPTIONS for a in assume):
        raise ValueError(f"assume must list some of {', '.join(ASSUMPTIONS)}, not {item.get('assume')!r}")
    if {Assumption.UNDER_LIMITS, Assumption.OVER_LIMITS} <= {str(a) for a in assume}:
        raise ValueError("assume: under-limits and over-limits exclude each other")
    expect = item.get("expect")
    if expect is not None:
        expect = str(expect).lower()
        if expect not in (FlowVerdict.ALLOW, FlowVerdict.DENY):
            raise ValueError(f"expect must be allow or deny, not {expect!r}")
    flow = Flow(src=str(item["from"]), dst=str(item["to"]), protocol=proto, port=port, hook=hook,
                sport=_port(item.get("sport"), "sport"), iif=_opt_str(item.get("iif")),
                oif=_opt_str(item.get("oif")), ct_state=ct, icmp_type=item.get("icmp_type"), expect=expect,
                line=line, assume=tuple(Assumption(str(a)) for a in assume))
    flow.packet()  # raises ValueError for mixed families or bad ICMP types
    return flow


def _port(v: Any, name: str) -> int | None:
    if v is None:
        return None
    if isinstance(v, str) and v.strip().lower() in V.SERVICES:
        return V.SERVICES[v.strip().lower()]
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise ValueError(f"'{name}' must be a port number, not {v!r}") from None
    if not 0 <= n <= 65535:
        raise ValueError(f"'{name}' {n} is out of range 0-65535")
    return n


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)
