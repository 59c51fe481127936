"""``kubectl microseg probe``: real connection attempts in a live cluster, compared with what the policies say.

Cells: ``-n NS`` (every endpoint pair of a namespace), ``--flows FILE`` (a ``test`` flows file), ``--sample``
(one pod of every pod-class pair, at most ``--max-cells``), or ``--from SRC --to DST [--port P]``; plus
``--dns`` and ``--external ADDR:PORT`` (the seed script's tests 2 and 3). Without ``--yes`` nothing is run
or created: the plan is printed. See docs/probe.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..cli import command_parser
from ..errors import EXIT_FAILED, EXIT_UNREACHABLE, UsageError
from ..dataplane import caveats
from ..dataplane.report import text_lines as report_text
from ..dataplane.cells import Cell, class_sample, dns_cells, external_cells, from_flows, in_namespace, judge, one_pair
from ..dataplane.commands import Outcome, argv
from ..dataplane.pods import PodRef, running_pods
from ..dataplane.probe import execute


def register(sub: Any) -> None:
    p = command_parser(sub, "probe", "send real probes between pods and compare with what the policies say",
                       description="Run real connection attempts from source pods (an ephemeral debug container "
                       "with --image, or exec into the pod with --exec) and compare the network's answer with the "
                       "model's verdict, cell by cell; exit 1 on a disagreement. Without --yes, only the plan is "
                       "printed.")
    g = p.add_argument_group("cells (choose one; -n NS alone means every endpoint pair of NS)")
    g.add_argument("--flows", metavar="FILE", help="the flows of a `test` flows file")
    g.add_argument("--sample", action="store_true", help="one pod of every pair of pod classes")
    g.add_argument("--from", dest="src", metavar="SRC", help="one source: ns/name, a workload or pod name")
    g.add_argument("--to", dest="dst", metavar="DST", help="one destination: ns/name, a pod name, or an IP")
    g.add_argument("--port", help="with --to: a port number or name (default: every declared containerPort)")
    g.add_argument("--protocol", default="TCP", type=str.upper, choices=["TCP", "UDP", "SCTP"])
    g.add_argument("--max-cells", type=int, default=200, metavar="N", help="with --sample: at most N cells")
    g.add_argument("--seed", type=int, default=0, help="with --sample: the sample's seed")
    g.add_argument("--dns", nargs="?", const="kubernetes.default.svc.cluster.local", metavar="NAME",
                   help="also resolve NAME through the cluster DNS from every source pod")
    g.add_argument("--external", action="append", default=[], metavar="ADDR:PORT",
                   help="also connect from every source pod to this address outside the cluster (repeatable)")
    r = p.add_argument_group("how")
    r.add_argument("--image", help="run the probes in an ephemeral debug container of this image (it needs sh, "
                   "timeout, nc; nslookup for --dns; ncat for SCTP), e.g. nicolaka/netshoot or your mirror of it")
    r.add_argument("--exec", dest="use_exec", action="store_true",
                   help="run the probes in the pod's own container instead (its image must have the tools)")
    r.add_argument("--container", help="with --exec: the container (default: the pod's first)")
    r.add_argument("--yes", action="store_true", help="really run (and create the ephemeral containers)")
    r.add_argument("--timeout", type=int, default=3, metavar="SECONDS", help="per probe (default 3)")
    r.add_argument("--concurrency", type=int, default=8, metavar="N", help="probes at once (default 8)")
    r.add_argument("--ready-timeout", type=float, default=60.0, metavar="SECONDS",
                   help="wait this long for an ephemeral container to start (default 60)")
    p.add_argument("-o", "--output", choices=["text", "json"], default="text")
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> None:
    if args.image and args.use_exec:
        raise UsageError("choose one: --image IMAGE (ephemeral debug container) or --exec (the pod's container)")
    if args.yes and not (args.image or args.use_exec):
        raise UsageError("name how to probe: --image IMAGE (an image with sh, timeout, nc, nslookup; see "
                         "docs/probe.md) or --exec")
    if bool(args.src) != bool(args.dst):
        raise UsageError("--from and --to go together")
    if args.timeout < 1 or args.concurrency < 1 or args.max_cells < 1:
        raise UsageError("--timeout, --concurrency and --max-cells must be at least 1")
    if args.yes and (getattr(args, "filename", None) or getattr(args, "demo", False)):
        raise UsageError("probe --yes needs a live cluster (not -f or --demo)")


def choose_cells(args: argparse.Namespace, analyzer: Any, pods: list[PodRef]) -> tuple[list[Cell], list[str]]:
    """The cells the options ask for (see the module docstring)."""
    notes: list[str] = []
    if args.flows:
        from .test import read_flows

        cells, notes = from_flows(analyzer, pods, read_flows(args.flows))
    elif args.sample:
        cells, notes = class_sample(pods, args.max_cells, args.seed)
    elif args.src:
        cells = one_pair(analyzer, pods, args.src, args.dst, args.port, args.protocol)
    elif getattr(args, "namespace", None):
        cells, notes = in_namespace(pods, args.namespace)
    else:
        raise UsageError("choose the cells: -n NAMESPACE, --flows FILE, --sample, or --from SRC --to DST")
    sources = list(dict.fromkeys(c.src for c in cells))
    if args.dns:
        dcells, dnotes = dns_cells(pods, sources, args.dns)
        cells, notes = cells + dcells, notes + dnotes
    cells += external_cells(sources, args.external)
    return [judge(analyzer, c) for c in cells], notes


def run(args: argparse.Namespace) -> int:
    from ..engine.analyze import analyze
    from ..load import analyzer_options, source_for

    _check_args(args)
    source = source_for(args)
    snapshot = source.load()
    analyzer = analyze(snapshot, analyzer_options(args, snapshot))
    cluster = analyzer.cluster
    pods = running_pods(snapshot.objects, cluster)
    cells, notes = choose_cells(args, analyzer, pods)
    cnis = caveats.detect_cni(snapshot.objects)
    if not args.yes:
        return _plan(args, cells, notes, cnis)
    if not cells:
        raise UsageError("nothing to probe: " + ("; ".join(notes) or "no cell"))
    connection = getattr(source, "connection", None)  # the live cluster's (KubeSource); no other source runs pods
    if connection is None:
        raise UsageError("probe runs connections from pods: it needs a live cluster (no -f, --demo or --source)")
    report = execute(connection.api_client, cells, cnis, cluster, image=args.image, container=args.container,
                     timeout=args.timeout, concurrency=args.concurrency, ready_timeout=args.ready_timeout,
                     notes=notes)
    rows = report["results"]
    if args.output == "json":
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        for line in report_text(report):
            print(line, file=sys.stderr if line.startswith("warning: ") else sys.stdout)
    if report["disagreed"]:
        return EXIT_FAILED
    if rows and all(x["outcome"] == Outcome.ERROR for x in rows):
        print("error: no probe could be run (see the details above)", file=sys.stderr)
        return EXIT_UNREACHABLE
    return 0


def _plan(args: argparse.Namespace, cells: list[Cell], notes: list[str], cnis: list[caveats.Cni]) -> int:
    how = (f"an ephemeral container (image {args.image}) in each of {len({c.src for c in cells})} source pod(s)"
           if args.image else "exec in each source pod's container" if args.use_exec
           else "(choose --image IMAGE or --exec)")
    if args.output == "json":
        print(json.dumps({"kind": "ProbePlan", "cni": [str(c) for c in cnis], "how": how, "notes": notes,
                          "cells": [{"from": c.src.id, "to": c.dst_pod.id if c.dst_pod else c.address,
                                     "kind": c.kind, "protocol": c.protocol, "port": c.port, "model": c.model,
                                     "command": argv(c, args.timeout)} for c in cells]}, indent=2))
        return 0
    print(f"plan: {len(cells)} probe(s) via {how}; CNI: {', '.join(map(str, cnis)) or 'none recognised'}")
    for c in cells:
        print(f"  {c.model:5} {c.label()}   $ {' '.join(argv(c, args.timeout))}")
    for n in notes:
        print(f"note: {n}")
    print("nothing was run or created: add --yes to probe")
    return 0
