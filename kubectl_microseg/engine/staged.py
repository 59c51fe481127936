"""Provides ``staged_changes``: the pairs whose verdict the Calico staged policies would change if enforced.

Calico's staged kinds (StagedNetworkPolicy, StagedGlobalNetworkPolicy, StagedKubernetesNetworkPolicy;
docs.tigera.io/calico/latest/reference/resources/stagednetworkpolicy and its siblings) enforce nothing: the
enforced verdict is the matrix's. Their staged verdict is that of the cluster with them promoted
(``model.calico.promote_staged``: Set creates or replaces the enforced policy, Delete removes it), the same
simulation ``simulate --staged`` shows. A view marks the pairs where the two differ and names the staged
policies that make the difference (the simulation's causes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..model.calico import promote_staged
from ..model.cluster import expand_lists
from ..model.objects import SourceObject
from ..model.ports import ConnSet
from .k8s import Options


@dataclass(frozen=True)
class StagedChange:
    """One pair whose staged verdict differs from the enforced one."""

    change: str
    """'added' (staged allows what is denied now), 'removed' (staged denies what is allowed now), 'changed'."""
    enforced: ConnSet
    staged: ConnSet
    policies: tuple[str, ...]
    """The promoted policies the simulation names as the cause (e.g. 'GlobalNetworkPolicy db-only-web')."""

    def describe(self) -> str:
        what = {"added": "would allow", "removed": "would deny", "changed": "would change the ports"}[self.change]
        by = ", ".join(self.policies) or "the staged policies"
        return (f"staged: {by} {what}: {self.staged.describe('all ports') if self.staged else 'denied'} "
                f"(enforced: {self.enforced.describe('all ports') if self.enforced else 'denied'})")


def has_staged(objects: Iterable[SourceObject]) -> bool:
    sets, deletes = promote_staged(expand_lists(objects))
    return bool(sets or deletes)


def staged_changes(objects: Iterable[SourceObject], options: Options | None = None,
                   external: bool = True) -> dict[tuple[str, str], StagedChange]:
    """(source id, destination id) -> how promoting the staged policies among ``objects`` changes that pair
    (empty when there are none, or when they change nothing)."""
    from .simulate import Deletion, object_key, simulate

    base = expand_lists(objects)
    sets, deletes = promote_staged(base)
    if not sets and not deletes:
        return {}
    present = {object_key(o) for o in base}
    deletions = [Deletion(ns, name, kind) for kind, ns, name in deletes if (kind, ns, name) in present]
    diff, _ = simulate(base, sets, deletions, options=options)
    out: dict[tuple[str, str], StagedChange] = {}
    for change, pairs in (("added", diff.added), ("removed", diff.removed), ("changed", diff.changed)):
        for p in pairs:
            if not external and ((p.src_endpoint is not None and p.src_endpoint.is_external)
                                 or (p.dst_endpoint is not None and p.dst_endpoint.is_external)):
                continue
            policies = tuple(dict.fromkeys(c.policy for c in p.causes if c.policy))
            out[(p.src, p.dst)] = StagedChange(change, p.before, p.after, policies)
    return out
