"""Provides the connectivity diff: two Matrices -> a MatrixDiff of added, removed, changed, unchanged pairs.

The model follows np-guard/netpol-analyzer's ``pkg/netpol/diff`` (Added, Removed, Changed, Unchanged,
each pair with its connectivity in both references), plus what a reviewer needs to act on it:

- ``PairDiff.causes``: the policies and rules responsible, found by comparing the engine's reasons for the
  pair before and after (a policy that now isolates an endpoint, a rule that now matches or no longer
  does). Only directions whose verdict changed are looked at, and only rules whose ports overlap what
  changed, so the causes name what made the difference, not everything that applies.
- Address ranges outside the cluster are split by the CIDRs of *both* sides before comparing, so a
  policy that adds an ipBlock does not turn every external pair into a removal plus an addition.
- ``MatrixDiff.findings``: the guards (``engine.guards``), filled in by :func:`compare`.

Everything here is pure: values in, values out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable

from ..model.addresses import AddressSet, interval_text, network_interval, parse_network
from ..model.ports import ConnSet
from ..vocab import CauseChange, Direction
from .matrix import Endpoint, Matrix

ADDED, REMOVED, CHANGED, UNCHANGED = "added", "removed", "changed", "unchanged"


@dataclass(frozen=True)
class Cause:
    """One policy change that explains (part of) a pair's change."""

    direction: Direction
    """Ingress (the destination's policies) or egress (the source's)."""
    change: CauseChange
    policy: str | None
    """'namespace/name' of a NetworkPolicy, '[CNP] name', '[ANP] name' or '[BANP] name' of an admin policy."""
    rule: int | None = None
    """1-based index of the rule (for the rule changes; None for isolation changes)."""
    conns: ConnSet = ConnSet()
    """The part of the pair's change this rule explains (empty for isolation changes)."""
    text: str = ""
    """The engine's wording of the rule or isolation."""
    rule_name: str = ""
    """The name of an AdminNetworkPolicy rule (they have names; NetworkPolicy rules do not)."""

    def short(self) -> str:
        """'production/allow-dns egress rule 1 no longer allows UDP 53' and the like."""
        who = "source" if self.direction == Direction.EGRESS else "destination"
        if self.change == CauseChange.ISOLATES:
            return f"{self.policy} now isolates the {who} for {self.direction}"
        if self.change == CauseChange.NO_LONGER_ISOLATES:
            return f"{self.policy} no longer isolates the {who} for {self.direction}"
        if self.change == CauseChange.ENDPOINT_CHANGED:
            return self.text
        verb = {CauseChange.ALLOWS: "now allows", CauseChange.NO_LONGER_ALLOWS: "no longer allows",
                CauseChange.DENIES: "now denies", CauseChange.NO_LONGER_DENIES: "no longer denies"}[self.change]
        name = f" '{self.rule_name}'" if self.rule_name else ""
        return f"{self.policy} {self.direction} rule {self.rule}{name} {verb} {self.conns.describe()}"

    def to_dict(self) -> dict[str, Any]:
        out = {"direction": self.direction, "change": self.change, "policy": self.policy, "rule": self.rule,
               "ports": self.conns.to_contract() if self.conns else [], "text": self.text}
        if self.rule_name:
            out["ruleName"] = self.rule_name
        return out


@dataclass
class PairDiff:
    """One (from, to) pair and its connectivity before and after."""

    src: str
    dst: str
    before: ConnSet
    after: ConnSet
    kind: str
    """added (denied before), removed (denied after), changed (ports differ), unchanged."""
    src_endpoint: Endpoint | None = None
    dst_endpoint: Endpoint | None = None
    causes: list[Cause] = field(default_factory=list)
    new_endpoint: bool = False
    """An endpoint of the pair exists only after the change (a new workload)."""
    gone_endpoint: bool = False
    """An endpoint of the pair exists only before the change (a removed workload)."""
    uncertain: bool = False

    @property
    def newly_allowed(self) -> ConnSet:
        return self.after - self.before

    @property
    def newly_denied(self) -> ConnSet:
        return self.before - self.after

    @property
    def breaking(self) -> bool:
        """Something that was allowed between two endpoints that still exist is now denied."""
        return bool(self.newly_denied) and not self.new_endpoint and not self.gone_endpoint

    @property
    def group(self) -> str:
        """The namespace the pair is listed under: that of the policies responsible.

        Egress causes belong to the source's namespace, ingress causes to the destination's; with causes
        in both directions, or none, the destination's (the source's when the destination is outside).
        """
        dirs = {c.direction for c in self.causes}
        src_ns = _namespace(self.src_endpoint)
        dst_ns = _namespace(self.dst_endpoint)
        if dirs == {"egress"} and src_ns:
            return src_ns
        return dst_ns or src_ns or "external"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"from": self.src, "to": self.dst, "diff": self.kind,
                               "before": _ports(self.before), "after": _ports(self.after),
                               "newlyAllowed": _ports(self.newly_allowed), "newlyDenied": _ports(self.newly_denied),
                               "namespace": self.group,
                               "causes": [c.to_dict() for c in self.causes]}
        if self.new_endpoint:
            out["newEndpoint"] = True
        if self.gone_endpoint:
            out["removedEndpoint"] = True
        if self.uncertain:
            out["uncertain"] = True
        return out


@dataclass
class MatrixDiff:
    """The connectivity difference between two states."""

    added: list[PairDiff] = field(default_factory=list)
    removed: list[PairDiff] = field(default_factory=list)
    changed: list[PairDiff] = field(default_factory=list)
    unchanged: list[PairDiff] = field(default_factory=list)
    endpoints_added: list[str] = field(default_factory=list)
    endpoints_removed: list[str] = field(default_factory=list)
    findings: list[Any] = field(default_factory=list)
    """Guard findings (``engine.guards.Finding``)."""
    mesh_changes: list[dict[str, Any]] = field(default_factory=list)
    """Pairs L4 allows before and after whose service-mesh verdict changed (engine.mesh.mesh_changes)."""
    notes: list[str] = field(default_factory=list)
    before_title: str = "before"
    after_title: str = "after"

    def differences(self) -> list[PairDiff]:
        """Added, removed and changed pairs, in a stable order."""
        return sorted(self.added + self.removed + self.changed, key=_pair_key)

    @property
    def has_differences(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.endpoints_added or self.endpoints_removed
                    or self.mesh_changes)

    def breaking(self) -> list[PairDiff]:
        """Pairs that lose connectivity (both endpoints exist before and after)."""
        return [p for p in self.differences() if p.breaking]

    def by_namespace(self) -> dict[str, list[PairDiff]]:
        """Differences grouped by :attr:`PairDiff.group`, namespaces sorted ('external' last)."""
        out: dict[str, list[PairDiff]] = {}
        for p in self.differences():
            out.setdefault(p.group, []).append(p)
        return dict(sorted(out.items(), key=lambda kv: (kv[0] == "external", kv[0])))

    def filter(self, namespace: str) -> MatrixDiff:
        """Only pairs with an endpoint in ``namespace`` (findings about it too)."""
        def keep(p: PairDiff) -> bool:
            return namespace in (_namespace(p.src_endpoint), _namespace(p.dst_endpoint))
        return MatrixDiff(added=[p for p in self.added if keep(p)], removed=[p for p in self.removed if keep(p)],
                          changed=[p for p in self.changed if keep(p)],
                          unchanged=[p for p in self.unchanged if keep(p)],
                          endpoints_added=[e for e in self.endpoints_added if e.startswith(namespace + "/")],
                          endpoints_removed=[e for e in self.endpoints_removed if e.startswith(namespace + "/")],
                          findings=[f for f in self.findings if getattr(f, "namespace", None) == namespace],
                          mesh_changes=[c for c in self.mesh_changes  # ids: namespace/name
                                        if namespace in (c["from"].split("/", 1)[0], c["to"].split("/", 1)[0])],
                          notes=list(self.notes), before_title=self.before_title, after_title=self.after_title)

    def summary(self) -> dict[str, int]:
        return {"added": len(self.added), "removed": len(self.removed), "changed": len(self.changed),
                "unchanged": len(self.unchanged), "breaking": len(self.breaking()), "findings": len(self.findings)}

    def to_dict(self) -> dict[str, Any]:
        """The ``-o json`` document of simulate and diff."""
        return {
            "kind": "ConnectivityDiff",
            "before": self.before_title,
            "after": self.after_title,
            "summary": self.summary(),
            "added": [p.to_dict() for p in sorted(self.added, key=_pair_key)],
            "removed": [p.to_dict() for p in sorted(self.removed, key=_pair_key)],
            "changed": [p.to_dict() for p in sorted(self.changed, key=_pair_key)],
            "endpointsAdded": list(self.endpoints_added),
            "endpointsRemoved": list(self.endpoints_removed),
            "findings": [f.to_dict() for f in self.findings],
            **({"notes": list(self.notes)} if self.notes else {}),
            **({"meshChanges": list(self.mesh_changes)} if self.mesh_changes else {}),
        }


# --------------------------------------------------------------------------------------------- compute
def diff_matrices(before: Matrix, after: Matrix, *, unchanged: bool = True) -> MatrixDiff:
    """Compare two matrices pair by pair (external ranges split by the CIDRs of both sides).

    With ``unchanged`` False, workload pairs whose cells are equal are skipped instead of listed in
    ``MatrixDiff.unchanged`` (a view that only wants what changed, e.g. the TUI's highlight after a rebuild,
    pays for the differences, not for every allowed pair)."""
    ext_b = [e for e in before.endpoints if e.is_external]
    ext_a = [e for e in after.endpoints if e.is_external]
    pieces = refine_externals(ext_b, ext_a)
    wl_b = {e.id: e for e in before.endpoints if not e.is_external}
    wl_a = {e.id: e for e in after.endpoints if not e.is_external}
    ids = list(wl_b) + [i for i in wl_a if i not in wl_b]
    endpoint = {**wl_b, **wl_a}
    out = MatrixDiff(endpoints_added=sorted(set(wl_a) - set(wl_b)), endpoints_removed=sorted(set(wl_b) - set(wl_a)),
                     before_title=before.title, after_title=after.title)

    new_ids, gone_ids = set(out.endpoints_added), set(out.endpoints_removed)
    lists = {ADDED: out.added, REMOVED: out.removed, CHANGED: out.changed, UNCHANGED: out.unchanged}
    none = ConnSet.none()

    def add(src: str, dst: str, b_key: tuple[str, str] | None, a_key: tuple[str, str] | None,
            src_ep: Endpoint | None, dst_ep: Endpoint | None) -> None:
        cb = before.cells.get(b_key) if b_key else None
        ca = after.cells.get(a_key) if a_key else None
        if cb is None and ca is None:
            return
        b = cb.conns if cb else none
        a = ca.conns if ca else none
        if not b and not a:
            return
        kind = UNCHANGED if a == b else ADDED if not b else REMOVED if not a else CHANGED
        lists[kind].append(PairDiff(src, dst, b, a, kind, src_ep, dst_ep,
                                    new_endpoint=(src in new_ids or dst in new_ids),
                                    gone_endpoint=(src in gone_ids or dst in gone_ids),
                                    uncertain=bool((cb and cb.uncertain) or (ca and ca.uncertain))))

    # Only pairs with a cell on either side can differ: visit those, never all N^2; each list in endpoint order.
    order = {i: n for n, i in enumerate(ids)}
    pair_keys = {k for k in before.cells if k[0] in wl_b and k[1] in wl_b}
    pair_keys |= {k for k in after.cells if k[0] in wl_a and k[1] in wl_a}
    b_cells, a_cells = before.cells, after.cells
    for s, d in pair_keys:
        if not unchanged and b_cells.get((s, d)) == a_cells.get((s, d)):
            continue
        add(s, d, (s, d) if s in wl_b and d in wl_b else None, (s, d) if s in wl_a and d in wl_a else None,
            endpoint[s], endpoint[d])
    for found in lists.values():
        found.sort(key=lambda p: (order[p.src], order[p.dst]))
    touching: dict[str, set[str]] = {}  # external id -> workloads with a cell to or from it (either side)
    for cells, wls in ((before.cells, wl_b), (after.cells, wl_a)):
        for src, dst in cells:
            if src in wls and dst not in wls:
                touching.setdefault(dst, set()).add(src)
            elif dst in wls and src not in wls:
                touching.setdefault(src, set()).add(dst)
    for piece in pieces:
        near = touching.get(piece.before_id, set()) | touching.get(piece.after_id, set())
        for w in sorted(near, key=order.__getitem__):
            ep = endpoint[w]
            add(piece.id, w, (piece.before_id, w) if w in wl_b else None, (piece.after_id, w) if w in wl_a else None,
                piece.endpoint, ep)
            add(w, piece.id, (w, piece.before_id) if w in wl_b else None, (w, piece.after_id) if w in wl_a else None,
                ep, piece.endpoint)
    return out


@dataclass(frozen=True)
class Piece:
    """A range of outside addresses that lies wholly inside one external endpoint of each side."""

    id: str
    addresses: AddressSet
    before_id: str
    after_id: str
    endpoint: Endpoint


def endpoint_addresses(e: Endpoint) -> AddressSet:
    """The addresses of an external endpoint (from its CIDRs)."""
    return AddressSet(network_interval(parse_network(c)) for c in e.cidrs)


def refine_externals(before: Iterable[Endpoint], after: Iterable[Endpoint]) -> list[Piece]:
    """The common refinement of two splits of the outside address space.

    Each piece keeps the id of the side whose range it equals (the new side first), so pairs whose range
    did not change keep their familiar name.
    """
    b_sets = [(e, endpoint_addresses(e)) for e in before]
    a_sets = [(e, endpoint_addresses(e)) for e in after]
    out: list[Piece] = []
    for ea, sa in a_sets:
        for eb, sb in b_sets:
            inter = sa & sb
            if not inter:
                continue
            if inter == sa:
                eid, ep = ea.id, ea
            elif inter == sb:
                eid, ep = eb.id, eb
            else:
                cidrs = inter.cidrs()
                eid = cidrs[0] if len(cidrs) == 1 else _range_text(inter)
                ep = Endpoint(eid, "External", cidrs=tuple(cidrs), group="external")
            out.append(Piece(eid, inter, eb.id, ea.id, ep))
    out.sort(key=lambda p: p.addresses.intervals)
    return out


def _range_text(s: AddressSet) -> str:
    return ", ".join(interval_text(lo, hi) for lo, hi in s.intervals)


def _namespace(e: Endpoint | None) -> str | None:
    if e is None or e.is_external:
        return None
    return e.namespace or (e.id.split("/", 1)[0] if "/" in e.id else None)


def _ports(c: ConnSet) -> Any:
    return c.to_contract() if c else []


def _pair_key(p: PairDiff) -> tuple[Any, ...]:
    return (p.group == "external", p.group, p.src_endpoint is not None and p.src_endpoint.is_external, p.src,
            p.dst)
