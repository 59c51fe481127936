"""``kubectl microseg tui``: the interactive matrix (Textual, imported only when this command runs)."""

from __future__ import annotations

import argparse

from ..cli import command_parser


def register(sub) -> None:
    p = command_parser(sub, "tui", "browse the connectivity matrix interactively",
                       description="Open the terminal UI: the connectivity matrix grouped by namespace, "
                       "explanations, policies, simulation and, on a live cluster, updates as it changes. "
                       "Press ? inside for the keys.")
    p.add_argument("-g", "--granularity", choices=("namespace", "workload", "pod"), default="workload",
                   help="rows and columns are namespaces, workloads or pods (g cycles inside)")
    p.add_argument("--no-watch", action="store_true", help="do not follow the live cluster's changes")
    p.add_argument("--no-external", action="store_true", help="leave out address ranges outside the cluster")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..load import source_for
    from kubectl_microseg.tui.app import MicrosegApp

    source = source_for(args)
    namespace = None if getattr(args, "all_namespaces", False) else getattr(args, "namespace", None)
    app = MicrosegApp(source, args, granularity=args.granularity, live=not args.no_watch, namespace=namespace)
    return int(app.run() or 0)
