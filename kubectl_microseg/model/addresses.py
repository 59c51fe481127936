"""Provides AddressSet (IPv4 and IPv6 interval sets) and the split of the address space into atoms.

Addresses are integers; an IPv6 address is offset by ``V6_BASE`` so one interval list covers both
families without mixing them. ``atoms()`` cuts the space at every boundary of the given sets, so each
resulting atom is either wholly inside or wholly outside each of them: the external endpoints of a
matrix are such atoms.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
from collections.abc import Iterable

from .ports import Intervals, complement_intervals, intersect_intervals, merge_intervals

V4_MAX = 2**32 - 1
V6_BASE = 2**32
V6_MAX = V6_BASE + 2**128 - 1


@functools.lru_cache(maxsize=4096)  # the same few CIDRs recur in thousands of policies; networks are immutable
def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parse a CIDR, masking host bits as Go's ParseCIDR does (Kubernetes warns, does not reject)."""
    return ipaddress.ip_network(text.strip(), strict=False)


def network_interval(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int]:
    base = 0 if net.version == 4 else V6_BASE
    return base + int(net.network_address), base + int(net.broadcast_address)


def is_ip(text: str) -> bool:
    """Whether ``text`` is one IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def address_int(text: str) -> int:
    """An IPv4 or IPv6 address as an integer of the combined space."""
    ip = ipaddress.ip_address(text.strip())
    return int(ip) if ip.version == 4 else V6_BASE + int(ip)


class AddressSet:
    """An immutable set of IPv4/IPv6 addresses as merged inclusive intervals."""

    __slots__ = ("intervals",)

    def __init__(self, intervals: Iterable[tuple[int, int]] = ()):
        self.intervals: Intervals = merge_intervals(intervals)

    @classmethod
    def from_merged(cls, intervals: Iterable[tuple[int, int]]) -> AddressSet:
        """A set of intervals already sorted, disjoint and not touching (not merged again)."""
        new = cls.__new__(cls)
        new.intervals = tuple(intervals)
        return new

    @classmethod
    def from_cidr(cls, cidr: str, excepts: Iterable[str] = ()) -> AddressSet:
        """The addresses of ``cidr`` minus those of every ``except`` CIDR."""
        base = cls([network_interval(parse_network(cidr))])
        if excepts:
            base = base - cls(network_interval(parse_network(e)) for e in excepts)
        return base

    @classmethod
    def everything(cls) -> AddressSet:
        return cls([(0, V4_MAX), (V6_BASE, V6_MAX)])

    def __or__(self, other: AddressSet) -> AddressSet:
        return AddressSet(self.intervals + other.intervals)

    def __and__(self, other: AddressSet) -> AddressSet:
        return AddressSet(intersect_intervals(self.intervals, other.intervals))

    def __sub__(self, other: AddressSet) -> AddressSet:
        return AddressSet(intersect_intervals(self.intervals, complement_intervals(other.intervals, 0, V6_MAX)))

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AddressSet) and self.intervals == other.intervals

    def __hash__(self) -> int:
        return hash(self.intervals)

    def contains_interval(self, lo: int, hi: int) -> bool:
        """Whether [lo, hi] lies wholly inside this set."""
        return any(a <= lo and hi <= b for a, b in self.intervals)

    def contains(self, address: str) -> bool:
        n = address_int(address)
        return self.contains_interval(n, n)

    def cidrs(self) -> list[str]:
        """The set as a minimal list of CIDR strings (IPv4 first)."""
        out: list[str] = []
        for lo, hi in self.intervals:
            if hi <= V4_MAX:
                _v4_cidrs(lo, hi, out)
            else:
                out.extend(interval_cidrs(lo, hi))
        return out

    def __repr__(self) -> str:
        return f"AddressSet({self.cidrs()!r})"


def interval_cidrs(lo: int, hi: int) -> list[str]:
    """An interval of the combined space as CIDR strings (split at the family boundary)."""
    if lo == hi and lo <= V4_MAX:
        return [f"{_v4(lo)}/32"]
    out: list[str] = []
    if lo <= V4_MAX:
        _v4_cidrs(lo, min(hi, V4_MAX), out)
    if hi >= V6_BASE:
        out.extend(f"{ipaddress.IPv6Address(a)}/{128 - bits}"
                   for a, bits in _blocks(max(lo, V6_BASE) - V6_BASE, hi - V6_BASE))
    return out


_PREFIX = [f"/{32 - bits}" for bits in range(33)]


def _v4_cidrs(lo: int, hi: int, out: list[str]) -> None:
    """``_blocks`` of an IPv4 interval, printed (inlined: the complement of a 50,000-address blocklist is
    hundreds of thousands of CIDRs)."""
    o = _OCTETS
    while lo <= hi:
        bits = (lo & -lo).bit_length() - 1 if lo else 32
        fit = (hi - lo + 1).bit_length() - 1
        if fit < bits:
            bits = fit
        out.append(f"{o[lo >> 24]}.{o[(lo >> 16) & 255]}.{o[(lo >> 8) & 255]}.{o[lo & 255]}{_PREFIX[bits]}")
        lo += 1 << bits


def _blocks(lo: int, hi: int) -> Iterable[tuple[int, int]]:
    """The aligned power-of-two blocks (start, host bits) that tile [lo, hi], as summarize_address_range
    gives them, in integer arithmetic (a 50,000-member blocklist is printed in milliseconds)."""
    while lo <= hi:
        # the largest block aligned at lo (its trailing zero bits) that still fits in [lo, hi]
        bits = min((lo & -lo).bit_length() - 1 if lo else 128, (hi - lo + 1).bit_length() - 1)
        yield lo, bits
        lo += 1 << bits


_OCTETS = [str(i) for i in range(256)]


def _v4(n: int) -> str:
    o = _OCTETS
    return f"{o[n >> 24]}.{o[(n >> 16) & 255]}.{o[(n >> 8) & 255]}.{o[n & 255]}"


def interval_text(lo: int, hi: int) -> str:
    """A readable form of one interval: a CIDR when it is one, else 'first-last'."""
    cidrs = interval_cidrs(lo, hi)
    if len(cidrs) == 1:
        return cidrs[0]
    if hi <= V4_MAX:
        return f"{ipaddress.IPv4Address(lo)}-{ipaddress.IPv4Address(hi)}"
    return f"{ipaddress.IPv6Address(lo - V6_BASE)}-{ipaddress.IPv6Address(hi - V6_BASE)}"


def atoms(sets: Iterable[AddressSet]) -> list[tuple[int, int]]:
    """Split the whole IPv4+IPv6 space into intervals that no given set cuts.

    Every returned interval is wholly inside or wholly outside each set. The cuts are the sets'
    boundaries (plus the IPv4/IPv6 boundary); since a set's intervals are merged, membership of at
    least one set changes at every cut, so no two neighbours could be joined.
    """
    cuts = {0, V6_BASE, V6_MAX + 1}
    for s in sets:
        for lo, hi in s.intervals:
            cuts.add(lo)
            cuts.add(hi + 1)
    bounds = sorted(cuts)
    return [(bounds[i], bounds[i + 1] - 1) for i in range(len(bounds) - 1)]


def atom_groups(sets: Iterable[AddressSet]) -> list[tuple[tuple[int, int], ...]]:
    """The address space split into classes of addresses that every given set treats alike.

    Like :func:`atoms`, but pieces that lie in exactly the same sets are grouped even when they are not
    adjacent ("0.0.0.0/0 except 10.0.0.0/8" is one group of two intervals). IPv4 and IPv6 are never
    grouped together. Groups are ordered by their first address.
    """
    sets = list(sets)
    pieces = atoms(sets)
    starts = [lo for lo, _ in pieces]
    members: list[set[int]] = [set() for _ in pieces]
    for k, s in enumerate(sets):
        for lo, hi in s.intervals:
            i = bisect.bisect_left(starts, lo)
            while i < len(pieces) and pieces[i][1] <= hi:
                members[i].add(k)
                i += 1
    groups: dict[tuple[bool, frozenset[int]], list[tuple[int, int]]] = {}
    for (lo, hi), m in zip(pieces, members):
        groups.setdefault((lo >= V6_BASE, frozenset(m)), []).append((lo, hi))
    return sorted((tuple(g) for g in groups.values()), key=lambda g: g[0][0])
