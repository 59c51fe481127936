"""``kubectl microseg matrix``: the effective connectivity matrix."""

from __future__ import annotations

import argparse
import sys

from ..cli import command_parser
from ..engine.layers import layer_inventory
from ..engine.matrix import Matrix
from ..errors import UsageError
from ..load import load_analyzer, mesh_analyzer
from ..model.selectors import parse_selector_text
from ..render import FORMATS, PAGE_FORMATS, render_matrix, render_page


def register(sub) -> None:
    p = command_parser(sub, "matrix", "show the effective connectivity matrix",
                       description="Show which workloads (and address ranges outside the cluster) may open "
                       "connections to which, on which ports, as the NetworkPolicies in force allow.")
    p.add_argument("-o", "--output", choices=FORMATS, default="table",
                   help="output format (json is the contract; html is a page with each pair's deciding rule on hover)")
    p.add_argument("-l", "--selector", help="only workloads whose labels match (kubectl syntax: app=web,tier!=db)")
    p.add_argument("--no-external", action="store_true", help="leave out address ranges outside the cluster")
    p.add_argument("-w", "--watch", action="store_true",
                   help="follow the live cluster: print the matrix again within a second of each change")
    p.set_defaults(func=run)


def filter_matrix(m: Matrix, namespace: str | None, selector: str | None) -> Matrix:
    """Keep pairs that touch a chosen endpoint (namespace and/or label selector); keep their peers."""
    if not namespace and not selector:
        return m
    try:
        sel = parse_selector_text(selector) if selector else None
    except ValueError as exc:
        raise UsageError(f"bad --selector: {exc}") from None
    chosen = {e.id for e in m.endpoints
              if not e.is_external
              and (not namespace or e.namespace == namespace)
              and (sel is None or sel.matches(dict(e.labels)))}
    if not chosen and selector:
        where = f" in namespace {namespace}" if namespace else ""
        raise UsageError(f"-l {selector} selects no workload{where}: nothing to show (labels are matched on "
                         "workloads, as `get workloads` lists them)")
    keep = set(chosen)
    for s, d in m.cells:
        if s in chosen or d in chosen:
            keep.add(s)
            keep.add(d)
    out = m.restrict(keep)
    out.cells = {k: v for k, v in out.cells.items() if k[0] in chosen or k[1] in chosen}
    return out


def run(args: argparse.Namespace) -> int:
    if getattr(args, "watch", False):
        if args.output in PAGE_FORMATS:
            raise UsageError(f"-o {args.output} writes one page; it cannot follow changes (--watch)")
        from ..live import follow_command

        return follow_command(args, show)
    analyzer, snapshot = load_analyzer(args)
    show(args, analyzer, snapshot)
    return 0


def show(args: argparse.Namespace, analyzer, snapshot) -> None:
    """Print the matrix of one analysis (also each update of ``--watch``)."""
    m = analyzer.matrix(external=not args.no_external)
    m.title = f"Effective connectivity ({snapshot.description})"
    m.layers = layer_inventory(analyzer.cluster)
    m.warnings, m.uncertain_reasons = list(snapshot.warnings), dict(snapshot.uncertain_reasons)
    mesh = mesh_analyzer(args, analyzer.cluster)
    if mesh is not None:  # the service-mesh layer on top of L4 (engine/mesh.py)
        from ..engine.mesh import annotate

        annotate(m, mesh)
    m = filter_matrix(m, None if args.all_namespaces else args.namespace, args.selector)
    if args.output in PAGE_FORMATS:
        from ..engine.explain import deciding_rules

        sys.stdout.write(render_page(m, args.output, deciding_rules(analyzer, m)))
    else:
        sys.stdout.write(render_matrix(m, args.output))
    for note in m.notes:
        if note not in m.warnings:
            print(f"note: {note}", file=sys.stderr)
