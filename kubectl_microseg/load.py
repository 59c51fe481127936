"""Provides ``load_snapshot``: the CLI's choice of source (-f, --demo, or the live cluster)."""

from __future__ import annotations

import argparse
import gc

from .errors import UsageError
from .sources import Snapshot, load_source_class


def source_for(args: argparse.Namespace):
    """The Source object the command-line options ask for."""
    files = getattr(args, "filename", None)
    demo = getattr(args, "demo", False)
    if files and demo:
        raise UsageError("choose one source: -f/--filename or --demo, not both")
    if files:
        return load_source_class("manifests")(list(files))
    if demo:
        return load_source_class("demo")()
    cls = load_source_class("kube")
    return cls.from_args(args)


def load_snapshot(args: argparse.Namespace) -> Snapshot:
    """Read the model's raw objects from the source chosen on the command line."""
    snapshot = source_for(args).load()
    gc.freeze()  # the snapshot lives as long as the command: later collections need not walk it again
    return snapshot


def analyzer_options(args: argparse.Namespace, snapshot: Snapshot):
    """Engine options from the command line and what the source could not read."""
    from .engine.k8s import Options

    return Options(
        ipblock_matches_pods=bool(getattr(args, "ipblock_matches_pods", False)),
        hostnetwork_as_pods=bool(getattr(args, "hostnetwork_as_pods", False)),
        uncertain_namespaces=snapshot.uncertain_namespaces,
        all_uncertain=snapshot.all_namespaces_uncertain,
    )


def load_analyzer(args: argparse.Namespace):
    """Snapshot -> Cluster -> Analyzer for the source chosen on the command line."""
    from .engine.k8s import Analyzer
    from .model.cluster import build_cluster

    snapshot = load_snapshot(args)
    cluster = build_cluster(snapshot.objects)
    cluster.notes[:0] = snapshot.notes
    return Analyzer(cluster, analyzer_options(args, snapshot)), snapshot
