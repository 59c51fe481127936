"""Provides Snapshot: what a source read (raw objects, notes, how complete it is), the input of ``analyze``.

Sources produce it (``sources.Source.load``); the core reads it (``engine.analyze``). Plain data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .objects import SourceObject


@dataclass
class Snapshot:
    """What a source read: raw objects, notes for the user, and how complete and fresh it is."""

    objects: list[SourceObject]
    description: str
    """Human words for where this came from ('files: ./k8s', 'demo cluster', 'context prod')."""
    notes: list[str] = field(default_factory=list)
    """Things the user should know (skipped kinds, forbidden resources, ...)."""
    uncertain_namespaces: frozenset[str] = frozenset()
    """Namespaces whose policies could not be read: verdicts involving them are uncertain."""
    all_namespaces_uncertain: bool = False
    """True when NetworkPolicies of every namespace are unknown (e.g. listing them was forbidden)."""
    warnings: list[str] = field(default_factory=list)
    """What the view lacks (the subset of ``notes`` that makes it partial): views print these in their
    output itself (stdout, json), never only on stderr."""
    uncertain_reasons: dict[str, str] = field(default_factory=dict)
    """Why verdicts are uncertain: namespace -> reason; the key ``*`` means every verdict."""
    namespaces_complete: bool = True
    """True when every namespace that exists is known (files, the demo, a readable Namespace list): a
    namespace named on the command line that is not among them does not exist."""

    def uncertain_reason(self, *namespaces: str | None) -> str | None:
        """Why a verdict between pods of ``namespaces`` is uncertain, or None when it is certain."""
        reasons = self.uncertain_reasons
        if not reasons:
            return None
        return reasons.get("*") or next((reasons[n] for n in namespaces if n in reasons), None)
