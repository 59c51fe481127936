"""Provides ``analyze``: a Snapshot and the options -> the Analyzer (the one way objects become an analysis).

Every caller — the commands (``load.load_analyzer``), the TUI, the audit trail, simulate/diff and the live
model — goes through it, so each analysis carries the snapshot's notes (skipped kinds, forbidden
resources, ...) ahead of the model's own, and the snapshot's unknown namespaces make their verdicts
uncertain, whatever the options say.
"""

from __future__ import annotations

from dataclasses import replace

from ..model.cluster import build_cluster
from ..model.snapshot import Snapshot
from .k8s import Analyzer, Options


def analyze(snapshot: Snapshot, options: Options | None = None) -> Analyzer:
    """Build the cluster model of ``snapshot`` (InputError on a bad object) and its Analyzer."""
    cluster = build_cluster(snapshot.objects)
    cluster.notes[:0] = snapshot.notes
    options = options or Options()
    if snapshot.all_namespaces_uncertain or not snapshot.uncertain_namespaces <= options.uncertain_namespaces:
        options = replace(options, uncertain_namespaces=options.uncertain_namespaces | snapshot.uncertain_namespaces,
                          all_uncertain=options.all_uncertain or snapshot.all_namespaces_uncertain)
    return Analyzer(cluster, options)
