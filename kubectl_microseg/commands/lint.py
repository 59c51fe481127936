"""``kubectl microseg lint``: best-practice findings with stable rule IDs (the catalogue: docs/lint.md).

The Kubernetes rules run on the chosen source (-f, --demo, or the live cluster); ``--ruleset FILE``
(repeatable) adds nftables rulesets, and with only ``--ruleset`` no cluster is read. Output is text,
JSON or SARIF 2.1.0 (GitHub code scanning). Exit 1 when a finding is at or above ``--fail-on``
(default: error); 2 for bad usage or input; 3 when the cluster cannot be read.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from ..cli import command_parser
from ..errors import EXIT_FAILED
from ..io.lint_files import DEFAULT_IGNORE_FILE, load_ignores, read_lines
from ..lint.context import LintContext
from ..lint.finding import SEVERITIES, Finding, Location, severity_rank
from ..lint.ignore import apply_ignores
from ..lint.registry import catalogue, lint_cluster, lint_rulesets
from ..lint.report import LintReport, render

def register(sub) -> None:
    p = command_parser(sub, "lint", "best-practice findings for NetworkPolicies and nftables rulesets",
                       description="Report best-practice findings (stable rule IDs MS0xx for Kubernetes, NF0xx for "
                       "nftables) with severity, object, file and line, and a fix hint. Exit 1 when a finding is at "
                       "or above --fail-on.")
    p.add_argument("-o", "--output", choices=["text", "json", "sarif"], default="text")
    p.add_argument("--fail-on", choices=list(SEVERITIES) + ["none"], default="error",
                   help="exit 1 when a finding is at or above this severity (default: error)")
    p.add_argument("--min-severity", choices=list(SEVERITIES), default="info",
                   help="only report findings at or above this severity (default: info, everything)")
    p.add_argument("--ignore-file", metavar="FILE",
                   help=f"rule IDs to suppress, optionally per object (default: ./{DEFAULT_IGNORE_FILE} if present)")
    p.add_argument("--no-ignore-file", action="store_true", help=f"do not read ./{DEFAULT_IGNORE_FILE}")
    p.add_argument("--ruleset", action="append", default=[], metavar="FILE",
                   help="also lint an nftables ruleset (nft -f syntax or nft -j JSON); repeatable")
    p.add_argument("--nft-demo", action="store_true", help="also lint the demo host rulesets")
    p.add_argument("--list-rules", action="store_true", help="print the rule catalogue and exit")
    p.set_defaults(func=run)


def display_path(path: str | None) -> str | None:
    """Paths under the working directory are shown relative to it (SARIF wants repository-relative URIs)."""
    if not path or path == "-":
        return path
    full = os.path.abspath(path)
    cwd = os.getcwd()
    if full == cwd or full.startswith(cwd.rstrip(os.sep) + os.sep):
        return os.path.relpath(full, cwd)
    return path


def _relocate(f: Finding) -> Finding:
    if not f.location.file:
        return f
    return replace(f, location=Location(display_path(f.location.file), f.location.line, f.location.cluster))


def _in_namespace(f: Finding, namespace: str) -> bool:
    _, _, name = f.object.partition(" ")
    if f.object.startswith("Namespace "):
        return name == namespace
    return name.split("/", 1)[0] == namespace


def _k8s_findings(args: argparse.Namespace) -> tuple[list[Finding], str, list[str], list[str]]:
    from ..load import load_analyzer

    analyzer, snapshot = load_analyzer(args)
    demo = bool(getattr(args, "demo", False))
    partial = bool(snapshot.warnings or snapshot.uncertain_reasons)
    found = lint_cluster(LintContext(analyzer, lambda p: read_lines(p, demo), partial=partial))
    ns = None if getattr(args, "all_namespaces", False) else getattr(args, "namespace", None)
    if ns:
        found = [f for f in found if _in_namespace(f, ns)]
    warnings = list(snapshot.warnings) + [f"verdicts touching {'every namespace' if n == '*' else 'namespace ' + n} "
                                          f"are unknown: {why}" for n, why in sorted(snapshot.uncertain_reasons.items())]
    return found, snapshot.description, list(analyzer.cluster.notes), warnings


def _nft_findings(paths: list[str]) -> list[Finding]:
    from .nft import load_host

    items = []
    for path in paths:
        rs = load_host(None, ruleset=path).ruleset
        text_lines = read_lines(path)
        is_json = text_lines is not None and "".join(text_lines).lstrip().startswith("{")
        items.append((rs, path, None if is_json else text_lines))
    return lint_rulesets(items)


def list_rules() -> str:
    rows = [f"{r.id}  {r.severity:<7}  {r.name:<42} {r.summary}" for r in catalogue()]
    return "\n".join(rows) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.list_rules:
        sys.stdout.write(list_rules())
        return 0
    entries, ignore_path = load_ignores(args.ignore_file, not args.no_ignore_file)
    nft_paths = list(args.ruleset)
    if args.nft_demo:
        from ..demo import HOST_DIR

        nft_paths += sorted(str(p) for p in HOST_DIR.glob("*.nft"))
    findings: list[Finding] = []
    sources: list[str] = []
    notes: list[str] = []
    warnings: list[str] = []
    k8s_chosen = bool(getattr(args, "filename", None) or getattr(args, "demo", False))
    if k8s_chosen or not nft_paths:
        got, desc, notes, warnings = _k8s_findings(args)
        findings += got
        sources.append(desc)
    if nft_paths:
        findings += _nft_findings(nft_paths)
        sources.append("nftables: " + ", ".join(display_path(p) or p for p in nft_paths))
    findings = [_relocate(f) for f in findings]
    floor = severity_rank(args.min_severity)
    findings = sorted((f for f in findings if severity_rank(f.severity) >= floor), key=Finding.sort_key)
    kept, gone = apply_ignores(findings, entries)
    report = LintReport(kept, catalogue(), "; ".join(sources), gone, ignore_path, notes, warnings)
    sys.stdout.write(render(report, args.output))
    if args.fail_on == "none":
        return 0
    bar = severity_rank(args.fail_on)
    return EXIT_FAILED if any(severity_rank(f.severity) >= bar for f in kept) else 0


