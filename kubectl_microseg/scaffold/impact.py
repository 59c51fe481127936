"""Provides the impact of scaffolded policies on the matrix, computed with the simulation engine.

The drafts are applied to the model's objects the way ``kubectl apply`` would (``engine.simulate``:
a draft with the namespace and name of an existing policy replaces it), both states are analysed, and
``engine.diff`` compares the matrices (external ranges on the common refinement of both splits, each
change with the policies and rules that cause it). This module applies the drafts and counts the
changes; the command prints the report (``commands/scaffold.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable

from ..engine.diff import MatrixDiff
from ..engine.k8s import Options
from ..engine.simulate import ObjectChange, simulate
from ..errors import Origin
from ..model.objects import SourceObject
from .draft import PolicyDraft


@dataclass(frozen=True)
class Counts:
    """How many (from, to) pairs change, by kind of change."""

    newly_allowed: int
    """Pairs denied before, allowed after."""
    newly_denied: int
    """Pairs allowed before, denied after."""
    fewer_ports: int
    """Pairs still allowed that lose some ports."""
    more_ports: int
    """Pairs that gain ports (and lose none)."""

    @classmethod
    def of(cls, diff: MatrixDiff) -> Counts:
        fewer = sum(1 for p in diff.changed if p.newly_denied)
        return cls(len(diff.added), len(diff.removed), fewer, len(diff.changed) - fewer)


def draft_objects(drafts: list[PolicyDraft]) -> list[SourceObject]:
    """The drafts as SourceObjects (origin '<scaffold>, document N')."""
    return [SourceObject(d.manifest(), Origin(file="<scaffold>", document=i + 1)) for i, d in enumerate(drafts)]


def scaffold_diff(objects: Iterable[SourceObject], drafts: list[PolicyDraft], options: Options | None,
                  title: str) -> tuple[MatrixDiff, list[ObjectChange]]:
    """The matrix diff of applying ``drafts`` to ``objects``, and the add/replace changes it made."""
    diff, sim = simulate(list(objects), draft_objects(drafts), options=options, base_title=title)
    return diff, sim.changes
