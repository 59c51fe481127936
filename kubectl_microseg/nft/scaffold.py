"""Provides ``scaffold``: a default-deny host ruleset (``nft -f`` syntax, commented) from intent.

The result is what a careful operator writes: one table of its own (so loading it never flushes
other tables), default drop on input, output and forward, established/related first, invalid
dropped, loopback allowed, IPv6 neighbour discovery kept working, SSH only from the management
network, each service only from its source segments, DNS and NTP egress, and rate-limited logging
of what is dropped. Segments become named sets, so the matrix shows their names.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Service:
    """A local service: protocol, ports ("5432", "8000-8080") and the segments allowed to use it."""

    name: str
    protocol: str
    ports: tuple[str, ...]
    sources: tuple[str, ...]
    """Segment names or CIDRs; empty means from anywhere."""


@dataclass
class Intent:
    """What the host should allow; everything else is dropped."""

    table: str = "microseg"
    segments: dict[str, list[str]] = field(default_factory=dict)
    """Named source segments (CIDRs); 'mgmt' is the management network for SSH."""
    ssh_port: int = 22
    services: list[Service] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    ntp: list[str] | None = None
    """NTP servers; ['any'] for any; None for no NTP rule."""
    egress: list[Service] = field(default_factory=list)
    """Other outbound connections: protocol, ports and destination segments."""
    ping_from: list[str] = field(default_factory=list)
    """Segments allowed to ping the host."""
    log_drops: bool = True


def demo_intent() -> Intent:
    """The intent of the demo database server (the microsegmentation guide's host)."""
    return Intent(
        segments={"mgmt": ["10.0.100.0/24"], "api": ["10.0.10.0/24"], "monitoring": ["10.0.50.0/24"]},
        services=[Service("postgresql", "tcp", ("5432",), ("api",)),
                  Service("postgres-exporter", "tcp", ("9187",), ("monitoring",))],
        dns=["10.0.0.2"], ntp=["any"])


def parse_service(text: str) -> Service:
    """``[NAME=]PROTO/PORTS[@SEGMENT,...]``, e.g. ``postgresql=tcp/5432@api``; ValueError if malformed."""
    name, _, rest = text.rpartition("=") if "=" in text.split("/")[0] else ("", "", text)
    spec, _, srcs = rest.partition("@")
    proto, _, ports = spec.partition("/")
    proto = proto.lower()
    if proto not in ("tcp", "udp", "sctp") or not ports:
        raise ValueError(f"service {text!r}: expected [NAME=]tcp|udp|sctp/PORTS[@SEGMENT,...]")
    plist = tuple(p.strip() for p in ports.split(",") if p.strip())
    for p in plist:
        if not re.fullmatch(r"\d{1,5}(-\d{1,5})?", p):
            raise ValueError(f"service {text!r}: bad port {p!r}")
    return Service(name or f"{proto}-{plist[0]}", proto, plist, tuple(s for s in srcs.split(",") if s))


def _family_split(cidrs: list[str]) -> tuple[list[str], list[str]]:
    v4: list[str] = []
    v6: list[str] = []
    for c in cidrs:
        net = ipaddress.ip_network(c, strict=False)
        (v4 if net.version == 4 else v6).append(str(net) if net.num_addresses > 1 else str(net.network_address))
    return v4, v6


def _check(intent: Intent) -> None:
    if not _NAME.match(intent.table):
        raise ValueError(f"table name {intent.table!r} must be letters, digits and _")
    for name, cidrs in intent.segments.items():
        if not _NAME.match(name):
            raise ValueError(f"segment name {name!r} must be letters, digits and _")
        _family_split(cidrs)


def _sources(intent: Intent, refs: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """(match prefix, family) pairs for source segments: 'ip saddr @api', 'ip6 saddr { ... }'."""
    out = []
    for ref in refs:
        if ref in intent.segments:
            v4, v6 = _family_split(intent.segments[ref])
            if v4:
                out.append((f"ip saddr @{ref}_v4", "4"))
            if v6:
                out.append((f"ip6 saddr @{ref}_v6", "6"))
        else:
            v4, v6 = _family_split([ref])
            if v4:
                out.append((f"ip saddr {v4[0]}", "4"))
            if v6:
                out.append((f"ip6 saddr {v6[0]}", "6"))
    return out


def _dests(addrs: list[str]) -> list[str]:
    v4, v6 = _family_split(addrs)
    out = []
    if v4:
        out.append("ip daddr " + (v4[0] if len(v4) == 1 else "{ " + ", ".join(v4) + " }"))
    if v6:
        out.append("ip6 daddr " + (v6[0] if len(v6) == 1 else "{ " + ", ".join(v6) + " }"))
    return out


def _ports(ports: tuple[str, ...]) -> str:
    return ports[0] if len(ports) == 1 else "{ " + ", ".join(ports) + " }"


def scaffold(intent: Intent) -> str:
    """The ruleset text; raises ValueError for bad names or addresses."""
    _check(intent)
    t = intent.table
    L: list[str] = [
        "#!/usr/sbin/nft -f",
        "# Host microsegmentation: default deny, generated by `kubectl microseg nft scaffold`.",
        f"# Only table inet {t} is defined: `kubectl microseg nft apply` replaces it atomically and leaves",
        "# every other table (Docker, kube-proxy, ...) alone. Check it first: kubectl microseg nft matrix --ruleset FILE",
        "",
        f"table inet {t} {{",
    ]
    for name, cidrs in intent.segments.items():
        v4, v6 = _family_split(cidrs)
        what = "management network (SSH)" if name == "mgmt" else f"segment {name}"
        if v4:
            L += [f"    # {what}", f"    set {name}_v4 {{", "        type ipv4_addr; flags interval;",
                  f"        elements = {{ {', '.join(v4)} }}", "    }", ""]
        if v6:
            L += [f"    # {what} (IPv6)", f"    set {name}_v6 {{", "        type ipv6_addr; flags interval;",
                  f"        elements = {{ {', '.join(v6)} }}", "    }", ""]
    L += ["    chain input {", "        type filter hook input priority filter; policy drop;", "",
          "        # Replies to connections already accepted, and their ICMP errors",
          "        ct state established,related accept",
          "        # Packets conntrack cannot place in a connection", "        ct state invalid drop",
          "        # Loopback: local services talking to each other", '        iif "lo" accept',
          "        # IPv6 needs neighbour discovery to work at all",
          "        icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept", ""]
    if "mgmt" in intent.segments:
        L.append("        # SSH from the management network only")
        for m, _ in _sources(intent, ["mgmt"]):
            L.append(f"        {m} tcp dport {intent.ssh_port} accept")
        L.append("")
    for svc in intent.services:
        src = ", ".join(svc.sources) if svc.sources else "anywhere"
        L.append(f"        # {svc.name}: {svc.protocol} {','.join(svc.ports)} from {src}")
        if svc.sources:
            for m, _ in _sources(intent, svc.sources):
                L.append(f"        {m} {svc.protocol} dport {_ports(svc.ports)} accept")
        else:
            L.append(f"        {svc.protocol} dport {_ports(svc.ports)} accept")
        L.append("")
    if intent.ping_from:
        L.append("        # Ping from " + ", ".join(intent.ping_from))
        for m, fam in _sources(intent, intent.ping_from):
            icmp = "icmp type echo-request" if fam == "4" else "icmpv6 type echo-request"
            L.append(f"        {m} {icmp} limit rate 10/second accept")
        L.append("")
    L += _drop_tail(intent, "input") + ["    }", ""]
    L += ["    chain output {", "        type filter hook output priority filter; policy drop;", "",
          "        # Replies of accepted connections", "        ct state established,related accept",
          "        ct state invalid drop", '        oif "lo" accept',
          "        icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept", ""]
    if intent.dns:
        L.append("        # DNS to the resolvers only")
        for d in _dests(intent.dns):
            L += [f"        {d} udp dport 53 accept", f"        {d} tcp dport 53 accept"]
        L.append("")
    if intent.ntp is not None:
        L.append("        # NTP for time synchronisation")
        if intent.ntp == ["any"] or not intent.ntp:
            L.append("        udp dport 123 accept")
        else:
            L += [f"        {d} udp dport 123 accept" for d in _dests(intent.ntp)]
        L.append("")
    for e in intent.egress:
        L.append(f"        # {e.name}: {e.protocol} {','.join(e.ports)} to {', '.join(e.sources) or 'anywhere'}")
        dests = [d.replace("saddr", "daddr") for d, _ in _sources(intent, e.sources)] or [""]
        L += [f"        {(d + ' ') if d else ''}{e.protocol} dport {_ports(e.ports)} accept" for d in dests]
        L.append("")
    L += _drop_tail(intent, "output") + ["    }", ""]
    L += ["    # This host does not route: nothing is forwarded", "    chain forward {",
          "        type filter hook forward priority filter; policy drop;", "    }", "}"]
    return "\n".join(L) + "\n"


def _drop_tail(intent: Intent, hook: str) -> list[str]:
    if not intent.log_drops:
        return ["        # Everything else: dropped by the policy", "        counter drop"]
    return ["        # Log what is dropped (rate-limited, so a flood cannot fill the log), then drop",
            f'        limit rate 5/second burst 10 packets log prefix "microseg-{hook}-drop: " level info',
            "        counter drop"]
