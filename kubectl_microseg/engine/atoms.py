"""Provides external atoms: the address space outside the cluster cut at every CIDR the policies write
(ipBlock cidr and except, admin networks), so that every policy holds each atom whole or not at all; and
their readable names in the policies' own words."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from ..model.addresses import AddressSet, atom_groups, interval_cidrs, interval_text
from ..model.cluster import Cluster
from ..vocab import DIRECTIONS, Direction
from .calico import network_set_blocks, network_set_names


@dataclass
class ExternalAtom:
    """Addresses outside the cluster that every policy treats alike (one External endpoint)."""

    intervals: tuple[tuple[int, int], ...]
    id: str
    cidrs: tuple[str, ...]

    @property
    def lo(self) -> int:
        """First address. Every policy block holds all of the atom or none of it, so testing whether a
        block contains [lo, hi] (the first interval) tests the whole atom."""
        return self.intervals[0][0]

    @property
    def hi(self) -> int:
        return self.intervals[0][1]

    @property
    def addresses(self) -> AddressSet:
        return AddressSet(self.intervals)

    def contains_interval(self, lo: int, hi: int) -> bool:
        return any(a <= lo and hi <= b for a, b in self.intervals)


_V4_ALL = ((0, 2**32 - 1),)


@dataclass
class FqdnAtom(ExternalAtom):
    """A Cilium ``toFQDNs`` name or pattern as a named external endpoint (``fqdn:api.example.com``). Its
    addresses are whatever DNS answers at run time, so every verdict about it is uncertain (engine.cilium).
    Address rules match it only when they hold every IPv4 address (``0.0.0.0/0``, ``world``, ``all``): its
    ``intervals`` are the whole IPv4 space, and peer matching tests the first interval."""

    selector: Any = None
    """The model.cilium.FqdnSelector it stands for."""


def fqdn_atoms(cluster: Cluster) -> list[FqdnAtom]:
    """One endpoint per distinct name or pattern the Cilium egress allow rules' toFQDNs write, sorted."""
    sels = {cp.fqdn for ce in cluster.cilium for r in ce.policy.rules(Direction.EGRESS) for cp in r.peers or ()
            if cp.fqdn is not None}
    return [FqdnAtom(_V4_ALL, f"fqdn:{s.name}", (), s) for s in sorted(sels, key=lambda s: (s.name, s.pattern))]




def _atom_name(group: tuple[tuple[int, int], ...], cidrs: tuple[str, ...],
               written: list[tuple[str, AddressSet]]) -> str:
    """A readable id in the policies' own words: a CIDR, '0.0.0.0/0 except 10.0.0.0/8, ...',
    '10.0.0.0/8, 172.16.0.0/12 except 10.0.0.0/24', or else the ranges."""
    if len(cidrs) == 1:
        return cidrs[0]
    mine = AddressSet(group)
    v6 = group[0][0] >= 2**32
    whole_text = "::/0" if v6 else "0.0.0.0/0"
    pool = written + [(whole_text, AddressSet.from_cidr(whole_text))]

    def inside(a: AddressSet, b: AddressSet) -> bool:
        # b is small (a CIDR is one interval; a union of a few): interval containment, no set algebra
        return all(any(c <= lo and hi <= d for c, d in b.intervals) for lo, hi in a.intervals)

    def maximal(items: list[tuple[str, AddressSet]]) -> list[tuple[str, AddressSet]]:
        """The items no other item contains (order kept). CIDRs are single intervals: sort and sweep."""
        if any(len(x.intervals) != 1 for _, x in items):
            return [(w, x) for w, x in items if not any(y != x and inside(x, y) for _, y in items)]
        keep: set[str] = set()
        max_hi = -1
        for w, x in sorted(items, key=lambda wx: (wx[1].intervals[0][0], -wx[1].intervals[0][1])):
            if x.intervals[0][1] > max_hi:
                keep.add(w)
                max_hi = x.intervals[0][1]
        return [(w, x) for w, x in items if w in keep]

    bases: list[list[tuple[str, AddressSet]]] = []
    lo_min, hi_max = group[0][0], group[-1][1]
    # a written CIDR is one interval: it contains the group iff it spans the group's first and last address
    containers = sorted((ws for ws in pool if ws[1].intervals[0][0] <= lo_min and hi_max <= ws[1].intervals[-1][1]
                         and len(ws[1].intervals) == 1),
                        key=lambda ws: ws[1].intervals[0][1] - ws[1].intervals[0][0])
    bases.extend([c] for c in containers[:1])
    touching = maximal([(w, x) for w, x in written
                        if any(c <= hi and lo <= d for c, d in x.intervals for lo, hi in mine.intervals)])
    if touching:
        bases.append(touching)
    for base in bases:
        union = AddressSet()
        for _, x in base:
            union = union | x
        if not inside(mine, union):
            continue
        holes = union - mine
        names = [w for w, _ in base]
        if not holes.intervals:
            return ", ".join(names)
        fill = maximal([(w, x) for w, x in written if x.intervals and inside(x, holes)])
        covered = AddressSet()
        for _, x in fill:
            covered = covered | x
        if fill and covered == holes:
            return f"{', '.join(names)} except {', '.join(w for w, _ in fill)}"
    return ", ".join(interval_text(lo, hi) for lo, hi in group)


class AtomIndex:
    """The atoms of a cluster's policies, and a bisect index from an address to its atom."""

    def __init__(self, cluster: Cluster):
        blocks: list[AddressSet] = []
        written: set[str] = set()  # every CIDR as written (cidr, except, networks), to name the atoms
        for e in cluster.policies:
            for d in DIRECTIONS:
                for r in e.policy.rules(d):
                    for p in r.peers or ():
                        if p.ip_block is not None:
                            blocks.append(p.ip_block)
                            written.update(x.strip() for x in p.ip_text.replace(" except ", ",").split(","))
        for ae in cluster.admin_policies:
            for d in DIRECTIONS:
                for ar in ae.policy.rules(d):
                    for ap in ar.peers:
                        if ap.networks is not None:
                            blocks.append(ap.networks)
                            written.update(x.strip() for x in ap.networks_text.split(","))
        for ce in cluster.cilium:  # Cilium CIDR peers and world entities (engine.cilium)
            for d in DIRECTIONS:
                for cr in ce.policy.rules(d) + ce.policy.deny_rules(d):
                    for cp in cr.peers or ():
                        if cp.addresses is not None:
                            blocks.append(cp.addresses)
                            written.update(cp.written)
                        elif cp.entity is not None and cp.entity.value.startswith("world-"):
                            blocks.append(AddressSet.from_cidr("0.0.0.0/0" if cp.entity.value == "world-ipv4" else "::/0"))
        for text, block in network_set_blocks(cluster.calico):  # Calico nets and NetworkSets
            blocks.append(block)
            written.add(text)
        named = [(w, AddressSet.from_cidr(w)) for w in sorted(written) if w]
        self.atoms: list[ExternalAtom] = []
        sets = network_set_names(cluster.calico)
        for group in atom_groups(dict.fromkeys(blocks)):
            cidrs = tuple(c for lo, hi in group for c in interval_cidrs(lo, hi))
            name = _atom_name(group, cidrs, named)
            # atoms are cut at every set's nets: a set holds an atom whole or not at all
            in_sets = [label for label, a in sets if a.contains_interval(group[0][0], group[0][1])]
            if in_sets:
                name += f" ({', '.join(in_sets)})"
            self.atoms.append(ExternalAtom(group, name, cidrs))
        # pieces (intervals) in address order, each with its atom, for bisecting
        self.pieces = sorted((lo, hi, i) for i, a in enumerate(self.atoms) for lo, hi in a.intervals)
        self.piece_starts = [p[0] for p in self.pieces]

    def atom_for(self, address: str) -> ExternalAtom:
        """The external range that contains an IP address."""
        s = AddressSet.from_cidr(address + ("/128" if ":" in address else "/32"))
        lo, _ = s.intervals[0]
        i = bisect.bisect_right(self.piece_starts, lo) - 1
        if i >= 0 and self.pieces[i][0] <= lo <= self.pieces[i][1]:
            return self.atoms[self.pieces[i][2]]
        raise KeyError(address)
