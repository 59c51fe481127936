"""Provides the coverage rules: default deny (MS001, MS002), unselected workloads (MS003), selectors
that match nothing (MS004, MS005) and named ports that resolve nowhere (MS006)."""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.k8s import iter_bits
from ..model.cluster import NAMESPACE_NAME_LABEL
from ..model.policy import Peer
from ..vocab import DIRECTIONS, Direction
from .context import LintContext, policy_ref, workload_ref
from .finding import Finding, RuleInfo
from .similar import selector_hint

MS001 = RuleInfo(
    "MS001", "namespace-without-default-deny-ingress", "warning",
    "namespace without a default deny for ingress",
    "No policy of the namespace selects every pod (podSelector: {}) for Ingress, so a pod that no other "
    "policy selects accepts connections from anywhere. Add a default-deny policy (podSelector: {}, "
    "policyTypes: [Ingress]) and allow what each workload needs; `kubectl microseg scaffold` writes one. "
    "Namespaces without pods in the input are reported as info.")
MS002 = RuleInfo(
    "MS002", "namespace-without-default-deny-egress", "warning",
    "namespace without a default deny for egress",
    "No policy of the namespace selects every pod (podSelector: {}) for Egress, so a pod that no other "
    "policy selects may connect anywhere (the internet, the API server, other namespaces). Add a default "
    "deny for Egress together with a DNS allowance (MS007). Namespaces without pods in the input are "
    "reported as info.")
MS003 = RuleInfo(
    "MS003", "workload-not-selected", "warning",
    "workload that no policy selects",
    "No NetworkPolicy selects the workload's pods, so Kubernetes does not isolate them in either "
    "direction: everything may connect to them and they may connect anywhere. Cover the namespace with a "
    "default deny (MS001, MS002) and add a policy for the workload. hostNetwork workloads are not reported: "
    "policies do not apply to them.")
MS004 = RuleInfo(
    "MS004", "policy-selects-nothing", "warning",
    "policy whose podSelector matches no pod",
    "The policy's spec.podSelector matches no pod of its namespace, so the policy isolates nothing and its "
    "rules allow nothing. Usually a typo in a label key or value; the hint names the closest label that "
    "exists. When the input has no pods in the namespace at all, the finding is info (the input cannot "
    "tell).")
MS005 = RuleInfo(
    "MS005", "peer-matches-nothing", "warning",
    "rule peer whose selectors match no pod or no namespace",
    "A from/to entry's namespaceSelector matches no namespace, or its podSelector matches no pod in the "
    "selected namespaces, so the peer allows nothing. Usually a typo or a label the pods do not carry. "
    "Only policies that select pods are checked (others are MS004); ipBlock peers are not pods.")
MS006 = RuleInfo(
    "MS006", "named-port-unresolved", "warning",
    "named port that no destination pod defines",
    "A rule names a port (e.g. `port: metrics`) that no container of the destination pods declares with that "
    "name and protocol; Kubernetes resolves named ports on the destination, so the entry opens nothing. "
    "Check the containerPort names, or use the number.")


def check_default_deny(ctx: LintContext) -> Iterator[Finding]:
    """MS001/MS002: per namespace and direction, no policy with podSelector {} isolates every pod."""
    for name, ns in ctx.cluster.namespaces.items():
        pols = [e.policy for e in ctx.policies() if e.policy.namespace == name]
        has_pods = ctx.namespace_has_pods(name)
        for info, direction in ((MS001, Direction.INGRESS), (MS002, Direction.EGRESS)):
            if any(p.pod_selector.is_empty() and p.affects(direction) for p in pols):
                continue
            where = "" if ns.declared else " (the Namespace object is not in the input)"
            severity = None if has_pods else "info"
            note = "" if has_pods else "; the input has no pods in it"
            source = ns.source if ns.declared else next((w.source for w in ctx.cluster.workloads
                                                         if w.namespace == name), None)
            yield ctx.finding(
                info, f"namespace {name} has no default deny for {direction}: pods that no other policy selects "
                      f"are open for {direction}{note}{where}",
                f"Namespace {name}", source,
                fix=f"add a NetworkPolicy in {name} with podSelector: {{}} and policyTypes: "
                    f"[{direction.capitalize()}] (kubectl microseg scaffold writes the baseline)",
                severity=severity)


def check_unselected_workloads(ctx: LintContext) -> Iterator[Finding]:
    """MS003: workloads with a (non-hostNetwork) pod class that no policy selects in any direction."""
    a = ctx.analyzer
    for w in ctx.pod_workloads():
        open_classes = [c for c in a.workload_classes[w.id] if not a.classes[c].host_network
                        and not a.isolating["ingress"][c] and not a.isolating["egress"][c]]
        if not open_classes:
            continue
        some = "" if len(open_classes) == len(a.workload_classes[w.id]) else "some pods of "
        yield ctx.finding(
            MS003, f"no NetworkPolicy selects {some}{w.id}: not isolated for ingress or egress (everything may "
                   "connect to it, and it may connect anywhere)",
            workload_ref(w), w.source,
            fix=f"apply a default deny in namespace {w.namespace} (MS001, MS002), then a policy that selects "
                f"{w.id} and allows what it needs")


def check_policies_select_nothing(ctx: LintContext) -> Iterator[Finding]:
    """MS004: spec.podSelector matches no pod in the policy's namespace."""
    a = ctx.analyzer
    for e in ctx.policies():
        pol = e.policy
        if a.policy_selects.get(pol.id, 0):
            continue
        has_pods = ctx.namespace_has_pods(pol.namespace)
        labels = [a.classes[i].labels for i in a.by_namespace.get(pol.namespace, ()) if not a.classes[i].host_network]
        hint = selector_hint(pol.pod_selector, labels)
        why = "" if has_pods else " (the input has no pods in this namespace, so it cannot tell)"
        yield ctx.finding(
            MS004, f"policy {pol.id} selects no pod: its podSelector [{pol.pod_selector.describe()}] matches "
                   f"nothing in namespace {pol.namespace}, so it isolates nothing and allows nothing{why}",
            policy_ref(e), e.source, ("spec", "podSelector"),
            fix=hint or "correct spec.podSelector to the labels the intended pods carry",
            severity=None if has_pods else "info")


def _peer_problem(ctx: LintContext, peer: Peer, policy_ns: str) -> tuple[str, str] | None:
    """(what is wrong, hint) for a pod/namespace peer that selects no pod; None when it selects some."""
    a = ctx.analyzer
    if peer.ip_block is not None or a.peer_classes(peer, policy_ns):
        return None
    if peer.namespace_selector is None:
        namespaces = [policy_ns]
    else:
        namespaces = [n for n, labels in a.ns_labels.items() if peer.namespace_selector.matches(labels)]
        if not namespaces:
            hint = selector_hint(peer.namespace_selector, a.ns_labels.values())
            return (f"namespaceSelector [{peer.namespace_selector.describe()}] matches no namespace in the input",
                    hint or f"use the namespace's {NAMESPACE_NAME_LABEL} label, which the API server sets")
    labels = [a.classes[i].labels for n in namespaces for i in a.by_namespace.get(n, ())
              if not a.classes[i].host_network]
    hint = selector_hint(peer.pod_selector, labels)
    where = ", ".join(namespaces[:5]) + (", ..." if len(namespaces) > 5 else "")
    sel = peer.pod_selector.describe() if peer.pod_selector is not None else "<all>"
    return (f"podSelector [{sel}] matches no pod in namespace(s) {where}",
            hint or "correct the selector to labels the intended pods carry")


def check_peers_match_nothing(ctx: LintContext) -> Iterator[Finding]:
    """MS005: from/to entries of effective rules whose selectors select no pod."""
    if ctx.partial:  # the peers may be in namespaces the view cannot see
        return
    a = ctx.analyzer
    for e in ctx.policies():
        pol = e.policy
        if not a.policy_selects.get(pol.id, 0):
            continue  # MS004 already says the whole policy does nothing
        for direction in DIRECTIONS:
            if not pol.affects(direction):
                continue
            key = "from" if direction == Direction.INGRESS else "to"
            for rule in pol.rules(direction):
                for i, peer in enumerate(rule.peers or ()):
                    problem = _peer_problem(ctx, peer, pol.namespace)
                    if problem is None:
                        continue
                    what, hint = problem
                    yield ctx.finding(
                        MS005, f"{pol.id} {direction} rule {rule.index}, {key}[{i}]: {what}, so this peer allows "
                               "nothing", policy_ref(e), e.source, rule.path + (key, i), fix=hint)


def check_named_ports(ctx: LintContext) -> Iterator[Finding]:
    """MS006: named ports that resolve to no port on any destination the rule reaches."""
    a = ctx.analyzer
    for e in ctx.policies():
        pol = e.policy
        selected = a.policy_selects.get(pol.id, 0)
        if not selected:
            continue
        for direction in DIRECTIONS:
            if not pol.affects(direction):
                continue
            for rule in pol.rules(direction):
                named = [(i, p) for i, p in enumerate(rule.ports or ()) if p.named]
                if not named:
                    continue
                if direction == Direction.INGRESS:
                    dests = selected
                else:
                    dests = a.compiled[(pol.id, direction, rule.index)].classes
                    dests &= ~sum(1 << c.index for c in a.classes if c.host_network)
                if not dests:
                    continue
                for i, spec in named:
                    if any(spec.resolve(a.classes[c].named_ports) for c in iter_bits(dests)):
                        continue
                    who = "the pods it selects" if direction == Direction.INGRESS else "the destination pods"
                    yield ctx.finding(
                        MS006, f"{pol.id} {direction} rule {rule.index}: port {spec.port!r} ({spec.protocol}) is "
                               f"not a named containerPort of {who}, so it opens nothing",
                        policy_ref(e), e.source, rule.path + ("ports", i),
                        fix="use the containerPort's name as the pods declare it (with its protocol), or the number")


RULES = ((MS001, check_default_deny), (MS002, None), (MS003, check_unselected_workloads),
         (MS004, check_policies_select_nothing), (MS005, check_peers_match_nothing), (MS006, check_named_ports))
"""(rule, check); a check may report several rules (None: reported by an earlier check)."""
