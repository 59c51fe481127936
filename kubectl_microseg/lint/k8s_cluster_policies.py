"""Provides the rules for cluster-wide policies (ClusterNetworkPolicy v1alpha2, v1alpha1 ANP/BANP), where the
API invites mistakes: a `networks` peer of the whole address space that also decides pod traffic (MS017),
two policies of one tier with the same priority over the same pods (MS018), and the deprecated v1alpha1
kinds (MS019)."""

from __future__ import annotations

from collections.abc import Iterator

from ..model.addresses import V4_MAX
from ..model.admin import Action
from ..model.cluster import AdminEntry
from ..vocab import Direction
from .context import LintContext
from .finding import Finding, RuleInfo

MS017 = RuleInfo(
    "MS017", "admin-networks-match-pods", "warning",
    "admin rule on all of IPv4/IPv6 that also decides pod-to-pod traffic",
    "network-policy-api: a networks peer is checked against cluster-internal traffic too, \"so if you Accept or "
    "Deny traffic to \"0.0.0.0/0\", that will allow or deny all IPv4 pod-to-pod traffic as well. If you don't "
    "want that, add a rule that Passes all pod traffic before the Networks rule.\" Reported when no earlier "
    "rule of the policy decides pod traffic (a namespaces or pods peer).")
MS018 = RuleInfo(
    "MS018", "cluster-policy-same-priority", "warning",
    "two cluster-wide policies of one tier with the same priority over the same pods",
    "network-policy-api v1alpha2: \"If two (or more) policies in the same tier with the same priority could "
    "match a connection, then the implementation can apply any of the matching policies to the connection, "
    "and there is no way for the user to reliably determine which one it will choose.\" Give them distinct "
    "priorities.")
MS019 = RuleInfo(
    "MS019", "deprecated-admin-policy", "info",
    "AdminNetworkPolicy / BaselineAdminNetworkPolicy (v1alpha1) are deprecated",
    "network-policy-api v0.2.0 replaced them by ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2): tier "
    "Admin for an ANP, tier Baseline for the BANP, Allow becomes Accept, ports become protocols. Implementations "
    "such as Calico 3.32 no longer read v1alpha1.")


def _ref(e: AdminEntry) -> str:
    return f"{e.policy.kind} {e.policy.name}"


def check_networks_everything(ctx: LintContext) -> Iterator[Finding]:
    """MS017: an Accept/Deny egress rule whose networks peer holds all of IPv4 (or IPv6), with no earlier rule
    of the policy deciding pod traffic."""
    for e in ctx.analyzer.cluster.admin_policies:
        pods_decided = False
        for rule in e.policy.rules(Direction.EGRESS):
            if any(p.namespaces is not None or p.pods is not None for p in rule.peers):
                pods_decided = True
            if pods_decided or rule.effect is Action.PASS:
                continue
            for i, p in enumerate(rule.peers):
                if p.networks is not None and (p.networks.contains_interval(0, V4_MAX) or "::/0" in p.networks_text):
                    verb = "accepts" if rule.effect is Action.ACCEPT else "denies"
                    yield ctx.finding(
                        MS017, f"{e.policy.id} egress rule {rule.index}: networks {p.networks_text} also {verb} the "
                               "subject's traffic to every pod", _ref(e), e.source, rule.path + ("to", i, "networks"),
                        fix="add a rule before it that Passes (or decides) pod traffic: to: [{namespaces: {}}]")
                    break


def check_same_priority(ctx: LintContext) -> Iterator[Finding]:
    """MS018: same tier, same priority, overlapping subjects (v1alpha1's singleton BANP excluded)."""
    a = ctx.analyzer
    entries = [e for e in a.cluster.admin_policies if e.policy.kind != "BaselineAdminNetworkPolicy"]
    for i, x in enumerate(entries):
        for y in entries[i + 1:]:
            px, py = x.policy, y.policy
            if px.tier != py.tier or px.priority != py.priority:
                continue
            if a.admin_selects.get(px.id, 0) & a.admin_selects.get(py.id, 0):
                yield ctx.finding(MS018, f"{px.id} and {py.id}: tier {px.tier.value}, both priority {px.priority}, "
                                  "over the same pods: the API leaves their order undefined", _ref(y), y.source,
                                  ("spec", "priority"), fix=f"give {py.name} a priority other than {px.priority}")


def check_deprecated(ctx: LintContext) -> Iterator[Finding]:
    """MS019: v1alpha1 admin policies."""
    for e in ctx.analyzer.cluster.admin_policies:
        if e.policy.deprecated:
            tier = "Baseline" if e.policy.is_baseline else "Admin"
            yield ctx.finding(MS019, f"{e.policy.id}: {e.policy.kind} (v1alpha1) is deprecated", _ref(e), e.source,
                              ("apiVersion",), fix=f"rewrite it as a ClusterNetworkPolicy with tier: {tier}")


RULES = ((MS017, check_networks_everything), (MS018, check_same_priority), (MS019, check_deprecated))
