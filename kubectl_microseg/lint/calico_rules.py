"""Provides the lint rules for Calico policies (docs/calico.md): a selector that selects no pod (MS040), two
policies of one tier with the same order over the same pods (MS041), a Pass that reaches no later tier
(MS042), a Deny shadowed by an earlier Allow that matches everything (MS043), and a tier none of whose
policies selects a pod (MS044). Staged policies are not
linted (they do not enforce)."""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.calico import CompiledPolicy, CompiledTier
from ..model.calico import DEFAULT_TIER, CalicoAction, CalicoPolicy, CalicoRule, EntityRule
from ..model.objects import FieldPath, SourceObject
from ..vocab import DIRECTIONS, Direction
from .context import LintContext
from .finding import Finding, RuleInfo

MS040 = RuleInfo(
    "MS040", "calico-selector-matches-nothing", "warning",
    "a Calico policy selects no pod of the input",
    "A NetworkPolicy's selector applies within its namespace, a GlobalNetworkPolicy's in every namespace its "
    "namespaceSelector admits (Calico NetworkPolicy/GlobalNetworkPolicy reference, selector). A policy that "
    "selects nothing is usually a typo, a label that changed, or a policy meant for host endpoints.")
MS041 = RuleInfo(
    "MS041", "calico-order-collision", "warning",
    "two Calico policies of one tier have the same order and select the same pods",
    "Within a tier, policies run by order; equal orders fall back to the policies' names (reference: "
    "\"policies with the same order are applied in alphanumerical order of their names\"). A rename then "
    "changes which rule decides: give each policy its own order.")
MS042 = RuleInfo(
    "MS042", "calico-pass-to-nothing", "info",
    "a Calico Pass reaches no later tier for any pod it selects",
    "Pass skips to the next tier that has a policy applying to the endpoint (Tier reference); when there is "
    "none, no policy decides and Calico's profiles allow the traffic. If that is the intent, say Allow.")
MS043 = RuleInfo(
    "MS043", "calico-deny-shadowed", "warning",
    "a Calico Deny rule comes after an Allow that matches every flow",
    "Rules in a policy are evaluated in order and the first match decides (Rule reference): after an Allow "
    "with no protocol, source or destination restriction no later rule of that direction is ever reached.")

MS044 = RuleInfo(
    "MS044", "calico-tier-never-applies", "warning",
    "a Calico tier none of whose policies selects a pod",
    "A tier processes a connection only when it has a policy that applies to the endpoint (Tier reference, "
    "\"How policy is evaluated\"); a tier whose policies select nothing (or that has no policies) never "
    "decides anything: its policies' selectors or its name in their spec.tier are likely wrong.")



def _ref(pol: CalicoPolicy) -> str:
    return pol.id


def _path(r: CalicoRule) -> FieldPath:
    return ("spec", r.direction, r.index - 1)


def _compiled(ctx: LintContext) -> list[tuple[CompiledTier, CompiledPolicy, CalicoPolicy]]:
    """Every Calico policy with its compiled form and tier (not the Kubernetes policies' place)."""
    return [(ct, cp, pol) for ct in ctx.analyzer.calico_tiers for cp in ct.policies if (pol := cp.policy) is not None]


def _sources(ctx: LintContext) -> dict[str, SourceObject]:
    return {pol.id: src for pol, src in ctx.analyzer.cluster.calico.policies}


def check_selects_nothing(ctx: LintContext) -> Iterator[Finding]:
    if not ctx.analyzer.cluster.workloads:
        return
    src = _sources(ctx)
    for _, cp, pol in _compiled(ctx):
        if not (cp.applies[Direction.INGRESS] | cp.applies[Direction.EGRESS]):
            yield ctx.finding(MS040, f"{pol.id}: selector {pol.selector} selects no pod", _ref(pol), src.get(pol.id),
                              ("spec", "selector"), fix="check the selector's labels and the policy's namespace")


def check_order_collision(ctx: LintContext) -> Iterator[Finding]:
    src = _sources(ctx)
    for ct in ctx.analyzer.calico_tiers:
        ordered = [(cp, pol) for cp in ct.policies if (pol := cp.policy) is not None and pol.order is not None]
        for i, (x, xp) in enumerate(ordered):
            for y, yp in ordered[i + 1:]:
                if xp.order != yp.order:
                    continue
                if (x.applies[Direction.INGRESS] & y.applies[Direction.INGRESS]) or (x.applies[Direction.EGRESS] & y.applies[Direction.EGRESS]):
                    yield ctx.finding(MS041, f"{xp.id} and {yp.id} share order {xp.order:g} in tier "
                                      f"{ct.tier.name} and select the same pods: their names decide which runs first",
                                      _ref(yp), src.get(yp.id), ("spec", "order"),
                                      fix="give each policy its own order")


def check_pass_to_nothing(ctx: LintContext) -> Iterator[Finding]:
    a = ctx.analyzer
    src = _sources(ctx)
    tiers = a.calico_tiers
    for n, ct in enumerate(tiers):
        for cp in ct.policies:
            if cp.policy is None:
                continue
            for d in DIRECTIONS:
                owners = cp.applies[d]
                if not owners:
                    continue
                later = 0
                for lt in tiers[n + 1:]:
                    for lp in lt.policies:
                        if lp.policy is not None:
                            later |= lp.applies[d]
                        else:
                            later |= sum(1 << i for i, pols in enumerate(a.isolating[d]) if pols)
                if owners & later:
                    continue
                for r in cp.policy.rules(d):
                    if r.action is CalicoAction.PASS:
                        yield ctx.finding(MS042, f"{cp.policy.id} {d} rule {r.index}: Pass, but no later tier applies to "
                                          "the pods it selects: Calico's profiles allow what it passes",
                                          _ref(cp.policy), src.get(cp.policy.id), _path(r),
                                          fix="write Allow if that is the intent, or add the policy that should decide")


def _matches_everything(r: CalicoRule) -> bool:
    return r.protocol is None and r.not_protocol is None and r.source == EntityRule() and \
        r.destination == EntityRule() and not r.unevaluated


def check_deny_shadowed(ctx: LintContext) -> Iterator[Finding]:
    for pol, src in ctx.analyzer.cluster.calico.policies:
        for d in DIRECTIONS:
            rules = pol.rules(d)
            for i, r in enumerate(rules):
                if r.action is CalicoAction.ALLOW and _matches_everything(r):
                    for later in rules[i + 1:]:
                        if later.action is CalicoAction.DENY:
                            yield ctx.finding(MS043, f"{pol.id} {d} rule {later.index}: Deny is never reached: rule "
                                              f"{r.index} allows every flow first", _ref(pol), src, _path(later),
                                              fix="move the Deny before the Allow, or narrow the Allow")
                    break


def check_tier_never_applies(ctx: LintContext) -> Iterator[Finding]:
    a = ctx.analyzer
    if not a.cluster.workloads or not a.calico_tiers:
        return
    for ct in a.calico_tiers:
        if ct.tier.name == DEFAULT_TIER:
            continue
        pols = [(cp, pol) for cp in ct.policies if (pol := cp.policy) is not None]
        if any(cp.applies[Direction.INGRESS] | cp.applies[Direction.EGRESS] for cp, _ in pols):
            continue
        names = ", ".join(pol.id for _, pol in pols) or "no policies"
        yield ctx.finding(MS044, f"tier {ct.tier.name} never applies to a pod ({names})", f"Tier {ct.tier.name}", None,
                          fix="check the selectors of its policies and their spec.tier")


RULES = ((MS040, check_selects_nothing), (MS041, check_order_collision), (MS042, check_pass_to_nothing),
         (MS043, check_deny_shadowed), (MS044, check_tier_never_applies))
