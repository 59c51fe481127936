"""Lint: best-practice findings for NetworkPolicies and nftables rulesets, with stable rule IDs.

Modules: ``finding`` (Finding, RuleInfo, severities), ``context`` (LintContext), the rule modules
``k8s_coverage``, ``k8s_breadth``, ``k8s_redundant``, ``k8s_labels``, ``k8s_comments`` and
``nft_rules``, ``registry`` (the catalogue, running every rule), ``ignore`` (ignore files) and
``report`` (text, JSON and SARIF 2.1.0). The catalogue is documented in docs/lint.md.
"""

from .context import LintContext
from .finding import Finding, Location, RuleInfo
from .registry import catalogue, lint_cluster, lint_rulesets

__all__ = ["Finding", "LintContext", "Location", "RuleInfo", "catalogue", "lint_cluster", "lint_rulesets"]
