"""Provides ignore files (``.microseg-ignore``): rule IDs to suppress, everywhere or for some objects.

Format, one entry per line (``#`` starts a comment)::

    MS013                                   # this rule everywhere
    MS003  CronJob batch/report-generator    # one object (its "Kind namespace/name")
    MS001  Namespace batch
    MS008  NetworkPolicy staging/*           # shell-style wildcards
    MS012  */legacy-*                        # matched against "namespace/name" too
    NF004  nft inet microseg *               # nftables chains: "nft FAMILY TABLE CHAIN"
    *      path:tests/fixtures/*             # every rule, for findings in matching files

An object pattern matches a finding's object ("Kind namespace/name"), or its "namespace/name" part alone;
``path:GLOB`` matches the finding's file instead. An unknown rule ID is an input error (exit 2) naming the
line, so a typo never silently ignores nothing.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from ..errors import InputError, Origin
from .finding import Finding


@dataclass(frozen=True)
class IgnoreEntry:
    rule: str
    """A rule ID, or '*' for every rule."""
    pattern: str | None
    """None: every object."""
    line: int

    def matches(self, f: Finding) -> bool:
        if self.rule not in ("*", f.rule):
            return False
        if self.pattern is None:
            return True
        if self.pattern.startswith("path:"):
            return f.location.file is not None and fnmatch.fnmatchcase(f.location.file, self.pattern[5:])
        short = f.object.split(" ", 1)[1] if " " in f.object else f.object
        return fnmatch.fnmatchcase(f.object, self.pattern) or fnmatch.fnmatchcase(short, self.pattern)


def parse_ignore(text: str, name: str, known_rules: set[str]) -> list[IgnoreEntry]:
    """Parse an ignore file; raises InputError (with the line) for an unknown rule ID."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        rule, _, rest = line.partition(" ")
        rule = rule.strip().upper() if rule != "*" else rule
        if rule != "*" and rule not in known_rules:
            raise InputError(f"unknown rule ID {rule!r} (known: {', '.join(sorted(known_rules))})",
                             Origin(file=name), line=n)
        out.append(IgnoreEntry(rule, rest.strip() or None, n))
    return out


def apply_ignores(findings: list[Finding], entries: list[IgnoreEntry]) -> tuple[list[Finding], list[Finding]]:
    """(kept, suppressed)."""
    kept: list[Finding] = []
    gone: list[Finding] = []
    for f in findings:
        (gone if any(e.matches(f) for e in entries) else kept).append(f)
    return kept, gone
