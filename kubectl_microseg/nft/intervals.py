"""Provides sorted disjoint integer intervals (ports, set members) and their set operations.

A set of interval elements (``{ 22, 80-89 }``, a 50,000-address blocklist) is merged once, cached per
element tuple, and looked up by bisection, so membership costs log(n), not n.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from ..model.ports import merge_intervals
from .model import Component, Element, Interval

Ports = list[tuple[int, int]]
"""Disjoint sorted inclusive intervals (the name says what they mostly hold)."""

_CACHE: dict[int, tuple[object, Ports]] = {}
_STARTS: dict[int, tuple[Ports, list[int]]] = {}


def _bounds(c: Component) -> tuple[int, int]:
    if not isinstance(c, Interval):  # callers pass plain interval elements (matrix._plain_elements)
        raise TypeError(f"not an interval element: {c!r}")
    return c.lo, c.hi


def element_intervals(elems: Sequence[Element]) -> Ports:
    """The union of single-component interval elements, merged (cached per element tuple, which the
    cache keeps alive, so an id is never reused while cached)."""
    got = _CACHE.get(id(elems))
    if got is not None and got[0] is elems:
        return got[1]
    merged = merge([_bounds(e[0]) for e in elems])
    if len(_CACHE) > 16384:  # a long-running TUI reloads rulesets: keep the cache bounded (above one
        # entry per rule of a big ruleset, so a 50,000-member set is not merged again after a clear)
        _CACHE.clear()
        _STARTS.clear()
    _CACHE[id(elems)] = (elems, merged)
    return merged


def contains(ivs: Ports, v: int) -> bool:
    """Whether ``v`` lies in one of the intervals."""
    starts = _starts(ivs)
    i = bisect.bisect_right(starts, v) - 1
    return i >= 0 and ivs[i][0] <= v <= ivs[i][1]


def _starts(ivs: Ports) -> list[int]:
    if len(ivs) < 8:
        return [lo for lo, _ in ivs]
    got = _STARTS.get(id(ivs))
    if got is not None and got[0] is ivs:
        return got[1]
    starts = [lo for lo, _ in ivs]
    if len(_STARTS) > 1024:
        _STARTS.clear()
    _STARTS[id(ivs)] = (ivs, starts)
    return starts


def merge(ivs: Ports) -> Ports:
    return list(merge_intervals(ivs))


def union(a: Ports, b: Ports) -> Ports:
    if not a:
        return b
    if not b:
        return a
    if len(a) < len(b):
        a, b = b, a
    if len(b) > 4:
        return merge(a + b)
    out = list(a)  # a few pieces into a long list: each put in place by bisection, its neighbours merged
    for lo, hi in b:
        i = bisect.bisect_left(out, lo, key=_first)
        if i and out[i - 1][1] >= lo - 1:
            i -= 1
            lo = out[i][0]
        j = i
        while j < len(out) and out[j][0] <= hi + 1:
            if out[j][1] > hi:
                hi = out[j][1]
            j += 1
        out[i:j] = [(lo, hi)]
    return out


def intersect(a: Ports, b: Ports) -> Ports:
    """a ∩ b, bisecting into the longer list for each piece of the shorter (a port set with many holes
    against one rule's port, or one port range against a set's members): cost short x log(long)."""
    if len(a) > len(b):
        a, b = b, a
    out: Ports = []
    for lo, hi in a:
        i = bisect.bisect_right(b, lo, key=_first) - 1
        if i < 0:
            i = 0
        while i < len(b) and b[i][0] <= hi:
            x, y = b[i]
            if x < lo:
                x = lo
            if y > hi:
                y = hi
            if x <= y:
                out.append((x, y))
            i += 1
    return out


def _first(iv: tuple[int, int]) -> int:
    return iv[0]


def subtract(a: Ports, b: Ports) -> Ports:
    """a minus b: the part of b inside a is found first (see ``intersect``), then cut out of a piece by
    piece, copying the untouched runs of a by slicing."""
    if not a or not b:
        return a
    cut = intersect(a, b)
    if not cut:
        return a
    out: Ports = []
    start = 0  # a[start:] not yet copied
    for x, y in cut:
        i = bisect.bisect_right(a, x, key=_first) - 1  # the piece of a holding x (cut lies inside a)
        if i >= start:
            out.extend(a[start:i])
            lo, hi = a[i]
        else:
            lo, hi = out.pop()
        if x > lo:
            out.append((lo, x - 1))
        if y < hi:
            out.append((y + 1, hi))
        start = i + 1
    out.extend(a[start:])
    return out
