"""Provides ``load_snapshot``: the CLI's choice of source (--source NAME, -f, --demo, or the live cluster)."""

from __future__ import annotations

import argparse
import gc

from .errors import UsageError
from .sources import Snapshot, Source, build_source, source_shows
from .vocab import SessionKind

SHORTHANDS = (("filename", "-f/--filename", "manifests"), ("demo", "--demo", "demo"))
"""Options that name a Kubernetes source: (attribute, option, source name); ``-f`` is ``--source manifests``."""
DEFAULT_SOURCE = {SessionKind.K8S: "kube", SessionKind.NFT: "nftables"}
"""The source when none is named: the live cluster of the kubeconfig; the host's live ruleset (whose
--ruleset, --inventory and --demo options are the nftables source's own)."""


def source_name(args: argparse.Namespace, shows: SessionKind = SessionKind.K8S) -> str:
    """The registry name of the source the command line asks for (one of --source, -f, --demo, or the default)."""
    explicit = getattr(args, "source", None)
    if shows != SessionKind.K8S:
        return explicit or DEFAULT_SOURCE[shows]
    named = [(option, name) for attr, option, name in SHORTHANDS if getattr(args, attr, None)]
    if explicit:
        named = [(opt, name) for opt, name in named if name != explicit] + [("--source", explicit)]
    if len(named) > 1:
        raise UsageError(f"choose one source: {' or '.join(opt for opt, _ in named)}, not both" if len(named) == 2
                         else f"choose one source, not {len(named)}: {', '.join(opt for opt, _ in named)}")
    return named[0][1] if named else DEFAULT_SOURCE[shows]


def source_for(args: argparse.Namespace, shows: SessionKind = SessionKind.K8S) -> Source:
    """The Source object the command-line options ask for, built through the registry (``sources``); a source
    that reads something else than the views show (``shows``) is a usage error."""
    name = source_name(args, shows)
    source = build_source(name, args)
    if source_shows(source) != shows:
        raise UsageError(f"source {name!r} reads {source_shows(source).describe()}, not {shows.describe()}"
                         + (": use `kubectl microseg nft` or `tui --nft`" if source_shows(source) == SessionKind.NFT
                            else ""))
    return source


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
        mesh=mesh_options(args),
    )


def mesh_options(args: argparse.Namespace):
    """``--mesh-root-namespace`` and ``--trust-domain`` (the one place they are read)."""
    from .model.istio import DEFAULT_ROOT_NAMESPACE, DEFAULT_TRUST_DOMAIN, MeshOptions

    return MeshOptions(getattr(args, "mesh_root_namespace", None) or DEFAULT_ROOT_NAMESPACE,
                       getattr(args, "trust_domain", None) or DEFAULT_TRUST_DOMAIN)


def mesh_analyzer(args: argparse.Namespace, cluster):
    """The service-mesh layer (engine/mesh.py) of the cluster, or None when nothing is in a mesh."""
    from .engine.mesh import MeshAnalyzer

    mesh = MeshAnalyzer(cluster, mesh_options(args))
    return mesh if mesh.active else None


def load_analyzer(args: argparse.Namespace, *, namespace_must_exist: bool = True):
    """Snapshot -> Cluster -> Analyzer for the source chosen on the command line.

    The namespace of ``-n`` is checked against the model (see :func:`check_namespace`).
    """
    from .engine.analyze import analyze

    snapshot = load_snapshot(args)
    analyzer = analyze(snapshot, analyzer_options(args, snapshot))
    check_namespace(args, analyzer.cluster, snapshot, must_exist=namespace_must_exist)
    return analyzer, snapshot


def chosen_namespace(args: argparse.Namespace) -> str | None:
    """The namespace the views focus on: ``-n``, unless ``-A`` is given."""
    return None if getattr(args, "all_namespaces", False) else getattr(args, "namespace", None) or None


def check_namespace(args: argparse.Namespace, cluster, snapshot: Snapshot, *, must_exist: bool = True) -> None:
    """A ``-n`` that names no namespace of the model is a typo until shown otherwise, never an empty answer.

    Where every namespace is known (files, the demo, a readable Namespace list) it is an error (exit 2),
    with the closest name; where it cannot be known (Namespaces unreadable), or ``must_exist`` is False
    (scaffolding for a namespace to come), a warning the views print in their output. A namespace that
    exists but holds no workload is worth a warning too.
    """
    import difflib

    ns = chosen_namespace(args)
    if not ns:
        return
    known = list(cluster.namespaces)
    if ns not in cluster.namespaces:
        close = difflib.get_close_matches(ns, known, n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        if snapshot.namespaces_complete and must_exist:
            raise UsageError(f'namespace "{ns}" is not in {snapshot.description}{hint}; namespaces: '
                             f"{', '.join(known) or 'none'}")
        why = "it is not in the input" if snapshot.namespaces_complete else "Namespaces cannot be read"
        _warn(snapshot, cluster, f'namespace "{ns}" is not known ({why}){hint}: nothing is shown for it')
    elif not any(w.namespace == ns for w in cluster.workloads):
        _warn(snapshot, cluster, f'namespace "{ns}" has no workloads in {snapshot.description}')


def _warn(snapshot: Snapshot, cluster, text: str) -> None:
    snapshot.warnings.append(text)
    cluster.notes.insert(0, text)
