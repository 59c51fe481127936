"""Provides what the simulate, diff and apply commands share: output options, expectations, printing.

(The leading underscore keeps this module out of subcommand discovery.)
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO
from collections.abc import Sequence

from ..engine.diff import MatrixDiff
from ..engine.guards import ExpectedFlow
from ..errors import EXIT_FAILED, EXIT_OK
from ..render.diff import DIFF_FORMATS, render_diff


def add_diff_options(p: argparse.ArgumentParser) -> None:
    """-o and --expect: the options of the commands that print a diff and nothing else."""
    p.add_argument("-o", "--output", choices=DIFF_FORMATS, default="text",
                   help="text (default), json for machines, markdown for a pull-request comment")
    add_expect_option(p)


def describe_changes_option(p: argparse.ArgumentParser, text: str) -> None:
    """Reword -f's help: for simulate and apply it names the changes, not the source."""
    for action in p._actions:  # argparse has no public way to change an inherited option's help
        if action.dest == "filename":
            action.help = text


def add_expect_option(p: argparse.ArgumentParser) -> None:
    """--expect FLOWS (repeatable)."""
    p.add_argument("--expect", metavar="FLOWS", action="append", default=None,
                   help="expectations file (the `test` format): flag expected flows the change cuts; repeatable")


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """The engine switches, for commands that do not take the shared source options."""
    p.add_argument("--ipblock-matches-pods", action="store_true", default=argparse.SUPPRESS,
                   help="let ipBlock peers also match pod IPs, as some CNIs do")
    p.add_argument("--hostnetwork-as-pods", action="store_true", default=argparse.SUPPRESS,
                   help="apply policies to hostNetwork pods like ordinary pods")
    p.add_argument("--mesh-root-namespace", default=argparse.SUPPRESS, metavar="NS",
                   help="Istio's root namespace: its policies apply mesh-wide (default: istio-system)")
    p.add_argument("--trust-domain", default=argparse.SUPPRESS, metavar="DOMAIN",
                   help="Istio trust domain of the principals TRUST_DOMAIN/ns/NS/sa/SA (default: cluster.local)")


def load_expectations(paths: Sequence[str] | None) -> list[ExpectedFlow]:
    """Read expectation files with the ``test`` command's parser (errors name file and line)."""
    if not paths:
        return []
    from .test import read_flows

    out: list[ExpectedFlow] = []
    for path in paths:
        for f in read_flows(path):
            out.append(ExpectedFlow(f.src, f.dst, f.port, f.protocol, f.expect))
    return out


def focus(diff: MatrixDiff, args: argparse.Namespace) -> MatrixDiff:
    """The diff limited to -n NAMESPACE (when given without -A)."""
    ns = getattr(args, "namespace", None)
    if ns and not getattr(args, "all_namespaces", False):
        return diff.filter(ns)
    return diff


def show(diff: MatrixDiff, args: argparse.Namespace, *, changes: Sequence[str] = (), header: str | None = None,
         stream: TextIO | None = None, warnings: Sequence[str] = ()) -> None:
    """Print the diff in the chosen format (-o) with the base's partial-view warnings; notes to stderr."""
    (stream or sys.stdout).write(render_diff(diff, getattr(args, "output", "text"), changes=changes, header=header,
                                             warnings=warnings))
    for note in diff.notes:
        if note not in warnings:
            print(f"note: {note}", file=sys.stderr)


def gate(diff: MatrixDiff, *, allow_breaking: bool, fail_on_guard: bool) -> int:
    """simulate's exit code: 1 when flows become denied (unless allowed) or, if asked, when a guard fires."""
    if diff.breaking() and not allow_breaking:
        return EXIT_FAILED
    if any(c["newlyDenied"] for c in diff.mesh_changes) and not allow_breaking:
        return EXIT_FAILED  # the mesh now denies (or refuses) what it allowed: flows become denied too
    if fail_on_guard and diff.findings:
        return EXIT_FAILED
    return EXIT_OK
