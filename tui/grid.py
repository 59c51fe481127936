"""Provides the grid model behind the matrix view: rows, columns, groups, granularity and cell states.

This module has no Textual import: it turns a :class:`~kubectl_microseg.engine.matrix.Matrix` (or any
``cell(src, dst)`` function) into the rows and columns the matrix widget draws, with collapsed
namespace groups, a filter and aggregated cells. Everything is computed on demand and memoised, so a
screen of 2,000 workloads costs only the cells that are visible.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from kubectl_microseg.engine.matrix import Cell, Endpoint, Matrix
from kubectl_microseg.model.ports import ConnSet
from kubectl_microseg.render.matrix import (GLYPH_ALL, GLYPH_L7, GLYPH_MESH_DENIED, GLYPH_MESH_SOME, GLYPH_NONE,
                                            GLYPH_SOME, GLYPH_UNCERTAIN)

Granularity = Literal["namespace", "workload", "pod"]
GRANULARITIES: tuple[Granularity, ...] = ("namespace", "workload", "pod")
FilterAxis = Literal["rows", "columns", "both"]
FILTER_AXES: tuple[FilterAxis, ...] = ("rows", "columns", "both")
CellFn = Callable[[str, str], "Cell | None"]


class CellState(enum.Enum):
    """What a cell shows at a glance (glyphs read without colour)."""

    ALL = GLYPH_ALL
    SOME = GLYPH_SOME
    DENIED = GLYPH_NONE
    UNCERTAIN = GLYPH_UNCERTAIN
    L7 = GLYPH_L7
    """Allowed, and some ports pass only the requests a Cilium L7 rule lists (one pair, not a group)."""
    MESH_SOME = GLYPH_MESH_SOME
    """L4 allows; the Istio mesh allows only some requests (engine/mesh.py; one pair, not a group)."""
    MESH_DENIED = GLYPH_MESH_DENIED
    """L4 allows; the Istio mesh denies every request or refuses the connection (one pair, not a group)."""

    @property
    def glyph(self) -> str:
        return self.value

    @property
    def words(self) -> str:
        return {"ALL": "allowed on all ports", "SOME": "allowed on some ports", "DENIED": "denied",
                "UNCERTAIN": "uncertain", "L7": "allowed, L7-filtered",
                "MESH_SOME": "L4 allows, the mesh some requests",
                "MESH_DENIED": "L4 allows, the mesh denies"}[self.name]


class Risk(enum.IntEnum):
    """Why an allowed cell deserves a look (the worst one is drawn; colour only, the glyph stays)."""

    NONE = 0
    DATABASE = 1
    """Reaches a database port (PostgreSQL, MySQL, Redis, …)."""
    EVERY_NAMESPACE = 2
    """The destination accepts connections from every other namespace's endpoints."""
    INTERNET = 3
    """The source holds public (internet) addresses."""

    @property
    def words(self) -> str:
        return {0: "", 1: "to a database port", 2: "destination open to every namespace",
                3: "from the internet"}[self.value]


DATABASE_PORTS: dict[int, str] = {5432: "postgresql", 3306: "mysql", 6379: "redis", 27017: "mongodb",
                                  9042: "cassandra", 1433: "mssql", 1521: "oracle", 26257: "cockroachdb",
                                  9200: "elasticsearch", 11211: "memcached", 5984: "couchdb"}
"""TCP ports drawn as database access (IANA registrations and the servers' documented defaults)."""


def reaches_database(conns: ConnSet) -> bool:
    """Whether ``conns`` opens a TCP port of :data:`DATABASE_PORTS` by number (all TCP ports is not a sign)."""
    ranges = conns.by_protocol().get("TCP", ())
    if ranges == ((1, 65535),):
        return False
    return any(conns.allows("TCP", p) for p in DATABASE_PORTS)


@dataclass(frozen=True)
class CellView:
    """One drawn cell: its state and what it stands for (several pairs when a group is collapsed)."""

    state: CellState
    conns: ConnSet
    allowed_pairs: int = 0
    """How many (source, destination) pairs behind this cell allow something."""
    total_pairs: int = 1
    partial: bool = False
    uncertain: bool = False
    risk: Risk = Risk.NONE
    l7_requests: tuple[str, ...] = ()
    """The requests a Cilium L7 rule lets through (state L7)."""
    mesh: Any = None
    """The Istio mesh's verdict of the pair (engine.mesh.MeshResult; one pair, not a group)."""


DENIED = CellView(CellState.DENIED, ConnSet.none(), 0, 1)


def cell_view(cell: Cell | None) -> CellView:
    """The view of one matrix cell (None means denied)."""
    if cell is None:
        return DENIED
    if cell.uncertain:
        state = CellState.UNCERTAIN
    elif cell.mesh is not None and cell.mesh.verdict.value != "allowed":  # as render.matrix.cell_glyph
        state = CellState.MESH_DENIED if cell.mesh.verdict.value == "denied" else CellState.MESH_SOME
    elif cell.l7:
        state = CellState.L7
    elif cell.conns.is_all() and not cell.partial:
        state = CellState.ALL
    else:
        state = CellState.SOME
    return CellView(state, cell.conns, 1, 1, cell.partial, cell.uncertain, l7_requests=cell.l7_requests,
                    mesh=cell.mesh)


@dataclass(frozen=True)
class AxisItem:
    """A row or a column: one endpoint, a collapsed group, or (rows only) an expanded group's header."""

    key: str
    """Endpoint id; 'group:NAME' for a collapsed group; 'header:NAME' for a group header row."""
    kind: Literal["endpoint", "group", "header"]
    label: str
    group: str
    members: tuple[str, ...] = ()
    """The endpoint ids this item stands for."""
    endpoint: Endpoint | None = None

    @property
    def has_cells(self) -> bool:
        return self.kind != "header"


def endpoint_label(e: Endpoint) -> str:
    """The short name shown in a row or column (the group is shown separately)."""
    if e.name and e.namespace and e.group == e.namespace:
        return e.name
    return e.id


def group_of(e: Endpoint) -> str:
    return e.group or e.namespace or "-"


def looks_like_selector(text: str) -> bool:
    """Whether filter text is meant as a label selector (``app=web``, ``tier in (a,b)``) rather than a name."""
    return any(op in text for op in ("=", "!", " in ", " notin "))


def parse_filter(text: str) -> Callable[[Endpoint], bool] | None:
    """A predicate for the filter text: a label selector ('app=web', 'tier in (a,b)') or a substring.

    Raises:
        ValueError: when the text looks like a selector but is not a valid one.
    """
    text = text.strip()
    if not text:
        return None
    if looks_like_selector(text):
        from kubectl_microseg.model.selectors import parse_selector_text

        sel = parse_selector_text(text)
        return lambda e: not e.is_external and sel.matches(dict(e.labels))
    needle = text.lower()
    return lambda e: needle in e.id.lower() or needle in e.kind.lower()


@dataclass
class GridModel:
    """Rows and columns of the matrix view and the cells between them.

    Args:
        endpoints: the endpoints of the current granularity, in display order.
        cell_fn: what one (source id, destination id) pair allows (None: denied).
        title: what the matrix shows (for exports).
    """

    endpoints: list[Endpoint]
    cell_fn: CellFn
    title: str = "connectivity"
    collapsed: set[str] = field(default_factory=set)
    filter_text: str = ""
    filter_axis: FilterAxis = "rows"
    granularity: str = "workload"
    """What the endpoints are (namespace granularity is workloads with every group collapsed)."""
    cells: dict[tuple[str, str], Cell] | None = None
    """The cells behind ``cell_fn`` when it is a plain look-up: group × group aggregates then cost one pass."""
    rows: list[AxisItem] = field(default_factory=list, init=False)
    cols: list[AxisItem] = field(default_factory=list, init=False)
    _memo: dict[tuple[str, str], CellView] = field(default_factory=dict, init=False, repr=False)
    _by_id: dict[str, Endpoint] = field(default_factory=dict, init=False, repr=False)
    _group_cells: dict[tuple[str, str], CellView] | None = field(default=None, init=False, repr=False)
    _group_size: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _public: set[str] = field(default_factory=set, init=False, repr=False)
    _wide: set[str] | None = field(default=None, init=False, repr=False)
    _members: dict[str, list[str]] | None = field(default=None, init=False, repr=False)
    """Group -> its endpoint ids, in order (made for the first patched group aggregate)."""
    _group_of: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _inside: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    """Endpoint id -> its group, for endpoints inside the cluster."""
    _reached: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    """Destination id -> how many endpoints of other groups reach it (the "every namespace" risk)."""
    _db: dict[ConnSet, bool] = field(default_factory=dict, init=False, repr=False)
    _l7: bool | None = field(default=None, init=False, repr=False)
    _mesh: bool | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {e.id: e for e in self.endpoints}
        for e in self.endpoints:
            g = group_of(e)
            self._group_size[g] = self._group_size.get(g, 0) + 1
        self.rebuild()

    @classmethod
    def from_matrix(cls, m: Matrix, **kw) -> GridModel:
        """A grid over a computed matrix (cells are dictionary look-ups)."""
        cells = m.cells
        if m.uncertain_reasons:  # a partial view: an absent pair touching an unreadable namespace is unknown
            unknown = Cell(ConnSet.none(), uncertain=True)

            def cell_fn(s: str, d: str) -> Cell | None:
                return cells.get((s, d)) or (unknown if m.uncertain_reason(s, d) else None)
            return cls(list(m.endpoints), cell_fn, m.title, **kw)
        return cls(list(m.endpoints), lambda s, d: cells.get((s, d)), m.title, cells=cells, **kw)

    @property
    def has_l7(self) -> bool:
        """Whether some cell is L7-filtered (the legend then explains the glyph)."""
        if self._l7 is None:
            self._l7 = self.cells is not None and any(c.l7 for c in self.cells.values())
        return self._l7

    @property
    def has_mesh(self) -> bool:
        """Whether some cell has an Istio mesh verdict that is not plain 'allowed' (the legend explains ◐ ✕)."""
        if self._mesh is None:
            self._mesh = self.cells is not None and any(
                c.mesh is not None and c.mesh.verdict.value != "allowed" for c in self.cells.values())
        return self._mesh

    # ------------------------------------------------------------------ structure
    @property
    def groups(self) -> list[str]:
        """Group names in display order."""
        return list(dict.fromkeys(group_of(e) for e in self.endpoints))

    def rebuild(self) -> None:
        """Recompute rows and columns after a change of filter or collapsed groups."""
        pred = parse_filter(self.filter_text) if self.filter_text else None
        row_pred = pred if self.filter_axis in ("rows", "both") else None
        col_pred = pred if self.filter_axis in ("columns", "both") else None
        self.rows = self._axis(row_pred, headers=True)
        self.cols = self._axis(col_pred, headers=False)

    def _axis(self, pred: Callable[[Endpoint], bool] | None, *, headers: bool) -> list[AxisItem]:
        grouped: dict[str, list[Endpoint]] = {}
        for e in self.endpoints:
            if pred is None or pred(e):
                grouped.setdefault(group_of(e), []).append(e)
        out: list[AxisItem] = []
        for g, members in grouped.items():
            ids = tuple(e.id for e in members)
            if g in self.collapsed:
                out.append(AxisItem(f"group:{g}", "group", f"{g} ({len(members)})", g, ids))
                continue
            if headers:
                out.append(AxisItem(f"header:{g}", "header", f"{g} ({len(members)})", g, ids))
            out.extend(AxisItem(e.id, "endpoint", endpoint_label(e), g, (e.id,), e) for e in members)
        return out

    def toggle_group(self, group: str) -> None:
        self.collapsed.symmetric_difference_update({group})
        self.rebuild()

    def collapse_all(self, collapsed: bool = True) -> None:
        self.collapsed = set(self.groups) if collapsed else set()
        self.rebuild()

    def set_filter(self, text: str, axis: FilterAxis | None = None) -> None:
        """Filter rows (or columns, or both) to endpoints matching ``text``; ValueError if malformed."""
        parse_filter(text)  # validate first: a bad filter leaves the view as it was
        self.filter_text = text
        if axis is not None:
            self.filter_axis = axis
        self.rebuild()

    def endpoint(self, eid: str) -> Endpoint | None:
        return self._by_id.get(eid)

    # ------------------------------------------------------------------ cells
    def cell(self, row: AxisItem, col: AxisItem) -> CellView | None:
        """The drawn cell at (row, col); None on header rows."""
        if row.kind == "header":
            return None
        if row.kind == "endpoint" and col.kind == "endpoint":
            key = (row.key, col.key)
            hit = self._memo.get(key)
            if hit is None:
                hit = cell_view(self.cell_fn(row.key, col.key))
                if hit.state is not CellState.DENIED:
                    risk = self.pair_risk(row.key, col.key, hit.conns)
                    if risk:
                        hit = replace(hit, risk=risk)
                self._memo[key] = hit
            return hit
        key = (row.key, col.key)
        hit = self._memo.get(key)
        if hit is None:
            if (self.cells is not None and row.kind == "group" and col.kind == "group"
                    and len(row.members) == self._group_size.get(row.group)
                    and len(col.members) == self._group_size.get(col.group)):
                hit = self._group_aggregate(row.group, col.group)
            else:
                hit = self._aggregate(row.members, col.members)
            self._memo[key] = hit
        return hit

    def _group_aggregate(self, g1: str, g2: str) -> CellView:
        """Whole-namespace × whole-namespace cells, from one pass over the allowed pairs."""
        if self._group_cells is None:
            assert self.cells is not None
            group = {e.id: group_of(e) for e in self.endpoints}
            acc: dict[tuple[str, str], list] = {}
            for (s, d), c in self.cells.items():
                gs, gd = group.get(s), group.get(d)
                if gs is None or gd is None:
                    continue
                a = acc.get((gs, gd))
                if a is None:
                    a = acc[(gs, gd)] = [0, set(), True, False, False, Risk.NONE]
                if a[5] < Risk.INTERNET:
                    a[5] = max(a[5], self.pair_risk(s, d, c.conns))
                a[0] += 1
                a[1].add(c.conns)
                a[2] = a[2] and c.conns.is_all()
                a[3] = a[3] or c.uncertain
                a[4] = a[4] or c.partial
            out: dict[tuple[str, str], CellView] = {}
            for (gs, gd), (n, conns_set, full, unc, part, risk) in acc.items():
                total = self._group_size[gs] * self._group_size[gd]
                conns = ConnSet.none()
                for c in conns_set:
                    conns = conns | c
                state = (CellState.UNCERTAIN if unc else CellState.ALL if full and not part and n == total
                         else CellState.SOME)
                out[(gs, gd)] = CellView(state, conns, n, total, part or n < total, unc, risk)
            self._group_cells = out
        hit = self._group_cells.get((g1, g2))
        if hit is None:
            return CellView(CellState.DENIED, ConnSet.none(), 0, self._group_size[g1] * self._group_size[g2])
        return hit

    def _aggregate(self, srcs: Iterable[str], dsts: tuple[str, ...]) -> CellView:
        total = allowed = 0
        conns = ConnSet.none()
        seen: set[ConnSet] = set()
        full = True
        uncertain = partial = False
        risk = Risk.NONE
        fn = self.cell_fn
        for s in srcs:
            for d in dsts:
                total += 1
                c = fn(s, d)
                if c is None:
                    full = False
                    continue
                allowed += 1
                if risk < Risk.INTERNET:
                    risk = max(risk, self.pair_risk(s, d, c.conns))
                if c.conns not in seen:
                    seen.add(c.conns)
                    conns = conns | c.conns
                    full = full and c.conns.is_all()
                uncertain = uncertain or c.uncertain
                partial = partial or c.partial
        if uncertain:
            state = CellState.UNCERTAIN
        elif allowed == 0:
            state = CellState.DENIED
        elif full and not partial and allowed == total:
            state = CellState.ALL
        else:
            state = CellState.SOME
        return CellView(state, conns, allowed, total, partial or 0 < allowed < total, uncertain, risk)

    # ------------------------------------------------------------------ risk
    def pair_risk(self, src: str, dst: str, conns: ConnSet) -> Risk:
        """The worst :class:`Risk` of an allowed (source id, destination id) pair."""
        if self._wide is None:
            self._find_exposure()
        if src in self._public:
            return Risk.INTERNET
        if dst in self._wide:  # type: ignore[operator]
            return Risk.EVERY_NAMESPACE
        db = self._db.get(conns)
        if db is None:
            db = self._db[conns] = reaches_database(conns)
        return Risk.DATABASE if db else Risk.NONE

    def _find_exposure(self) -> None:
        """Public sources, and destinations every endpoint of every other group may reach (one pass; kept
        current per changed pair by :meth:`update_cells`)."""
        from kubectl_microseg.engine.guards import is_public

        self._public = {e.id for e in self.endpoints if e.is_external and is_public(e)}
        self._wide = set()
        self._inside = {e.id: group_of(e) for e in self.endpoints if not e.is_external}
        self._reached = {}
        if self.cells is None:
            return
        inside, reached = self._inside, self._reached
        for s, d in self.cells:
            gs, gd = inside.get(s), inside.get(d)
            if gs is not None and gd is not None and gs != gd:
                reached[d] = reached.get(d, 0) + 1
        self._wide = {d for d in reached if self._reaches_all(d)}

    def _reaches_all(self, d: str) -> bool:
        """Every endpoint of every other group reaches ``d`` (and there is another group)."""
        others = len(self._inside) - self._group_size.get(self._inside[d], 0)
        return others > 0 and self._reached.get(d, 0) == others

    def _recount(self, old: dict[tuple[str, str], Cell], pairs: set[tuple[str, str]]) -> set[str]:
        """Update the exposure counts for ``pairs`` (cells changed from ``old``); the destinations whose
        "open to every namespace" flag flipped."""
        assert self.cells is not None and self._wide is not None
        inside, reached, flipped = self._inside, self._reached, set()
        for s, d in pairs:
            gs, gd = inside.get(s), inside.get(d)
            if gs is None or gd is None or gs == gd:
                continue
            step = ((s, d) in self.cells) - ((s, d) in old)
            if step:
                reached[d] = reached.get(d, 0) + step
                if self._reaches_all(d) != (d in self._wide):
                    flipped.add(d)
        self._wide ^= flipped
        return flipped

    def update_cells(self, m: Matrix, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]] | None:
        """Take the cells of ``m``, a later state of this grid's matrix in which only ``pairs`` (source id,
        destination id) may differ; forget just what they are drawn from. Returns the (row key, column
        key) cells to redraw, or None when the grid cannot be patched (endpoints came or went, a partial view,
        pod granularity): rebuild it then. The work is in the changed cells and endpoints, not the matrix's size
        (an update at size L touches a few cells of 25 million)."""
        self._l7 = self._mesh = None
        if self.cells is None or m.uncertain_reasons or len(m.endpoints) != len(self.endpoints):
            return None
        moved = [(a, b) for a, b in zip(m.endpoints, self.endpoints) if a is not b]  # the model shares the rest
        if any(a.id != b.id for a, b in moved):
            return None
        relabelled = {a.id: a for a, b in moved if a != b}
        if relabelled and self.filter_text:
            return None  # a label filter may now keep other rows
        pairs = set(pairs)
        old = self.cells
        cells = self.cells = m.cells
        self.cell_fn = lambda s, d: cells.get((s, d))
        self.endpoints = list(m.endpoints)
        self._by_id.update((a.id, a) for a, _ in moved)
        if relabelled:  # the same rows and columns, holding the new endpoints (their labels)
            for axis in (self.rows, self.cols):
                for i, it in enumerate(axis):
                    if it.kind == "endpoint" and it.key in relabelled:
                        axis[i] = replace(it, endpoint=relabelled[it.key])
        if not pairs:
            return set()
        row_keys = {r.key for r in self.rows if r.has_cells}
        col_keys = {c.key for c in self.cols}
        keys = {(rk, ck) for s, d in pairs
                if (rk := self._axis_key(s, row_keys)) is not None and (ck := self._axis_key(d, col_keys)) is not None}
        flipped = self._recount(old, pairs) if self._wide is not None else set()
        stale_cols = {ck for d in flipped if (ck := self._axis_key(d, col_keys)) is not None}
        for k in keys:
            self._memo.pop(k, None)
        if stale_cols:  # a destination's risk colour changed: every cell of its column
            self._memo = {k: v for k, v in self._memo.items() if k[1] not in stale_cols}
            keys |= {(r.key, ck) for r in self.rows if r.has_cells for ck in stale_cols}
        if self._group_cells is not None:  # namespace × namespace aggregates: just the group pairs touched
            self._regroup({(s, d) for s, d in pairs} | {(s, d) for d in flipped for s in self._inside})
        return keys

    def _axis_key(self, eid: str, keys: set[str]) -> str | None:
        """The row or column (among ``keys``) that draws endpoint ``eid``: its own, or its folded group's."""
        if eid in keys:
            return eid
        e = self._by_id.get(eid)
        group = f"group:{group_of(e)}" if e is not None else None
        return group if group in keys else None

    def _regroup(self, pairs: set[tuple[str, str]]) -> None:
        """Recompute the group × group aggregates holding ``pairs`` (from their members' cells)."""
        assert self._group_cells is not None
        group = {e.id: group_of(e) for e in self.endpoints} if self._members is None else None
        if self._members is None:
            assert group is not None
            self._members = {}
            for eid, g in group.items():
                self._members.setdefault(g, []).append(eid)
            self._group_of = group
        members, group_of_id = self._members, self._group_of
        for gs, gd in {(group_of_id.get(s), group_of_id.get(d)) for s, d in pairs}:
            if gs is None or gd is None:
                continue
            v = self._aggregate(members[gs], tuple(members[gd]))
            if v.allowed_pairs:
                self._group_cells[(gs, gd)] = v
            else:
                self._group_cells.pop((gs, gd), None)

    # ------------------------------------------------------------------ export
    def visible_matrix(self) -> Matrix:
        """The matrix restricted to what the view shows (collapsed groups become namespace endpoints)."""
        def axis_endpoints(items: list[AxisItem]) -> list[tuple[AxisItem, Endpoint]]:
            out = []
            for it in items:
                if it.kind == "endpoint" and it.endpoint is not None:
                    out.append((it, it.endpoint))
                elif it.kind == "group":
                    out.append((it, Endpoint(it.group, "Namespace", it.group, it.group, group=it.group)))
            return out

        rows = axis_endpoints(self.rows)
        cols = axis_endpoints(self.cols)
        eps = list({e.id: e for _, e in rows + cols}.values())
        cells: dict[tuple[str, str], Cell] = {}
        for ri, re_ in rows:
            for ci, ce in cols:
                v = self.cell(ri, ci)
                if v is not None and v.state is not CellState.DENIED:
                    cells[(re_.id, ce.id)] = Cell(v.conns, v.uncertain, v.partial, v.state is CellState.L7,
                                                  v.l7_requests, mesh=v.mesh)
        return Matrix(eps, cells, [], self.title)

