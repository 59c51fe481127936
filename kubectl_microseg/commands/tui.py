"""``kubectl microseg tui``: the interactive matrix (Textual, imported only when this command runs)."""

from __future__ import annotations

import argparse

from ..cli import command_parser, ignore_sigpipe


def register(sub) -> None:
    p = command_parser(sub, "tui", "browse the connectivity matrix interactively",
                       description="Open the terminal UI: the connectivity matrix grouped by namespace, "
                       "explanations, policies, simulation and, on a live cluster, updates as it changes. "
                       "Press ? inside for the keys.")
    p.add_argument("-g", "--granularity", choices=("namespace", "workload", "pod"), default="workload",
                   help="rows and columns are namespaces, workloads or pods (g cycles inside)")
    p.add_argument("--no-watch", action="store_true", help="do not follow the live cluster's changes")
    p.add_argument("--no-external", action="store_true", help="leave out address ranges outside the cluster")
    r = p.add_argument_group("probe (r on a cell; docs/probe.md)")
    r.add_argument("--probe-image", metavar="IMAGE", help="run probes in an ephemeral debug container of this image")
    r.add_argument("--probe-exec", action="store_true", help="run probes in the source pod's own container")
    n = p.add_argument_group("host firewalls (nftables)")
    n.add_argument("--nft", action="store_true",
                   help="open on host rulesets instead of a cluster: --ruleset FILE..., --inventory FILE, "
                   "--demo (the demo database server), or the live ruleset of this host (root)")
    n.add_argument("--ruleset", action="extend", nargs="+", metavar="FILE",
                   help="with --nft: a ruleset file (nft -f syntax or nft -j JSON); repeat for several hosts")
    n.add_argument("--inventory", metavar="FILE", nargs="?", const="", default=None,
                   help="with --nft: hosts file (name, addresses, ruleset); with --demo and no FILE: the demo hosts")
    n.add_argument("--address", action="append", default=[], metavar="ADDR",
                   help="with --nft and one ruleset: an address of the host (repeatable)")
    n.add_argument("--name", default=None, help="with --nft and one ruleset: the host's name in the matrix")
    n.add_argument("--hooks", default="input,output", help="with --nft: input,output[,forward]")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..load import source_for
    from kubectl_microseg.tui.app import MicrosegApp

    if getattr(args, "nft", False):
        return run_nft(args)
    if getattr(args, "ruleset", None) or getattr(args, "inventory", None) is not None:
        from ..errors import UsageError
        raise UsageError("--ruleset and --inventory need --nft")
    source = source_for(args)
    namespace = None if getattr(args, "all_namespaces", False) else getattr(args, "namespace", None)
    app = MicrosegApp(source, args, granularity=args.granularity, live=not args.no_watch, namespace=namespace)
    ignore_sigpipe()
    return int(app.run() or 0)


def run_nft(args: argparse.Namespace) -> int:
    """``tui --nft``: the same views over host firewalls (rulesets are read in the app's load worker)."""
    from ..errors import UsageError
    from kubectl_microseg.tui.app import MicrosegApp
    from kubectl_microseg.tui.nft_session import NftSource

    hooks = tuple(h.strip() for h in args.hooks.split(",") if h.strip())
    bad = [h for h in hooks if h not in ("input", "output", "forward")]
    if bad:
        raise UsageError(f"--hooks: unknown hook(s) {', '.join(bad)}")
    if args.inventory == "" and not getattr(args, "demo", False):
        raise UsageError("--inventory needs a FILE (or --demo for the demo hosts)")
    gran = "workload" if args.granularity == "pod" else args.granularity
    app = MicrosegApp(NftSource(args, hooks), args, granularity=gran, live=False)
    return int(app.run() or 0)
