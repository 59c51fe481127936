"""Provides the flow diff of two rulesets: which (from, to, ports) become allowed or denied.

Both matrices are built over the same address classes and port pieces (the constants of both
rulesets), so a changed cell is a real change, not a different cut of the address space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine.diff import PairDiff, diff_matrices
from ..engine.matrix import Matrix
from ..model.ports import ConnSet
from .evaluate import evaluate
from .matrix import HostSpec, build_matrix
from .model import Ruleset
from .packet import Flow


@dataclass(frozen=True)
class FlowChange:
    flow: Flow
    before: str
    after: str


def matrix_pair(current: Ruleset, new: Ruleset, name: str, addresses: list[str],
                hooks: tuple[str, ...] = ("input", "output")) -> tuple[Matrix, Matrix]:
    """The matrices of both rulesets over the same classes."""
    before = build_matrix([HostSpec(name, addresses, current)], hooks=hooks, extra_rulesets=(new,))
    after = build_matrix([HostSpec(name, addresses, new)], hooks=hooks, extra_rulesets=(current,))
    return before, after


def host_changes(current: Ruleset, new: Ruleset, name: str, addresses: list[str]) -> list[PairDiff]:
    """The changes of one host's own flows (input and output) in both address families.

    ``addresses`` are the host's known addresses (an SSH session's, a --keep's route source). A family
    without one is still compared, with the placeholder address no rule names (``build_matrix``): a
    ruleset that drops all IPv6 is a change even when the session runs over IPv4."""
    changes = cell_changes(*matrix_pair(current, new, name, addresses))
    known = {6 if ":" in a else 4 for a in addresses}
    if not addresses or known == {4, 6}:
        return changes  # no address: both families already have their placeholder
    family = {e.id: (6 if ":" in e.cidrs[0] else 4) for e in matrix_pair(current, new, name, [])[1].endpoints
              if e.cidrs}
    more = [c for c in cell_changes(*matrix_pair(current, new, name, []))
            if family.get(c.src if c.dst == name else c.dst) not in known]
    return changes + more


def cell_changes(before: Matrix, after: Matrix) -> list[PairDiff]:
    """Pairs whose connections differ, in endpoint order (``engine.diff.diff_matrices``: the one matrix diff)."""
    d = diff_matrices(before, after, unchanged=False)
    order = {e.id: i for i, e in enumerate(after.endpoints)}
    return sorted(d.added + d.removed + d.changed, key=lambda p: (order.get(p.src, 0), order.get(p.dst, 0)))


def change_dict(p: PairDiff) -> dict[str, Any]:
    """One changed pair in ``nft simulate -o json`` (docs/contract.md)."""
    return {"from": p.src, "to": p.dst, "before": _ports(p.before), "after": _ports(p.after),
            "allowed": _ports(p.newly_allowed), "denied": _ports(p.newly_denied)}


def _ports(c: ConnSet) -> Any:
    return c.to_contract() if c else []


def diff_flows(current: Ruleset, new: Ruleset, flows: list[Flow]) -> list[FlowChange]:
    """Flows whose verdict differs between the two rulesets."""
    out = []
    for f in flows:
        b = evaluate(current, f.packet(), f.hook).verdict
        a = evaluate(new, f.packet(), f.hook).verdict
        if a != b:
            out.append(FlowChange(f, b, a))
    return out


def change_lines(changes: list[PairDiff]) -> list[str]:
    """'- mgmt_net -> db-server: TCP 22 becomes denied' lines."""
    lines = []
    for c in changes:
        if c.newly_denied:
            lines.append(f"- {c.src} -> {c.dst}: {c.newly_denied.describe()} becomes denied")
        if c.newly_allowed:
            lines.append(f"+ {c.src} -> {c.dst}: {c.newly_allowed.describe()} becomes allowed")
    return lines
