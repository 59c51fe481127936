"""Provides MS013: allow rules without a comment or an annotation that explains them.

A rule counts as explained when, in its manifest file, a YAML comment stands on the rule's first line or
on the line(s) directly above it (no blank line between), or when its policy carries an explanation
annotation (for objects read from a cluster, where comments do not survive): a key whose name part is
one of EXPLAIN_ANNOTATIONS, e.g. ``description`` or ``example.com/reason``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..model.cluster import PolicyEntry
from ..vocab import DIRECTIONS
from .context import LintContext, policy_ref
from .finding import Finding, RuleInfo

MS013 = RuleInfo(
    "MS013", "rule-without-explanation", "info",
    "allow rule without a comment or annotation saying why it exists",
    "Every allow rule should say why it exists, so a reviewer can tell a needed opening from a leftover. "
    "In files: a YAML comment on the rule's first line or directly above it. For objects in a cluster "
    "(comments are lost on apply): an annotation on the policy whose key's name is description, reason, "
    "purpose, justification, why or rationale (e.g. `microseg.io/why`).")

EXPLAIN_ANNOTATIONS = ("description", "reason", "purpose", "justification", "why", "rationale")
_TRAILING_COMMENT = re.compile(r"""^(?:[^'"#]|'[^']*'|"[^"]*")*\s#""")


def has_annotation(entry: PolicyEntry) -> bool:
    """True when the policy carries an explanation annotation (non-empty value)."""
    meta = entry.source.raw.get("metadata")
    ann = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(ann, dict):
        return False
    return any(str(k).rpartition("/")[2].lower() in EXPLAIN_ANNOTATIONS and str(v).strip() for k, v in ann.items())


def has_comment(lines: list[str], line: int) -> bool:
    """True when 1-based ``line`` has a trailing comment or the line just above it is a comment."""
    if not 1 <= line <= len(lines):
        return False
    if _TRAILING_COMMENT.match(lines[line - 1]):
        return True
    return line >= 2 and lines[line - 2].lstrip().startswith("#")


def check_explained(ctx: LintContext) -> Iterator[Finding]:
    """MS013 for every rule of every policy."""
    for e in ctx.policies():
        if has_annotation(e):
            continue
        pol = e.policy
        file = e.source.origin.file
        lines = ctx.lines_of(file) if file else None
        for direction in DIRECTIONS:
            for rule in pol.rules(direction):
                line = e.source.line_of(rule.path)
                if lines is not None and line is not None and has_comment(lines, line):
                    continue
                how = ("no YAML comment on or above it, and no explanation annotation on the policy" if lines is not None
                       else "no explanation annotation on the policy (comments do not survive in a cluster)")
                yield ctx.finding(
                    MS013, f"{pol.id} {direction} rule {rule.index} ({rule.describe_ports()}) does not say why it "
                           f"exists: {how}", policy_ref(e), e.source, rule.path,
                    fix="add a comment above the rule (in the manifest) or a `microseg.io/why` annotation on the policy")


RULES = ((MS013, check_explained),)
