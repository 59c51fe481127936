"""Provides the connectivity matrix of host firewalls: address classes and hosts as endpoints.

Address classes: the IPv4 and IPv6 space is cut at every address constant the rulesets mention
(literals, prefixes, ranges, set and map elements, concatenation parts, ``define``s of the source file,
the hosts' own addresses); pieces that lie in exactly the same constants form one class, named after
the most specific constant ("mgmt_net", "@blocklist", "10.0.0.0/8 (rest)") or "everything else".
Ports are cut the same way per protocol. Every rule matches either all or none of a piece, so
evaluating one representative packet per (class, protocol, port piece) is exact, not a sample.

A cell class -> host is what the host's input path accepts; host -> class what its output path
accepts; host -> host the ports both the source's output and the destination's input accept.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..engine.matrix import Cell, Endpoint, Matrix
from ..model.addresses import V4_MAX, V6_BASE, AddressSet, address_int, atoms, interval_cidrs
from ..model.ports import ConnSet, merge_intervals
from .evaluate import evaluate
from .model import Concat, Element, Field, Interval, Match, Ruleset, SetRef, VMap
from .packet import OTHER_IF, Packet
from . import values as V

MATRIX_PROTOCOLS = ("tcp", "udp", "sctp")


@dataclass
class HostSpec:
    """One host of a matrix: its name, its addresses and its ruleset."""

    name: str
    addresses: list[str]
    ruleset: Ruleset


@dataclass(frozen=True)
class Constant:
    """An address constant of a ruleset, with the label the matrix shows for it."""

    label: str
    addresses: AddressSet
    named: bool = False
    """True for named sets and defines (preferred as class names)."""


@dataclass
class AddressClass:
    """Addresses that every rule treats alike."""

    id: str
    family: int
    addresses: AddressSet
    representative: int
    """An address of the class in the combined space (IPv6 offset by V6_BASE)."""
    members: list[str] = field(default_factory=list)


def _elements_of(rs: Ruleset) -> list[tuple[tuple[str, ...], Element, str | None]]:
    """Every (kinds, element, set name) the rules compare packets with."""
    out: list[tuple[tuple[str, ...], Element, str | None]] = []
    for ch in rs.chains.values():
        for r in ch.rules:
            for s in r.stmts:
                if isinstance(s, Match):
                    kinds = tuple(f.kind for f in (s.left.items if isinstance(s.left, Concat) else (s.left,)))
                    if isinstance(s.right, tuple):
                        out += [(kinds, e, None) for e in s.right]
                elif isinstance(s, VMap) and not isinstance(s.data, SetRef):
                    kinds = tuple(f.kind for f in (s.key.items if isinstance(s.key, Concat) else (s.key,)))
                    out += [(kinds, e, None) for e, _ in s.data]
    for ns in rs.sets.values():
        out += [(ns.kinds, e, ns.name) for e in ns.elements]
    return out


def _addr_interval(kind: str, c: Interval) -> tuple[int, int]:
    base = 0 if kind == "addr4" else V6_BASE
    return base + c.lo, base + c.hi


def address_constants(rs: Ruleset) -> list[Constant]:
    """The address constants of a ruleset: elements, named sets as a whole, and defines."""
    consts: list[Constant] = []
    by_set: dict[str, list[tuple[int, int]]] = {}
    for kinds, el, set_name in _elements_of(rs):
        for kind, c in zip(kinds, el):
            if kind in ("addr4", "addr6") and isinstance(c, Interval):
                lo, hi = _addr_interval(kind, c)
                consts.append(Constant(_interval_label(lo, hi), AddressSet([(lo, hi)])))
                if set_name:
                    by_set.setdefault(set_name, []).append((lo, hi))
    for name, ivs in sorted(by_set.items()):
        consts.append(Constant(f"@{name}", AddressSet(ivs), named=True))
    for name, value in sorted(rs.defines.items()):
        addrs = _define_addresses(value)
        if addrs:
            consts.append(Constant(name, addrs, named=True))
    return consts


def _define_addresses(value: str) -> AddressSet | None:
    parts = [p.strip() for p in value.strip().strip("{}").split(",") if p.strip()]
    ivs = []
    for p in parts:
        try:
            if "-" in p and "/" not in p:
                a, b = (ipaddress.ip_address(x.strip()) for x in p.split("-", 1))
                base = 0 if a.version == 4 else V6_BASE
                ivs.append((base + int(a), base + int(b)))
            else:
                net = ipaddress.ip_network(p, strict=False)
                base = 0 if net.version == 4 else V6_BASE
                ivs.append((base + int(net.network_address), base + int(net.broadcast_address)))
        except ValueError:
            return None
    return AddressSet(ivs) if ivs else None


def _interval_label(lo: int, hi: int) -> str:
    cidrs = interval_cidrs(lo, hi)
    if len(cidrs) == 1:
        return cidrs[0].replace("/32", "") if "/32" in cidrs[0] and ":" not in cidrs[0] else (
            cidrs[0][:-4] if cidrs[0].endswith("/128") else cidrs[0])
    a, b = interval_cidrs(lo, lo)[0].split("/")[0], interval_cidrs(hi, hi)[0].split("/")[0]
    return f"{a}-{b}"


def address_classes(consts: list[Constant], hosts: dict[str, AddressSet] | None = None) -> list[AddressClass]:
    """Split the address space into classes by the constants (and carve out the hosts' addresses)."""
    hosts = hosts or {}
    sets = [c.addresses for c in consts] + list(hosts.values())
    host_all = AddressSet()
    for h in hosts.values():
        host_all = host_all | h
    groups: dict[tuple[object, ...], list[tuple[int, int]]] = {}
    for lo, hi in atoms(sets):
        if host_all.contains_interval(lo, hi):
            continue
        fam = 4 if lo <= V4_MAX else 6
        sig = (fam,) + tuple(s.contains_interval(lo, hi) for s in sets)
        groups.setdefault(sig, []).append((lo, hi))
    classes: list[AddressClass] = []
    used: set[str] = set()
    for sig, ivs in groups.items():
        fam = int(sig[0])  # type: ignore[call-overload]
        addrs = AddressSet(ivs)
        members = [c for c, inside in zip(consts, sig[1:]) if inside]
        name = _class_name(addrs, members, fam)
        if name in used:
            name = f"{name} [{_interval_label(*ivs[0])}]"
        used.add(name)
        rep = _representative(ivs)
        classes.append(AddressClass(name, fam, addrs, rep, sorted({m.label for m in members})))
    classes.sort(key=lambda c: (c.family, not c.members, c.addresses.intervals[0][0]))
    return classes


def _representative(ivs: list[tuple[int, int]]) -> int:
    """A typical address of the class: avoid network and broadcast addresses where possible."""
    lo, hi = ivs[0]
    return lo + 1 if hi - lo >= 2 else lo


def _class_name(addrs: AddressSet, members: list[Constant], fam: int) -> str:
    if not members:
        return f"everything else (IPv{fam})"
    size = lambda c: sum(h - l + 1 for l, h in c.addresses.intervals)  # noqa: E731
    exact = [m for m in members if m.addresses == addrs]
    if exact:
        named = [m for m in exact if m.named]
        return (named or exact)[0].label
    best = min(members, key=lambda m: (size(m), not m.named))
    same = [m for m in members if m.addresses == best.addresses and m.named]
    return f"{(same or [best])[0].label} (rest)"


def port_atoms(rulesets: list[Ruleset]) -> list[tuple[int, int]]:
    """Port pieces of 1-65535 that no port constant of the rulesets cuts."""
    cuts = {1, 65536}
    for rs in rulesets:
        for kinds, el, _ in _elements_of(rs):
            for kind, c in zip(kinds, el):
                if kind == "port" and isinstance(c, Interval):
                    cuts.add(max(c.lo, 1))
                    cuts.add(min(c.hi, 65535) + 1)
        for ch in rs.chains.values():  # comparisons (tcp dport < 1024) cut too
            for r in ch.rules:
                for s in r.stmts:
                    if isinstance(s, Match) and isinstance(s.left, Field) and s.left.kind == "port" and \
                            s.op in ("<", ">", "<=", ">=") and isinstance(s.right, tuple):
                        n = s.right[0][0]
                        if isinstance(n, Interval):
                            cuts.update({max(1, n.lo), min(65536, n.lo + 1)})
    b = sorted(cuts)
    return [(b[i], b[i + 1] - 1) for i in range(len(b) - 1)]


def split_address(addr: int) -> tuple[int, int]:
    """(family, address) of an address on the combined line (the inverse of ``address_int``)."""
    return (4, addr) if addr <= V4_MAX else (6, addr - V6_BASE)


def allowed(rs: Ruleset, hook: str, src: int, dst: int, ports: list[tuple[int, int]],
            iif: str | None = OTHER_IF, oif: str | None = OTHER_IF) -> tuple[ConnSet, bool]:
    """What ``rs`` lets through from ``src`` to ``dst`` on ``hook``: (ConnSet, uncertain)."""
    fam, s = split_address(src)
    _, d = split_address(dst)
    acc: dict[str, list[tuple[int, int]]] = {}
    uncertain = False
    for proto in MATRIX_PROTOCOLS:
        for lo, hi in ports:
            pkt = Packet(family=fam, saddr=s, daddr=d, l4proto=V.L4PROTO[proto], sport=40000, dport=lo,
                         iif=iif if hook != "output" else None, oif=oif if hook != "input" else None)
            ev = evaluate(rs, pkt, hook)
            if ev.verdict != "deny":
                acc.setdefault(proto.upper(), []).append((lo, hi))
                uncertain |= ev.verdict == "unknown"
    icmp = "icmp" if fam == 4 else "icmpv6"
    table = V.ICMP_TYPE if fam == 4 else V.ICMPV6_TYPE
    pkt = Packet(family=fam, saddr=s, daddr=d, l4proto=V.L4PROTO[icmp], icmp_type=table["echo-request"],
                 iif=iif if hook != "output" else None, oif=oif if hook != "input" else None)
    ev = evaluate(rs, pkt, hook)
    if ev.verdict != "deny":
        acc["ICMP" if fam == 4 else "ICMPV6"] = [(1, 65535)]
        uncertain |= ev.verdict == "unknown"
    return ConnSet({p: merge_intervals(r) for p, r in acc.items()}), uncertain


@dataclass
class Layout:
    """The address classes of some rulesets, and where each host stands among them."""

    classes: list[AddressClass]
    host_sets: dict[str, AddressSet]
    """The addresses of each host that has some given."""
    addrs: dict[str, list[int]]
    """Each host's addresses on the combined line; a host without addresses gets one placeholder per
    family, taken from "everything else" (so rules on destination addresses it does not name do not apply)."""


def layout(hosts: list[HostSpec], extra_rulesets: tuple[Ruleset, ...] = ()) -> Layout:
    """Cut the address space by every constant of the hosts' rulesets (and ``extra_rulesets``)."""
    consts = [c for rs in [h.ruleset for h in hosts] + list(extra_rulesets) for c in address_constants(rs)]
    host_sets = {h.name: AddressSet((address_int(a), address_int(a)) for a in h.addresses)
                 for h in hosts if h.addresses}
    classes = address_classes(consts, host_sets)
    addrs = {h.name: (sorted({address_int(a) for a in h.addresses}) if h.addresses
                      else [c.representative for c in classes if not c.members]) for h in hosts}
    return Layout(classes, host_sets, addrs)


def build_matrix(hosts: list[HostSpec], *, hooks: tuple[str, ...] = ("input", "output"),
                 extra_rulesets: tuple[Ruleset, ...] = (), title: str = "host firewall") -> Matrix:
    """The matrix of one or more hosts over the address classes of their rulesets.

    Args:
        hosts: the hosts; a host without addresses gets one placeholder address per family, taken from
            "everything else" (so rules on destination addresses it does not name do not apply).
        hooks: which directions to fill: input (class -> host), output (host -> class), forward
            (class -> class through the host).
        extra_rulesets: rulesets whose constants also cut the classes (to diff two rulesets).
    """
    rulesets = [h.ruleset for h in hosts] + list(extra_rulesets)
    lay = layout(hosts, extra_rulesets)
    classes, host_sets, addrs = lay.classes, lay.host_sets, lay.addrs
    ports = port_atoms(rulesets)
    notes: list[str] = []
    for rs in rulesets:
        notes += [n for n in rs.notes if n not in notes]
    notes += [f"host {h.name}: no address given; its own address is taken as one no rule names"
              for h in hosts if not h.addresses]
    endpoints = [Endpoint(id=c.id, kind="AddressClass", cidrs=tuple(c.addresses.cidrs()), group="addresses",
                          extra=(("members", tuple(c.members)),)) for c in classes]
    endpoints += [Endpoint(id=h.name, kind="Host", name=h.name, cidrs=tuple(host_sets[h.name].cidrs()) if
                           h.name in host_sets else (), group="hosts") for h in hosts]
    cells: dict[tuple[str, str], Cell] = {}

    def put(src: str, dst: str, conns: ConnSet, unc: bool) -> None:
        if conns:
            prev = cells.get((src, dst))
            if prev:
                conns, unc = prev.conns | conns, prev.uncertain or unc
            cells[(src, dst)] = Cell(conns, uncertain=unc)

    for h in hosts:
        for c in classes:
            for a in addrs[h.name]:
                if split_address(a)[0] != c.family:
                    continue
                if "input" in hooks:
                    put(c.id, h.name, *allowed(h.ruleset, "input", c.representative, a, ports))
                if "output" in hooks:
                    put(h.name, c.id, *allowed(h.ruleset, "output", a, c.representative, ports))
        if "forward" in hooks:
            for c1 in classes:
                for c2 in classes:
                    if c1.family == c2.family:
                        put(c1.id, c2.id, *allowed(h.ruleset, "forward", c1.representative, c2.representative, ports))
    for h1 in hosts:
        for h2 in hosts:
            if h1 is h2:
                continue
            for a in addrs[h1.name]:
                for b in addrs[h2.name]:
                    if split_address(a)[0] != split_address(b)[0]:
                        continue
                    out, u1 = allowed(h1.ruleset, "output", a, b, ports)
                    inn, u2 = allowed(h2.ruleset, "input", a, b, ports)
                    put(h1.name, h2.name, out & inn, u1 or u2)
    if any(c.uncertain for c in cells.values()):
        notes.append("cells marked uncertain depend on expressions the engine does not model")
    return Matrix(endpoints, cells, notes, title)
