"""Provides the vocabulary of lint: severities, rule descriptions (RuleInfo) and findings (Finding).

A rule is a small pure function (see ``k8s_*`` and ``nft_rules``) that yields Findings. Each rule has a
stable ID (``MS0xx`` for Kubernetes, ``NF0xx`` for nftables) that never changes meaning: ignore files,
CI gates and SARIF baselines refer to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "warning", "error")
"""Ascending order. SARIF levels: info -> note, warning -> warning, error -> error."""
SARIF_LEVEL = {"info": "note", "warning": "warning", "error": "error"}


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for error (ValueError for anything else)."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class RuleInfo:
    """What a rule checks, for the catalogue, ``--help`` texts and SARIF ``tool.driver.rules``."""

    id: str
    name: str
    """kebab-case short name, e.g. 'namespace-without-default-deny-ingress'."""
    severity: str
    """Default severity (a finding may be lowered, e.g. when the input cannot tell)."""
    summary: str
    """One line: what is wrong."""
    help: str
    """Why it matters and how to fix it (plain text; also the SARIF help)."""
    engine: str = "kubernetes"
    """'kubernetes' or 'nftables'."""


@dataclass(frozen=True)
class Location:
    """Where a finding points: a file and line when the object came from a file, else the object alone."""

    file: str | None = None
    line: int | None = None
    cluster: str | None = None
    """For live objects: the context they were read from."""

    def describe(self) -> str:
        if self.file:
            return f"{self.file}:{self.line}" if self.line else self.file
        return f"cluster {self.cluster}" if self.cluster else "<input>"


@dataclass(frozen=True)
class Finding:
    """One problem: rule, severity, message, the object, where it is, and how to fix it."""

    rule: str
    severity: str
    message: str
    object: str
    """'Kind namespace/name' (or 'Kind name' for cluster-scoped objects, 'nft family table chain' for
    nftables chains); what ignore entries match."""
    location: Location = field(default_factory=Location)
    fix: str = ""
    path: str | None = None
    """The field inside the object ('spec.ingress[0]'), where it applies."""

    def sort_key(self) -> tuple[Any, ...]:
        return (self.location.file or "~", self.location.line or 0, self.rule, self.object, self.message)

    def to_dict(self) -> dict[str, Any]:
        """The ``lint -o json`` form of one finding."""
        out: dict[str, Any] = {"rule": self.rule, "severity": self.severity, "object": self.object,
                               "message": self.message, "fix": self.fix}
        if self.path:
            out["path"] = self.path
        loc: dict[str, Any] = {}
        if self.location.file:
            loc["file"] = self.location.file
        if self.location.line:
            loc["line"] = self.location.line
        if self.location.cluster:
            loc["cluster"] = self.location.cluster
        out["location"] = loc
        return out
