"""Provides the rule catalogue and ``lint_cluster`` / ``lint_rulesets``: run every rule, sorted findings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from . import (calico_rules, cilium_rules, k8s_breadth, k8s_cluster_policies, k8s_comments, k8s_coverage, k8s_exposure, k8s_labels,
               k8s_mesh, k8s_redundant, nft_rules)
from .context import LintContext
from .finding import Finding, RuleInfo

Check = Callable[..., Iterator[Finding]]

K8S_RULES: tuple[tuple[RuleInfo, Check | None], ...] = (
    k8s_coverage.RULES + k8s_breadth.RULES + k8s_redundant.RULES + k8s_labels.RULES + k8s_comments.RULES
    + k8s_exposure.RULES + k8s_cluster_policies.RULES + k8s_mesh.RULES + cilium_rules.RULES
    + calico_rules.RULES)
NFT_RULES: tuple[tuple[RuleInfo, Check | None], ...] = nft_rules.RULES


def catalogue() -> list[RuleInfo]:
    """Every rule, Kubernetes first, in ID order."""
    return [info for info, _ in K8S_RULES + NFT_RULES]


def lint_cluster(ctx: LintContext) -> list[Finding]:
    """All Kubernetes findings for one cluster model."""
    out: list[Finding] = []
    for _, check in K8S_RULES:
        if check is not None:
            out.extend(check(ctx))
    return sorted(out, key=Finding.sort_key)


def lint_rulesets(rulesets: Iterable[tuple[object, str | None, list[str] | None]]) -> list[Finding]:
    """All nftables findings: each item is (Ruleset, source file or None, the file's lines or None)."""
    out: list[Finding] = []
    for rs, file, lines in rulesets:
        for _, check in NFT_RULES:
            if check is not None:
                out.extend(check(rs, file, lines))
    return sorted(out, key=Finding.sort_key)
