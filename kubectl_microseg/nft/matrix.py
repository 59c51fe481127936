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

import bisect
import ipaddress
import random
from dataclasses import dataclass, field
from itertools import islice
from collections.abc import Sequence

from ..engine.matrix import Cell, Endpoint, Matrix
from ..model.addresses import V4_MAX, V6_BASE, V6_MAX, AddressSet, address_int, interval_cidrs
from ..model.ports import ConnSet
from ..vocab import FlowVerdict
from .evaluate import evaluate
from .intervals import element_intervals, intersect, merge, subtract, union
from .model import (NAT_KINDS, Chain, Concat, Effect, Element, Field, Interval, Match, Rule, Ruleset, SetRef, Terminal,
                    Unsupported, VMap)
from .nat import forwarded_ports
from .portwalk import Fallback, port_verdicts
from .packet import OTHER_IF, Assumption, Packet
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


def _compared_groups(rs: Ruleset) -> list[tuple[tuple[str, ...], Sequence[Element], str | None]]:
    """The element groups the rules compare packets with, as (kinds, elements, set name): the elements of
    one literal set, of one named set, or of one verdict map that lead to the same verdict. A rule treats
    the members of a group alike (except through the other parts of a concatenation)."""
    out: list[tuple[tuple[str, ...], Sequence[Element], str | None]] = []
    for ch in rs.chains.values():
        for r in ch.rules:
            for s in r.stmts:
                if isinstance(s, Match) and isinstance(s.right, tuple):
                    out.append((_kinds(s.left), s.right, None))
                elif isinstance(s, VMap) and not isinstance(s.data, SetRef):
                    by: dict[str, list[Element]] = {}
                    for e, v in s.data:
                        by.setdefault(v.text(), []).append(e)
                    out += [(_kinds(s.key), els, None) for els in by.values()]
    for ns in rs.sets.values():
        if ns.is_map and ns.map_type == "verdict":
            by = {}
            for e, v in ns.verdicts:
                by.setdefault(v.text(), []).append(e)
            out += [(ns.kinds, els, ns.name) for els in by.values()]
        elif ns.is_map:  # the data (a NAT target, a mark) may tell every element apart
            out += [(ns.kinds, [e], ns.name) for e in ns.elements]
        else:
            out.append((ns.kinds, ns.elements, ns.name))
    return out


def _kinds(left: Field | Concat) -> tuple[str, ...]:
    return tuple(f.kind for f in (left.items if isinstance(left, Concat) else (left,)))


def address_constants(rs: Ruleset) -> list[Constant]:
    """The address constants of a ruleset: per group of elements a rule treats alike (a literal, a set,
    the members of a concatenation that agree on the other parts), named sets as a whole, defines."""
    consts: list[Constant] = []
    by_set: dict[str, list[tuple[int, int]]] = {}
    groups_of: dict[str, int] = {}
    for kinds, elems, set_name in _compared_groups(rs):
        for k, kind in enumerate(kinds):
            if kind not in ("addr4", "addr6"):
                continue
            if len(kinds) == 1 and len(elems) > 16:  # one group: the whole set, merged once (and cached)
                addrs = _element_addresses(elems, kind)
                label = (_interval_label(*addrs.intervals[0]) if len(addrs.intervals) == 1 else
                         f"@{set_name}" if set_name else f"{{{_interval_label(*addrs.intervals[0])}, +{len(elems) - 1}}}")
                consts.append(Constant(label, addrs, named=label.startswith("@")))
                if set_name:
                    by_set.setdefault(set_name, []).extend(addrs.intervals)
                    groups_of[set_name] = groups_of.get(set_name, 0) + 1
                continue
            parts: dict[tuple[object, ...], list[tuple[int, int]]] = {}
            for el in elems:
                c = el[k]
                if isinstance(c, Interval):
                    parts.setdefault(el[:k] + el[k + 1:], []).append(_addr_interval(kind, c))
            for ivs in parts.values():
                addrs = _element_addresses(elems, kind) if len(kinds) == 1 and len(ivs) > 16 else AddressSet(ivs)
                label = (_interval_label(*addrs.intervals[0]) if len(addrs.intervals) == 1 else
                         f"@{set_name}" if set_name and len(parts) == 1 else
                         f"{{{_interval_label(*addrs.intervals[0])}, +{len(ivs) - 1}}}")
                consts.append(Constant(label, addrs, named=label.startswith("@")))
                if set_name:
                    by_set.setdefault(set_name, []).extend(ivs)
                    groups_of[set_name] = groups_of.get(set_name, 0) + 1
    for name, ivs in sorted(by_set.items()):
        if groups_of[name] > 1:  # one group is already the whole set, named after it
            consts.append(Constant(f"@{name}", AddressSet(ivs), named=True))
    for name, value in sorted(rs.defines.items()):
        defined = _define_addresses(value)
        if defined:
            consts.append(Constant(name, defined, named=True))
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
    """Split the address space into classes by the constants (and carve out the hosts' addresses).

    One sweep over the constants' boundaries: the pieces between two boundaries lie in the same constants,
    and pieces in exactly the same constants form a class (n log n in the number of boundaries, so a
    50,000-member set costs one sort, not a comparison of every piece with every constant).
    """
    consts = _unique(consts)
    hosts = hosts or {}
    sets = [c.addresses for c in consts] + list(hosts.values())
    n_const = len(consts)
    # One big constant (a blocklist) is left out of the sweep: each piece of the others is then split by
    # its members, by bisection and slices (the sweep would take one step per member).
    bigs = [k for k in range(n_const) if len(sets[k].intervals) > _Stab.BIG]
    big = bigs[0] if len(bigs) == 1 else None
    events: dict[int, list[tuple[int, int]]] = {0: [], V6_BASE: [], V6_MAX + 1: []}
    for k, s in enumerate(sets):
        if k == big:
            continue
        for lo, hi in s.intervals:
            events.setdefault(lo, []).append((k, 1))
            events.setdefault(hi + 1, []).append((k, -1))
    bounds = sorted(events)
    # A set's intervals are merged (disjoint, not touching), so at each boundary a set is entered or left:
    # the sets a piece lies in are kept as a set and as a 64-bit hash of them (XOR of a random word per
    # set), so grouping costs O(1) per boundary; the hash names a signature, checked on first sight.
    words = [random.Random(k).getrandbits(64) for k in range(len(sets))]
    big_his = [hi for _, hi in sets[big].intervals] if big is not None else []
    active: set[int] = set()
    h = hosts_in = 0
    sigs: dict[tuple[int, int], frozenset[int]] = {}
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for i in range(len(bounds) - 1):
        for k, d in events[bounds[i]]:
            h ^= words[k]
            if d > 0:
                active.add(k)
                hosts_in += k >= n_const
            else:
                active.discard(k)
                hosts_in -= k >= n_const
        if hosts_in:
            continue  # a host's own address
        lo, hi = bounds[i], bounds[i + 1] - 1
        fam = 4 if lo <= V4_MAX else 6
        if big is None:
            _group(groups, sigs, (fam, h), active).append((lo, hi))
            continue
        ins, outs = _split(sets[big].intervals, big_his, lo, hi)
        if not ins:
            _group(groups, sigs, (fam, h), active).append((lo, hi))
            continue
        parts = [(ins, (fam, h ^ words[big]), active | {big}), (outs, (fam, h), active)]
        for got, key, inside in sorted(parts, key=lambda p: p[0][0] if p[0] else hi + 1):
            if got:  # the group seen first is made first, as the sweep would (names follow that order)
                _group(groups, sigs, key, inside).extend(got)
    classes: list[AddressClass] = []
    used: set[str] = set()
    for (fam, hsig), ivs in groups.items():
        member_of = sigs[(fam, hsig)]
        # The pieces of a group are sorted and disjoint, and never touch: two neighbouring pieces differ in
        # the sets they lie in (a set's own intervals do not touch), except across the family boundary.
        addrs = AddressSet.from_merged(ivs)
        members = [consts[k] for k in sorted(member_of)]
        name = _class_name(addrs, members, fam)
        if name in used:
            name = f"{name} [{_interval_label(*ivs[0])}]"
        used.add(name)
        classes.append(AddressClass(name, fam, addrs, _representative(ivs), sorted({m.label for m in members})))
    classes.sort(key=lambda c: (c.family, not c.members, c.addresses.intervals[0][0]))
    return classes


def _group(groups: dict[tuple[int, int], list[tuple[int, int]]], sigs: dict[tuple[int, int], frozenset[int]],
           key: tuple[int, int], active: set[int]) -> list[tuple[int, int]]:
    got = groups.get(key)
    if got is None:
        got = groups[key] = []
        sigs[key] = frozenset(active)
    return got


def _split(ivs: Sequence[tuple[int, int]], his: list[int], lo: int, hi: int) -> tuple[list[tuple[int, int]],
                                                                                   list[tuple[int, int]]]:
    """[lo, hi] cut by merged intervals (``his``: their ends): the parts inside them and the gaps."""
    i = bisect.bisect_left(his, lo)  # the first interval ending at or after lo
    j = i
    while j < len(ivs) and ivs[j][0] <= hi:  # bounded by a bisection when many
        if j - i > 8:
            j = bisect.bisect_right(ivs, hi, lo=j, key=_first_of)
            break
        j += 1
    if i >= j:
        return [], [(lo, hi)]
    ins = list(ivs[i:j])
    if ins[0][0] < lo:
        ins[0] = (lo, ins[0][1])
    if ins[-1][1] > hi:
        ins[-1] = (ins[-1][0], hi)
    outs = [(a[1] + 1, b[0] - 1) for a, b in zip(ins, islice(ins, 1, None))]
    if ins[0][0] > lo:
        outs.insert(0, (lo, ins[0][0] - 1))
    if ins[-1][1] < hi:
        outs.append((ins[-1][1] + 1, hi))
    return ins, outs


def _first_of(iv: tuple[int, int]) -> int:
    return iv[0]


def _unique(consts: list[Constant]) -> list[Constant]:
    """One constant per address set (many rules name the same network): a named label wins."""
    by: dict[AddressSet, Constant] = {}
    for c in consts:
        prev = by.get(c.addresses)
        if prev is None or (c.named and not prev.named):
            by[c.addresses] = c
    return list(by.values())


def _representative(ivs: list[tuple[int, int]]) -> int:
    """A typical address of the class: avoid network and broadcast addresses where possible."""
    lo, hi = ivs[0]
    return lo + 1 if hi - lo >= 2 else lo


def _class_name(addrs: AddressSet, members: list[Constant], fam: int) -> str:
    if not members:
        return f"everything else (IPv{fam})"
    def size(c: Constant) -> int:
        return sum(hi - lo + 1 for lo, hi in c.addresses.intervals)
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


MATRIX_ASSUME = frozenset({Assumption.UNDER_LIMITS, Assumption.SETS_AS_LISTED})
"""What matrix cells assume of the kernel's state (an idle host); stated in the matrix's notes."""


@dataclass
class _Need:
    """What a rule's leading matches require of every packet it matches (None: nothing)."""

    saddr: AddressSet | None = None
    daddr: AddressSet | None = None
    l4proto: int | None = None
    dport: list[tuple[int, int]] | None = None
    """The destination ports a leading match requires (merged intervals)."""
    pure: bool = True
    """True when the rule reads addresses only in these requirements."""


class Relevance:
    """Which rules of a ruleset can match a packet between two given addresses of a given protocol.

    A rule whose leading matches require a source (or destination) address the packet does not have, or
    another protocol (``tcp dport`` needs TCP: nft adds that dependency), matches no packet of that
    pair, so evaluating without it gives the same verdict. Only matches before the rule's first
    statement with an effect are read (``meta mark set 1 ip saddr X`` marks every packet). With
    address translation in the ruleset addresses change on the way, so nothing is left out.
    """

    def __init__(self, rs: Ruleset):
        self.rs = rs
        self.rules: list[tuple[Chain, Rule, _Need]] = []
        self.enabled = not any(isinstance(s, Terminal) and s.kind in NAT_KINDS
                               for ch in rs.chains.values() for r in ch.rules for s in r.stmts)
        for ch in rs.chains.values():
            for r in ch.rules:
                self.rules.append((ch, r, _need(rs, ch, r) if self.enabled else _Need(pure=False)))
        needs = [n for _, _, n in self.rules]
        self.by_src = _Stab([(i, n.saddr.intervals) for i, n in enumerate(needs) if n.saddr is not None])
        self.by_dst = _Stab([(i, n.daddr.intervals) for i, n in enumerate(needs) if n.daddr is not None])
        self.free = [i for i, n in enumerate(needs) if n.saddr is None and n.daddr is None]
        self._requires = {"saddr": frozenset(i for i, n in enumerate(needs) if n.saddr is not None),
                          "daddr": frozenset(i for i, n in enumerate(needs) if n.daddr is not None)}
        self._impure = frozenset(i for i, n in enumerate(needs) if not n.pure)
        self._free_l4: dict[int, list[int]] = {}
        self._keys: dict[tuple[frozenset[int], frozenset[int], int], tuple[int, ...]] = {}
        self._views: dict[tuple[int, ...], Ruleset] = {}
        self._by_port: dict[tuple[int, ...], tuple[_Stab, list[int]]] = {}
        self._ports: list[tuple[int, int]] | None = None
        self.results: dict[tuple[object, ...], tuple[list[tuple[int, int]], bool]] = {}
        """Results of address-independent views (see ``view``), shared by every pair that has them."""

    def ports(self) -> list[tuple[int, int]]:
        """The ruleset's port pieces (for packets the port walker cannot carry), computed once."""
        if self._ports is None:
            self._ports = port_atoms([self.rs])
        return self._ports

    def key(self, src: int, dst: int, l4proto: int) -> tuple[int, ...]:
        """The rules (by index, in ruleset order) that can match packets src -> dst of ``l4proto``."""
        s_in, d_in = self.by_src.at(src), self.by_dst.at(dst)
        key = self._keys.get((s_in, d_in, l4proto))
        if key is None:
            free = self._free_l4.get(l4proto)
            if free is None:
                free = self._free_l4[l4proto] = [i for i in self.free if self.rules[i][2].l4proto in (None, l4proto)]
            keep = list(free)
            for i in s_in | d_in:
                n = self.rules[i][2]
                if (n.l4proto is None or n.l4proto == l4proto) and (n.saddr is None or i in s_in) and \
                        (n.daddr is None or i in d_in):
                    keep.append(i)
            key = self._keys[(s_in, d_in, l4proto)] = tuple(sorted(keep))
        return key

    def pure(self, key: tuple[int, ...]) -> bool:
        """Whether none of these rules reads addresses beyond its requirements: then the verdicts of the
        view cannot depend on the addresses of a pair that has this key, and such pairs share one result."""
        return self._impure.isdisjoint(key)

    def view(self, key: tuple[int, ...]) -> Ruleset:
        """The ruleset of these rules (by index), built once per key."""
        got = self._views.get(key)
        if got is None:
            lists: dict[tuple[str, str, str], list[Rule]] = {k: [] for k in self.rs.chains}
            for i in key:
                ch, r, _ = self.rules[i]
                lists[ch.key].append(r)
            chains = {k: Chain(c.family, c.table, c.name, c.handle, c.type, c.hook, c.prio, c.policy, c.device,
                               lists[k]) for k, c in self.rs.chains.items()}
            got = self._views[key] = Ruleset(self.rs.tables, chains, self.rs.sets, self.rs.notes, self.rs.defines,
                                             self.rs.description, self.rs.dormant)
        return got

    def delta(self, key: tuple[int, ...], vary: str) -> tuple[tuple[int, ...], list[tuple[int, int]],
                                                              tuple[int, ...]] | None:
        """Split a view for the address that varies (``saddr``: the class is the source): the rules that
        require something of that address ("own" rules), the ports they can match at all, and the rest.

        A packet whose destination port no own rule can match takes the same path through the view as
        through the rest alone (own rules fail at their port match and have no effect before it), and
        the port walk is pointwise: so the rest's result, shared by every class with the same rest when
        its rules read no address, holds outside those ports; inside, the view restricted to rules that
        can match those ports decides. Returns (rest key, own ports, restricted key), or None when the
        split does not apply (the rest reads addresses, an own rule has no port requirement)."""
        own = self._requires[vary].intersection(key)
        if not own:
            return None
        ports: list[tuple[int, int]] = []
        for i in own:
            d = self.rules[i][2].dport
            if d is None:
                return None
            ports = union(ports, d)
        rest = tuple(sorted(set(key).difference(own)))
        if not self.pure(rest):
            return None
        index = self._by_port.get(rest)
        if index is None:
            index = self._by_port[rest] = (
                _Stab([(i, dport) for i in rest if (dport := self.rules[i][2].dport) is not None]),
                [i for i in rest if self.rules[i][2].dport is None])
        stab, portless = index
        keep = set(portless).union(own)
        for lo, hi in ports:
            keep.update(*stab.over(lo, hi))
        return rest, ports, tuple(sorted(keep))


class _Stab:
    """Which of some interval sets contain a point: one sweep, then a bisection per question.

    Sets of many intervals (a 50,000-address blocklist) are left out of the sweep and bisected on their
    own at each question: few questions are asked (one per class), and the sweep would cost one step
    per interval."""

    BIG = 256

    def __init__(self, items: list[tuple[int, Sequence[tuple[int, int]]]]):
        events: dict[int, list[tuple[int, int]]] = {}
        self.big: list[tuple[int, Sequence[tuple[int, int]], list[int]]] = []
        for i, ivs in items:
            if len(ivs) > self.BIG:
                self.big.append((i, ivs, [lo for lo, _ in ivs]))
                continue
            for lo, hi in ivs:
                events.setdefault(lo, []).append((i, 1))
                events.setdefault(hi + 1, []).append((i, -1))
        self.bounds = sorted(events)
        self.sets: list[frozenset[int]] = []
        active: dict[int, int] = {}
        interned: dict[frozenset[int], frozenset[int]] = {}
        for b in self.bounds:
            for i, d in events[b]:
                active[i] = active.get(i, 0) + d
                if not active[i]:
                    del active[i]
            fs = frozenset(active)
            self.sets.append(interned.setdefault(fs, fs))
        self._with_big: dict[tuple[frozenset[int], frozenset[int]], frozenset[int]] = {}

    def at(self, point: int) -> frozenset[int]:
        j = bisect.bisect_right(self.bounds, point) - 1
        got = self.sets[j] if j >= 0 else frozenset()
        if self.big:
            extra = frozenset(i for i, ivs, starts in self.big if _meets(ivs, starts, point, point))
            if extra:  # interned, so equal answers stay one object (views are cached by them)
                got = self._with_big.setdefault((got, extra), got | extra)
        return got

    def over(self, lo: int, hi: int) -> list[frozenset[int]]:
        """The sets of the pieces that meet [lo, hi] (their union: the items meeting it)."""
        j = max(bisect.bisect_right(self.bounds, lo) - 1, 0)
        got = self.sets[j:bisect.bisect_right(self.bounds, hi)]
        if self.big:
            got.append(frozenset(i for i, ivs, starts in self.big if _meets(ivs, starts, lo, hi)))
        return got


def _meets(ivs: Sequence[tuple[int, int]], starts: list[int], lo: int, hi: int) -> bool:
    """Whether sorted disjoint intervals (``starts``: their starts) meet [lo, hi]: the last one starting
    at or before hi reaches furthest of those that can."""
    k = bisect.bisect_right(starts, hi) - 1
    return k >= 0 and ivs[k][1] >= lo


def _stateful(rs: Ruleset) -> bool:
    """Whether some rule's result depends on earlier packets (limits, quotas, counts, dynamic sets)."""
    return bool(rs.updated_sets) or any(isinstance(s, Effect) and (s.stateful or s.target)
                                        for ch in rs.chains.values() for r in ch.rules for s in r.stmts)


def _need(rs: Ruleset, ch: Chain, r: Rule) -> _Need:
    need = _Need()
    leading = True
    for s in r.stmts:
        if isinstance(s, Match):
            f = s.left
            if leading and isinstance(f, Field) and f.source == "payload" and f.mask is None:
                if f.protocol in ("tcp", "udp", "sctp"):
                    need.l4proto = V.L4PROTO[f.protocol]  # the implicit protocol dependency
                    if f.name == "dport" and s.op in ("==", "in"):
                        ports = _match_ports(rs, ch, s)
                        if ports is not None:
                            need.dport = ports if need.dport is None else intersect(need.dport, ports)
                    continue
                if f.protocol in ("ip", "ip6") and f.name in ("saddr", "daddr") and s.op in ("==", "in"):
                    addrs = _match_addresses(rs, ch, s, f.kind)
                    if addrs is not None:
                        prev = getattr(need, f.name)
                        setattr(need, f.name, addrs if prev is None else prev & addrs)
                        continue
            need.pure &= not _reads_address(s.left)
        elif isinstance(s, VMap):
            need.pure &= not _reads_address(s.key)
            leading = False
        elif isinstance(s, Unsupported):
            need.pure = False
        else:
            leading = False
    return need


def _reads_address(left: Field | Concat) -> bool:
    return any(f.kind in ("addr4", "addr6", "unknown") for f in (left.items if isinstance(left, Concat) else (left,)))


def _plain_elements(rs: Ruleset, ch: Chain, m: Match) -> Sequence[Element] | None:
    """The intervals a positive match compares with: an anonymous set or a named set as listed; None when
    not plain (a map, an unsupported set, a set the packet path writes to, a non-interval element)."""
    if isinstance(m.right, SetRef):
        ns = rs.lookup_set(ch.family, ch.table, m.right.name)
        if ns is None or not ns.supported or ns.is_map or (ch.family, ch.table, ns.name) in rs.updated_sets:
            return None
        elems = ns.elements
    elif isinstance(m.right, tuple):
        elems = m.right
    else:
        return None
    if any(len(e) != 1 or not isinstance(e[0], Interval) for e in elems):
        return None
    return elems


def _match_ports(rs: Ruleset, ch: Chain, m: Match) -> list[tuple[int, int]] | None:
    """The ports a positive destination port match accepts; None when not plain."""
    elems = _plain_elements(rs, ch, m)
    return None if elems is None else element_intervals(elems)


def _match_addresses(rs: Ruleset, ch: Chain, m: Match, kind: str) -> AddressSet | None:
    """The addresses (on the combined line) a positive address match accepts; None when not plain."""
    elems = _plain_elements(rs, ch, m)
    return None if elems is None else _element_addresses(elems, kind)


_ADDRS: dict[tuple[int, str], tuple[object, AddressSet]] = {}


def _element_addresses(elems: Sequence[Element], kind: str) -> AddressSet:
    """The addresses of single-component elements (a named set's, matched by several rules and cut into
    classes): merged once per element tuple (the cache holds the tuple, so its id stays unique)."""
    got = _ADDRS.get((id(elems), kind))
    if got is not None and got[0] is elems:
        return got[1]
    base = 0 if kind == "addr4" else V6_BASE
    addrs = AddressSet.from_merged(element_intervals(elems) if base == 0 else
                                   [(base + lo, base + hi) for lo, hi in element_intervals(elems)])
    if len(_ADDRS) > 256:
        _ADDRS.clear()
    _ADDRS[(id(elems), kind)] = (elems, addrs)
    return addrs


def allowed(rs: Ruleset, hook: str, src: int, dst: int, ports: list[tuple[int, int]] | None = None,
            iif: str | None = OTHER_IF, oif: str | None = OTHER_IF,
            relevance: Relevance | None = None, vary: str | None = None) -> tuple[ConnSet, bool]:
    """What ``rs`` lets through from ``src`` to ``dst`` on ``hook``: (ConnSet, uncertain).

    Ports are walked as sets (``portwalk``); where the walker cannot, each piece of ``ports`` (default:
    the ruleset's port pieces) is evaluated with one packet.
    """
    fam, s = split_address(src)
    _, d = split_address(dst)
    acc: dict[str, list[tuple[int, int]]] = {}
    uncertain = False
    for proto in MATRIX_PROTOCOLS + ("icmp" if fam == 4 else "icmpv6",):
        l4 = V.L4PROTO[proto]
        pkt = Packet(family=fam, saddr=s, daddr=d, l4proto=l4, iif=iif if hook != "output" else None,
                     oif=oif if hook != "input" else None, assume=MATRIX_ASSUME)
        if relevance is None or not relevance.enabled:
            got = _allowed_ports(rs, hook, pkt, ports, relevance)
        else:
            key = relevance.key(src, dst, l4)
            memo = (key, hook, fam, iif, oif, ports is None) if relevance.pure(key) else None
            known = relevance.results.get(memo) if memo is not None else None
            if known is None and vary is not None and ports is None and proto in MATRIX_PROTOCOLS:
                known = _by_delta(relevance, key, vary, hook, pkt, (hook, fam, iif, oif))
            if known is None:
                known = _allowed_ports(relevance.view(key), hook, pkt, ports, relevance)
                if memo is not None:
                    relevance.results[memo] = known
            got = known
        if got[0]:
            acc[proto.upper() if proto in MATRIX_PROTOCOLS else "ICMP" if fam == 4 else "ICMPV6"] = got[0]
            uncertain |= got[1]
    return ConnSet.from_merged(acc), uncertain  # every result below is merged


def _by_delta(rel: Relevance, key: tuple[int, ...], vary: str, hook: str, pkt: Packet,
              where: tuple[object, ...]) -> tuple[list[tuple[int, int]], bool] | None:
    """The allowed ports of a view from its rest's shared result and a walk of the own rules' ports only
    (``Relevance.delta``); None when that does not apply or the walker cannot."""
    split = rel.delta(key, vary)
    if split is None:
        return None
    rest, own_ports, restricted = split
    memo = (rest,) + where + (True,)
    base = rel.results.get(memo)
    if base is None:
        base = _allowed_ports(rel.view(rest), hook, pkt, None, rel)
        rel.results[memo] = base
    try:
        inside = [iv for piece, verdict in port_verdicts(rel.view(restricted), pkt.with_(sport=40000,
                                                         dport=own_ports[0][0]), hook, own_ports)
                  if verdict == FlowVerdict.ALLOW for iv in piece]
    except Fallback:
        return None
    return union(subtract(base[0], own_ports), sorted(inside)), base[1]


def _allowed_ports(rs: Ruleset, hook: str, pkt: Packet, ports: list[tuple[int, int]] | None,
                   relevance: Relevance | None) -> tuple[list[tuple[int, int]], bool]:
    """The destination ports (all of them for ICMP echo) ``rs`` lets through, and whether uncertain."""
    if pkt.l4proto in (1, 58):
        ev = evaluate(rs, pkt.with_(icmp_type=V.ICMP_TYPE["echo-request"] if pkt.l4proto == 1 else
                                    V.ICMPV6_TYPE["echo-request"]), hook)
        return ([(1, 65535)] if ev.verdict != FlowVerdict.DENY else []), ev.verdict == FlowVerdict.UNKNOWN
    pkt = pkt.with_(sport=40000, dport=1)
    try:
        return merge([iv for piece, verdict in port_verdicts(rs, pkt, hook, [(1, 65535)]) if verdict == FlowVerdict.ALLOW
                      for iv in piece]), False
    except Fallback:
        pass
    out, uncertain = [], False
    for lo, hi in ports if ports is not None else relevance.ports() if relevance is not None else port_atoms([rs]):
        ev = evaluate(rs, pkt.with_(dport=lo), hook)
        if ev.verdict != FlowVerdict.DENY:
            out.append((lo, hi))
            uncertain |= ev.verdict == FlowVerdict.UNKNOWN
    return merge(out), uncertain


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
    rel = {id(h.ruleset): Relevance(h.ruleset) for h in hosts}
    notes: list[str] = []
    for rs in rulesets:
        notes += [n for n in rs.notes if n not in notes]
    notes += [f"host {h.name}: no address given; its own address is taken as one no rule names"
              for h in hosts if not h.addresses]
    for h in hosts:
        notes += [f"host {h.name}: {f.describe()}" for f in forwarded_ports(h.ruleset)]
    if any(_stateful(rs) for rs in rulesets):
        notes.append("cells assume an idle host: no rate limit, quota, meter or ct count threshold exceeded, and "
                     "sets the packet path updates hold their listed members (nft test/explain flows may "
                     "assume otherwise; without an assumption such verdicts are unknown)")
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
                    put(c.id, h.name, *allowed(h.ruleset, "input", c.representative, a, relevance=rel[id(h.ruleset)],
                                                 vary="saddr"))
                if "output" in hooks:
                    put(h.name, c.id, *allowed(h.ruleset, "output", a, c.representative, relevance=rel[id(h.ruleset)],
                                                 vary="daddr"))
        if "forward" in hooks:
            for c1 in classes:
                for c2 in classes:
                    if c1.family == c2.family:
                        put(c1.id, c2.id, *allowed(h.ruleset, "forward", c1.representative, c2.representative,
                                                   relevance=rel[id(h.ruleset)]))
    for h1 in hosts:
        for h2 in hosts:
            if h1 is h2:
                continue
            for a in addrs[h1.name]:
                for b in addrs[h2.name]:
                    if split_address(a)[0] != split_address(b)[0]:
                        continue
                    out, u1 = allowed(h1.ruleset, "output", a, b, relevance=rel[id(h1.ruleset)])
                    inn, u2 = allowed(h2.ruleset, "input", a, b, relevance=rel[id(h2.ruleset)])
                    put(h1.name, h2.name, out & inn, u1 or u2)
    if any(c.uncertain for c in cells.values()):
        notes.append("cells marked uncertain depend on expressions the engine does not model")
    return Matrix(endpoints, cells, notes, title)
