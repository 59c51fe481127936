"""Provides the probes of ``nft verify``: one real packet per (address class, host address, protocol, port piece)
and direction, each with the engine's verdict for exactly that packet (no I/O here; the sandbox that sends
them is ``kubectl_microseg.plugins.nft_sandbox``).

The classes and port pieces are the matrix's (``nft.matrix.layout``, ``port_atoms``): every rule matches all or
none of each piece, so one packet per piece is the matrix cell's claim. Each packet gets a source port of its
own (the engine judges the same source port), so a counter can tell the packets apart. A class whose every
address is one the kernel never lets arrive from a wire or leave to one (loopback, multicast, unspecified,
limited broadcast) is not probed, with a note.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..model.addresses import V4_MAX, V6_BASE
from .evaluate import evaluate
from .matrix import HostSpec, layout, port_atoms
from .packet import Assumption, Flow

PROBE_PROTOCOLS = ("tcp", "udp")
FIRST_SPORT = 20000


@dataclass
class Probe:
    id: int
    host: str
    hook: str
    proto: str
    """tcp, udp, icmp or icmpv6 (an echo request)."""
    src: str
    dst: str
    sport: int | None
    dport: int | None
    pair: tuple[str, str]
    """(source, destination) as the matrix names them: an address class and a host."""
    engine: str = ""
    because: list[str] = field(default_factory=list)
    kernel: str = ""

    def describe(self) -> str:
        if self.proto.startswith("icmp"):
            return f"{self.hook} {self.proto} echo {self.src} -> {self.dst}"
        return f"{self.hook} {self.proto} {self.src}:{self.sport} -> {self.dst}:{self.dport}"


def _to_text(addr: int) -> str:
    return str(ipaddress.IPv4Address(addr) if addr <= V4_MAX else ipaddress.IPv6Address(addr - V6_BASE))


def wire_usable(text: str) -> bool:
    """An address the kernel accepts from a veth and sends to one (no martians)."""
    ip = ipaddress.ip_address(text)
    if ip.is_loopback or ip.is_multicast or ip.is_unspecified:
        return False
    return not (ip.version == 4 and (ip in ipaddress.ip_network("0.0.0.0/8") or str(ip) == "255.255.255.255"))


def usable_address(intervals: Sequence[tuple[int, int]], preferred: int) -> str | None:
    """The class's representative if it can travel, else the first address of the class that can."""
    if wire_usable(_to_text(preferred)):
        return _to_text(preferred)
    for lo, hi in intervals:
        for a in itertools.islice(itertools.chain((lo + 1, lo), range(lo + 2, hi + 1)), 0, 256):
            if lo <= a <= hi and wire_usable(_to_text(a)):
                return _to_text(a)
    return None


def second_address(intervals: Sequence[tuple[int, int]], first: str) -> str | None:
    """Another usable address of a class (a forward probe from a class to itself needs two)."""
    for lo, hi in intervals:
        for a in itertools.islice(range(lo, hi + 1), 0, 256):
            t = _to_text(a)
            if t != first and wire_usable(t):
                return t
    return None


def plan(host: HostSpec, hooks: tuple[str, ...] = ("input", "output"),
         peers: dict[str, list[str]] | None = None) -> tuple[list[Probe], list[str]]:
    """Every probe for one host (its ruleset and addresses), judged by the engine; and notes.

    ``peers`` (the other hosts of an inventory: name -> addresses) are probed like classes, from and to their
    own addresses: the host's half of the matrix's host -> host cells.

    ``forward`` adds class -> class through the host: from a class's address to another class's address (for a
    class to itself, a second address of it)."""
    lay = layout([host])
    ports = port_atoms([host.ruleset])
    notes: list[str] = []
    addrs = [_to_text(a) for a in lay.addrs[host.name]]
    if not host.addresses:
        notes.append(f"host {host.name}: no address given; probes go to {', '.join(addrs)} (addresses no rule "
                     "names), as in the matrix")
    probes: list[Probe] = []
    ids = itertools.count(1)
    sports = itertools.count(FIRST_SPORT)
    ends: list[tuple[str, str | None]] = [(c.id, usable_address(c.addresses.intervals, c.representative))
                                          for c in lay.classes]
    for name, peer_addrs in (peers or {}).items():
        ends += [(name, a) for a in peer_addrs if a not in addrs and wire_usable(a)]
    for end, rep in ends:
        if rep is None:
            notes.append(f"class {end}: not probed, none of its addresses can cross a link (loopback, multicast, "
                         "unspecified or broadcast)")
            continue
        for a in addrs:
            if ipaddress.ip_address(a).version != ipaddress.ip_address(rep).version:
                continue
            icmp = "icmp" if ":" not in a else "icmpv6"
            for hook in (h for h in hooks if h in ("input", "output")):
                src, dst, pair = (rep, a, (end, host.name)) if hook == "input" else (a, rep, (host.name, end))
                for proto in PROBE_PROTOCOLS:
                    for lo, _ in ports:
                        probes.append(Probe(next(ids), host.name, hook, proto, src, dst, next(sports), lo, pair))
                probes.append(Probe(next(ids), host.name, hook, icmp, src, dst, None, None, pair))
    if "forward" in hooks:
        reps = {c.id: usable_address(c.addresses.intervals, c.representative) for c in lay.classes}
        for c1 in lay.classes:
            for c2 in lay.classes:
                from_rep = reps[c1.id]
                to_rep = reps[c2.id] if c1.id != c2.id else (second_address(c2.addresses.intervals, from_rep)
                                                             if from_rep else None)
                if c1.family != c2.family or from_rep is None:
                    continue
                if to_rep is None:
                    notes.append(f"forward {c1.id} -> {c2.id}: not probed, the class has a single address")
                    continue
                icmp = "icmp" if ":" not in from_rep else "icmpv6"
                for proto in PROBE_PROTOCOLS:
                    for lo, _ in ports:
                        probes.append(Probe(next(ids), host.name, "forward", proto, from_rep, to_rep, next(sports),
                                            lo, (c1.id, c2.id)))
                probes.append(Probe(next(ids), host.name, "forward", icmp, from_rep, to_rep, None, None,
                                    (c1.id, c2.id)))
    for p in probes:
        # the sandbox is idle: a probe finds no rate limit or quota exceeded (docs/nftables.md, assume)
        flow = Flow(src=p.src, dst=p.dst, protocol=p.proto, port=p.dport, hook=p.hook, sport=p.sport,
                    icmp_type="echo-request" if p.proto.startswith("icmp") else None, assume=(Assumption.UNDER_LIMITS,))
        ev = evaluate(host.ruleset, flow.packet(), p.hook)
        p.engine, p.because = ev.verdict, ev.because()
    if next(sports) > 65536:
        raise ValueError(f"{len(probes)} probes: more than the source ports that can tell them apart")
    return probes, notes
