"""Provides ConnSet: an immutable set of (protocol, port) pairs kept as merged port intervals.

A ConnSet is what a connection allows: for each protocol, the inclusive port ranges. Protocols are
upper-case strings; Kubernetes knows TCP, UDP and SCTP (``K8S_PROTOCOLS``); the nftables views also
use ICMP-like protocols, which carry the single pseudo-range ``ANY_PORT``.

>>> ConnSet.ports("TCP", 80, 81) | ConnSet.ports("TCP", 82)
ConnSet('TCP 80-82')
>>> ConnSet.all().is_all()
True
>>> (ConnSet.all() - ConnSet.ports("UDP", 53)).describe()
'SCTP 1-65535, TCP 1-65535, UDP 1-52,54-65535'
"""

from __future__ import annotations

import operator
from itertools import islice
from collections.abc import Iterable, Iterator, Mapping, Sequence

MIN_PORT = 1
MAX_PORT = 65535
K8S_PROTOCOLS: tuple[str, ...] = ("SCTP", "TCP", "UDP")
ANY_PORT = (MIN_PORT, MAX_PORT)

Intervals = tuple[tuple[int, int], ...]
NamedPorts = frozenset[tuple[str, str, int]]
"""A destination's named container ports: (name, protocol, number)."""


def merge_intervals(ranges: Iterable[tuple[int, int]]) -> Intervals:
    """Sort inclusive integer intervals and merge those that overlap or touch."""
    ordered = sorted(ranges)
    if len(ordered) == 1:  # the common case (one port, one CIDR): nothing to merge
        lo, hi = ordered[0]
        return ((lo, hi),) if lo <= hi else ()
    if len(ordered) > 32:  # many already apart (a big set's members): checked and kept in C-speed passes
        los = [lo for lo, _ in ordered]
        his = [hi for _, hi in ordered]
        if all(map(operator.le, los, his)) and all(map(operator.gt, islice(los, 1, None), [h + 1 for h in his])):
            return tuple(ordered)
    out: list[list[int]] = []
    for lo, hi in ordered:
        if lo > hi:
            continue
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1][1] = hi
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


def intersect_intervals(a: Intervals, b: Intervals) -> Intervals:
    """Intersection of two merged interval tuples (linear merge)."""
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def subtract_intervals(a: Intervals, b: Intervals, lo_bound: int, hi_bound: int) -> Intervals:
    """``a`` minus ``b`` (both merged), within [lo_bound, hi_bound]."""
    return intersect_intervals(a, complement_intervals(b, lo_bound, hi_bound))


def complement_intervals(a: Intervals, lo_bound: int, hi_bound: int) -> Intervals:
    """The intervals of [lo_bound, hi_bound] not covered by ``a``."""
    out = []
    cur = lo_bound
    for lo, hi in a:
        if lo > cur:
            out.append((cur, lo - 1))
        cur = max(cur, hi + 1)
    if cur <= hi_bound:
        out.append((cur, hi_bound))
    return tuple(out)


class ConnSet:
    """An immutable, hashable set of allowed (protocol, port) pairs."""

    __slots__ = ("_by_proto", "_hash")

    def __init__(self, by_proto: Mapping[str, Iterable[tuple[int, int]]] | None = None):
        items = {}
        for proto, ranges in (by_proto or {}).items():
            merged = merge_intervals(ranges)
            if merged:
                items[proto.upper()] = merged
        self._by_proto: dict[str, Intervals] = dict(sorted(items.items()))
        self._hash: int | None = None

    # -- constructors
    @classmethod
    def from_merged(cls, by_proto: Mapping[str, Sequence[tuple[int, int]]]) -> ConnSet:
        """From intervals already merged (sorted, disjoint, not touching) per upper-case protocol: skips
        merging again (the nft matrix builds thousands of these)."""
        out = cls.__new__(cls)
        out._by_proto = dict(sorted((p, tuple(r)) for p, r in by_proto.items() if r))
        out._hash = None
        return out

    @classmethod
    def none(cls) -> ConnSet:
        """The empty set: nothing allowed."""
        return _NONE

    @classmethod
    def all(cls) -> ConnSet:
        """Every port of every Kubernetes protocol (TCP, UDP, SCTP)."""
        return _ALL

    @classmethod
    def protocol(cls, proto: str) -> ConnSet:
        """Every port of one protocol."""
        return cls({proto: [ANY_PORT]})

    @classmethod
    def ports(cls, proto: str, port: int, end_port: int | None = None) -> ConnSet:
        """One port, or the inclusive range port..end_port, of one protocol."""
        return cls({proto: [(port, end_port if end_port is not None else port)]})

    # -- queries
    def by_protocol(self) -> dict[str, Intervals]:
        """Protocol -> merged inclusive port intervals (a copy)."""
        return dict(self._by_proto)

    def protocols(self) -> tuple[str, ...]:
        return tuple(self._by_proto)

    def is_empty(self) -> bool:
        return not self._by_proto

    def is_all(self) -> bool:
        """True when every Kubernetes protocol is open on every port (extra protocols allowed)."""
        return all(self._by_proto.get(p) == (ANY_PORT,) for p in K8S_PROTOCOLS)

    def allows(self, proto: str, port: int | None = None) -> bool:
        """Whether this set allows ``port`` of ``proto`` (any port of it when ``port`` is None)."""
        ranges = self._by_proto.get(proto.upper(), ())
        if port is None:
            return bool(ranges)
        return any(lo <= port <= hi for lo, hi in ranges)

    def __bool__(self) -> bool:
        return bool(self._by_proto)

    def __iter__(self) -> Iterator[tuple[str, int, int]]:
        for proto, ranges in self._by_proto.items():
            for lo, hi in ranges:
                yield proto, lo, hi

    # -- algebra
    def __or__(self, other: ConnSet) -> ConnSet:
        if not other._by_proto or other is self:
            return self
        if not self._by_proto or self._by_proto == other._by_proto:
            return other
        merged: dict[str, list[tuple[int, int]]] = {p: list(r) for p, r in self._by_proto.items()}
        for p, r in other._by_proto.items():
            merged.setdefault(p, []).extend(r)
        return ConnSet(merged)

    def __and__(self, other: ConnSet) -> ConnSet:
        if other is self or self._by_proto == other._by_proto:
            return self
        out = {}
        for p, r in self._by_proto.items():
            o = other._by_proto.get(p)
            if o:
                inter = r if r == o else intersect_intervals(r, o)
                if inter:
                    out[p] = inter
        return ConnSet(out)

    def __sub__(self, other: ConnSet) -> ConnSet:
        if not other._by_proto or not self._by_proto:
            return self
        out = {}
        for p, r in self._by_proto.items():
            o = other._by_proto.get(p)
            rest = subtract_intervals(r, o, MIN_PORT if r[0][0] >= MIN_PORT else r[0][0], max(MAX_PORT, r[-1][1])) if o else r
            if rest:
                out[p] = rest
        return ConnSet(out)

    def __le__(self, other: ConnSet) -> bool:
        return (self - other).is_empty()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConnSet) and self._by_proto == other._by_proto

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(self._by_proto.items()))
        return self._hash

    # -- presentation
    def describe(self, all_text: str = "all") -> str:
        """Compact text: 'all', 'none', or 'TCP 80,443, UDP 53'."""
        if not self._by_proto:
            return "none"
        if self.is_all() and len(self._by_proto) == len(K8S_PROTOCOLS):
            return all_text
        parts = []
        for p, ranges in self._by_proto.items():
            if ranges == (ANY_PORT,):
                parts.append(f"{p} 1-65535" if p in K8S_PROTOCOLS else p)
            else:
                parts.append(p + " " + ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges))
        return ", ".join(parts)

    def to_contract(self) -> str | list[dict[str, object]]:
        """The contract's JSON form: "all", or a list of {protocol, port, endPort}."""
        if self.is_all() and len(self._by_proto) == len(K8S_PROTOCOLS):
            return "all"
        return [{"protocol": p, "port": lo, "endPort": hi} for p, ranges in self._by_proto.items() for lo, hi in ranges]

    @classmethod
    def from_contract(cls, value: object) -> ConnSet:
        """Inverse of :meth:`to_contract` ("all" or a list of port items)."""
        if value == "all" or value is None:
            return _ALL
        if not isinstance(value, list):
            raise ValueError(f"ports must be 'all' or a list, not {value!r}")
        acc: dict[str, list[tuple[int, int]]] = {}
        for item in value:
            proto = str(item.get("protocol", "TCP")).upper()
            port = item.get("port")
            if port is None:
                acc.setdefault(proto, []).append(ANY_PORT)
            else:
                acc.setdefault(proto, []).append((int(port), int(item.get("endPort", port))))
        return cls(acc)

    def __repr__(self) -> str:
        return f"ConnSet({self.describe()!r})"


_NONE = ConnSet()
_ALL = ConnSet({p: [ANY_PORT] for p in K8S_PROTOCOLS})
