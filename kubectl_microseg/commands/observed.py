"""``kubectl microseg observed FILE...``: observed flows (Hubble, Calico flow logs, conntrack) against the policies.

Shows, ``test``-style or on the matrix: observed and allowed; observed but denied (dropped as written, or
forwarded: "would be dropped if applied"); allowed but dropped; allowed but never observed. ``-o flows``
writes the observed connections as a ``test`` flows file (``scaffold from-matrix --flows`` also reads the
exports directly). Exit 1 when observed traffic and the policies disagree (denied-forwarded or
allowed-dropped). See docs/observed.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from ..cli import command_parser
from ..dataplane.flowlogs import Format
from ..dataplane.observed import Category, Joined, flows_document, observe
from ..errors import EXIT_FAILED

FORMATS = (Format.AUTO, Format.HUBBLE, Format.CALICO, Format.CONNTRACK)
MARKS = {Category.ALLOWED: "OBSERVED", Category.DENIED_DROPPED: "DROPPED", Category.DENIED_FORWARDED: "DENIED",
         Category.ALLOWED_DROPPED: "MISMATCH", Category.UNUSED: "UNUSED"}
WORDS = {Category.ALLOWED: "observed and allowed",
         Category.DENIED_DROPPED: "denied by the policies and dropped",
         Category.DENIED_FORWARDED: "denied by the policies but observed: would be dropped if they were applied",
         Category.ALLOWED_DROPPED: "allowed by the policies but dropped by the network",
         Category.UNUSED: "allowed but never observed in the window (least-privilege candidate)"}
GRID = {Category.ALLOWED: "●", Category.DENIED_DROPPED: "x", Category.DENIED_FORWARDED: "!",
        Category.ALLOWED_DROPPED: "?", Category.UNUSED: "○"}


def register(sub: Any) -> None:
    p = command_parser(sub, "observed", "observed flows (Hubble, Calico flow logs, conntrack) against the policies",
                       description="Map observed flows onto endpoints and compare them with the policies: observed "
                       "and allowed, observed but denied, allowed but dropped, allowed but never observed. Exit 1 "
                       "when observed traffic is denied by the policies or allowed traffic was dropped.")
    p.add_argument("exports", nargs="+", metavar="FILE", help="`hubble observe -o json` lines, Calico flow log "
                   "lines or `conntrack -L` output; '-' reads stdin")
    add_format_option(p)
    p.add_argument("--no-unused", action="store_true", help="leave out allowed connections never observed")
    p.add_argument("-o", "--output", choices=["text", "json", "matrix", "flows"], default="text")
    p.set_defaults(func=run)


def add_format_option(p: argparse.ArgumentParser, flag: str = "--format") -> None:
    p.add_argument(flag, dest="flow_format", choices=FORMATS, default=Format.AUTO,
                   help="format of the flow exports (default: recognised from the first line)")


def run(args: argparse.Namespace) -> int:
    from ..load import load_analyzer

    analyzer, snapshot = load_analyzer(args)
    joined = observe(analyzer, snapshot, args.exports, fmt=args.flow_format, namespace=getattr(args, "namespace", None),
                     unused=not args.no_unused)
    if args.output == "json":
        counts = {c: len(joined.of(c)) for c in MARKS}
        sys.stdout.write(json.dumps({"kind": "ObservedFlows", "results": [r.to_dict() for r in joined.rows],
                                     "counts": counts, "notes": joined.notes}, indent=2) + "\n")
    elif args.output == "flows":
        sys.stdout.write(yaml.safe_dump(flows_document(joined.rows), sort_keys=False))
    elif args.output == "matrix":
        sys.stdout.write(render_grid(joined))
    else:
        print_text(joined)
    return EXIT_FAILED if joined.of(Category.DENIED_FORWARDED, Category.ALLOWED_DROPPED) else 0


def print_text(joined: Joined) -> None:
    for r in joined.rows:
        what = f"{r.protocol}/{r.port}" if r.port is not None else r.allowed
        count = f" ({r.count} flow{'s' if r.count != 1 else ''})" if r.count else ""
        src = f"{', '.join(r.src_addresses)} ({r.src})" if r.src_addresses else r.src
        dst = f"{', '.join(r.dst_addresses)} ({r.dst})" if r.dst_addresses else r.dst
        print(f"{MARKS[r.category]:9} {r.model:5} {r.network:14} {src} -> {dst} {what}{count}")
        if r.category in (Category.DENIED_FORWARDED, Category.ALLOWED_DROPPED):
            print(f"{'':10}{WORDS[r.category]}")
            for b in r.because:
                print(f"{'':10}because: {b}")
            for reason in r.reasons:
                print(f"{'':10}dataplane: {reason}")
    for n in joined.notes:
        print(f"note: {n}")
    counts = ", ".join(f"{len(joined.of(c))} {MARKS[c].lower()}" for c in MARKS)
    print(counts)


def render_grid(joined: Joined) -> str:
    """The endpoints in view as a grid: a mark per (source, destination), the worst category wins."""
    order = [Category.ALLOWED_DROPPED, Category.DENIED_FORWARDED, Category.DENIED_DROPPED, Category.ALLOWED,
             Category.UNUSED]
    cells: dict[tuple[str, str], str] = {}
    for r in joined.rows:
        cur = cells.get((r.src, r.dst))
        if cur is None or order.index(r.category) < order.index(cur):
            cells[(r.src, r.dst)] = r.category
    ends = sorted({e for pair in cells for e in pair})
    if not ends:
        return "no endpoints in view\n"
    idx = {e: i + 1 for i, e in enumerate(ends)}
    width = max(len(e) for e in ends) + 5
    lines = [" " * width + " ".join(f"{idx[e]:>2}" for e in ends)]
    for s in ends:
        row = " ".join(f"{GRID[cells[(s, d)]] if (s, d) in cells else '·':>2}" for d in ends)
        lines.append(f"{idx[s]:>2}. {s:<{width - 4}}{row}")
    lines.append("")
    lines += [f"{GRID[c]} {WORDS[c]}" for c in order] + ["· nothing observed, nothing allowed"]
    return "\n".join(lines) + "\n"


def observed_change(args: argparse.Namespace, before: Any, after: Any, objects: Any, paths: list[str]) -> list[dict]:
    """For ``simulate --observed``: each observed connection that went through, judged before and after the
    change; ``lost`` marks those the change would drop."""
    fmt, namespace = getattr(args, "flow_format", Format.AUTO), getattr(args, "namespace", None)
    b = observe(before, objects, paths, fmt=fmt, namespace=namespace, unused=False)
    a = observe(after, _Objects(objects.objects), paths, fmt=fmt, namespace=namespace, unused=False)
    after_rows = {(r.src, r.dst, r.protocol, r.port): r for r in a.rows}
    out = []
    for r in b.rows:
        if r.network != "forwarded":
            continue
        new = after_rows.get((r.src, r.dst, r.protocol, r.port))
        verdict = new.model if new else "unknown"
        out.append({"from": r.src, "to": r.dst, "protocol": r.protocol, "port": r.port, "count": r.count,
                    "before": r.model, "after": verdict, "lost": r.model == "allow" and verdict == "deny",
                    "because": new.because if new and verdict == "deny" else []})
    return out


class _Objects:
    def __init__(self, objects: Any):
        self.objects = objects


def print_observed_change(rows: list[dict]) -> None:
    lost = [r for r in rows if r["lost"]]
    still = [r for r in rows if r["before"] == "deny" and r["after"] == "deny"]
    print(f"observed traffic: {len(rows)} connection(s) went through; {len(lost)} would be dropped after the "
          f"change, {len(still)} are denied before and after (would be dropped once enforced)")
    for r in lost:
        print(f"  - {r['from']} -> {r['to']} {r['protocol']}/{r['port']} ({r['count']} observed): allowed now, "
              "denied after the change")
        for b in r["because"]:
            print(f"      because: {b}")
