"""Provides the renderings of a lint run: text, JSON (``LintReport``) and SARIF 2.1.0.

SARIF follows what GitHub code scanning reads: ``runs[0].tool.driver`` with ``name``, ``version`` and
``rules`` (id, name, short/full description, help text and markdown, default level); each result has
``ruleId``, ``ruleIndex``, ``level``, ``message.text``, one ``physicalLocation`` (``artifactLocation.uri``
relative to the repository root, ``uriBaseId`` ``%SRCROOT%``, ``region.startLine``) and a stable
``partialFingerprints`` entry. Objects read from a cluster have no file: their URI names the object
(``k8s/CONTEXT/Kind/namespace/name``) at line 1.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Sequence

from .. import __version__
from .finding import SARIF_LEVEL, SEVERITIES, Finding, RuleInfo

PARTIAL = ("partial view: rules that report something missing (MS005 peers matching nothing, MS007 no DNS) "
           "were not run, and objects that could not be read were not checked")

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "kubectl-microseg"


@dataclass
class LintReport:
    """What one lint run found, after the ignore file."""

    findings: list[Finding]
    rules: list[RuleInfo]
    """The catalogue (SARIF lists every rule, not only those that fired)."""
    source: str = ""
    suppressed: list[Finding] = field(default_factory=list)
    ignore_file: str | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """What the view lacks: the findings are those of a partial view (said in every format)."""

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(SEVERITIES, 0)
        for f in self.findings:
            out[f.severity] += 1
        return out

    def summary(self) -> dict[str, int]:
        c = self.counts()
        return {"error": c["error"], "warning": c["warning"], "info": c["info"], "total": len(self.findings),
                "suppressed": len(self.suppressed)}


def render(report: LintReport, fmt: str) -> str:
    """``text``, ``json`` or ``sarif``."""
    if fmt == "json":
        return render_json(report)
    if fmt == "sarif":
        return json.dumps(to_sarif(report), indent=2) + "\n"
    return render_text(report)


def render_text(report: LintReport) -> str:
    lines: list[str] = [f"WARNING: {w}" for w in report.warnings]
    if report.warnings:
        lines += [f"WARNING: {PARTIAL}", ""]
    for f in report.findings:
        lines.append(f"{f.location.describe()}: {f.severity} {f.rule} [{f.object}]")
        lines.append(f"    {f.message}")
        if f.fix:
            lines.append(f"    fix: {f.fix}")
    s = report.summary()
    if lines:
        lines.append("")
    tail = f"; {s['suppressed']} suppressed by {report.ignore_file}" if s["suppressed"] else ""
    partial = " (partial view: see the warnings above)" if report.warnings else ""
    lines.append(f"{s['total']} finding(s): {s['error']} error, {s['warning']} warning, {s['info']} info{tail}{partial}")
    return "\n".join(lines) + "\n"


def render_json(report: LintReport) -> str:
    doc: dict[str, Any] = {"kind": "LintReport", "source": report.source, "summary": report.summary(),
                           "findings": [f.to_dict() for f in report.findings]}
    if report.ignore_file:
        doc["ignoreFile"] = report.ignore_file
    if report.warnings:
        doc["partial"] = True
        doc["warnings"] = list(report.warnings) + [PARTIAL]
    if report.notes:
        doc["notes"] = [n for n in report.notes if n not in report.warnings]
    return json.dumps(doc, indent=2) + "\n"


def _rule_descriptor(r: RuleInfo) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.help},
        "help": {"text": r.help, "markdown": f"**{r.id} {r.name}** ({r.severity}): {r.summary}.\n\n{r.help}"},
        "defaultConfiguration": {"level": SARIF_LEVEL[r.severity]},
        "properties": {"tags": ["security", "network-policy" if r.engine == "kubernetes" else "nftables"],
                       "precision": "high",
                       "problem.severity": {"info": "recommendation", "warning": "warning", "error": "error"}[r.severity]},
    }


def _uri(f: Finding) -> str:
    if f.location.file:
        return f.location.file.replace("\\", "/")
    kind, _, name = f.object.partition(" ")
    ctx = (f.location.cluster or "cluster").replace(" ", "-")
    return "/".join(["k8s", ctx, kind] + name.replace(" ", "/").split("/"))


def fingerprint(f: Finding) -> str:
    """Stable across line moves: rule, object, field path and message."""
    key = "\x1f".join([f.rule, f.object, f.path or "", f.message])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def to_sarif(report: LintReport, rules: Sequence[RuleInfo] | None = None) -> dict[str, Any]:
    """The SARIF 2.1.0 log of a report."""
    rules = list(rules if rules is not None else report.rules)
    index = {r.id: i for i, r in enumerate(rules)}
    results = []
    for f in report.findings:
        loc: dict[str, Any] = {
            "physicalLocation": {
                "artifactLocation": {"uri": _uri(f)},
                "region": {"startLine": f.location.line or 1},
            },
            "logicalLocations": [{"name": f.object, "kind": "resource"}],
        }
        if f.location.file and not f.location.file.startswith("/"):
            loc["physicalLocation"]["artifactLocation"]["uriBaseId"] = "%SRCROOT%"
        text = f.message + (f" Fix: {f.fix}" if f.fix else "")
        results.append({"ruleId": f.rule, "ruleIndex": index[f.rule], "level": SARIF_LEVEL[f.severity],
                        "message": {"text": text}, "locations": [loc],
                        "partialFingerprints": {"microsegFinding/v1": fingerprint(f)}})
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": TOOL_NAME, "version": __version__, "semanticVersion": __version__,
                                "rules": [_rule_descriptor(r) for r in rules]}},
            "results": results,
            "columnKind": "utf16CodeUnits",
            **({"invocations": [{"executionSuccessful": True, "toolExecutionNotifications": [
                {"level": "warning", "message": {"text": w}} for w in report.warnings + [PARTIAL]]}]}
               if report.warnings else {}),
        }],
    }
