"""Provides MS010: rules that another rule makes redundant.

Rule R (of policy P) is redundant when another rule S of the same direction, of a policy Q that selects
at least every pod P selects, admits at least R's peers (pod-class bitsets and outside addresses from the
engine) on at least R's ports at every destination (named ports resolved per destination, ConnSets
compared). Removing R then changes no connection. Of two identical rules only the later one is reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.k8s import CompiledRule, iter_bits
from ..model.cluster import PolicyEntry
from ..model.ports import NamedPorts
from ..vocab import DIRECTIONS, Direction
from .context import LintContext, policy_ref
from .finding import Finding, RuleInfo

MS010 = RuleInfo(
    "MS010", "redundant-rule", "info",
    "rule that another rule already covers",
    "Every connection the rule allows is also allowed by another rule of a policy that selects (at least) "
    "the same pods: same direction, a superset of its peers and of its ports. It changes nothing; "
    "removing it makes the policies easier to review. It is info because it widens nothing, but a "
    "redundant rule is often a sign that the two rules meant different things.")


def _destinations(ctx: LintContext, cr: CompiledRule, selected: int) -> list[NamedPorts]:
    """The named-port tables of the destinations where R's ports must be compared."""
    a = ctx.analyzer
    if cr.static is not None:
        return [frozenset()]
    bits = selected if cr.rule.direction == Direction.INGRESS else cr.classes
    out = list(dict.fromkeys(a.classes[i].named_ports for i in iter_bits(bits)))
    if cr.rule.direction == Direction.EGRESS and cr.addresses:
        out.append(frozenset())
    return out


def _covers(ctx: LintContext, s: CompiledRule, r: CompiledRule, r_selected: int) -> bool:
    """True when rule S allows everything rule R allows (for the pods R's policy selects)."""
    if r.classes & ~s.classes or r.addresses - s.addresses:
        return False
    return all(r.conns(named) <= s.conns(named) for named in _destinations(ctx, r, r_selected))


def check_redundant(ctx: LintContext) -> Iterator[Finding]:
    """MS010 over every pair of rules of the same direction."""
    a = ctx.analyzer
    entries = list(ctx.policies())
    for direction in DIRECTIONS:
        rules: list[tuple[PolicyEntry, CompiledRule, int]] = []
        for e in entries:
            pol = e.policy
            sel = a.policy_selects.get(pol.id, 0)
            if not sel or not pol.affects(direction):
                continue
            for rule in pol.rules(direction):
                rules.append((e, a.compiled[(pol.id, direction, rule.index)], sel))
        for i, (e, r, r_sel) in enumerate(rules):
            for j, (_, s, s_sel) in enumerate(rules):
                if i == j or r_sel & ~s_sel or not _covers(ctx, s, r, r_sel):
                    continue
                if j > i and s_sel == r_sel and _covers(ctx, r, s, s_sel):
                    continue  # identical: the later one is reported
                yield ctx.finding(
                    MS010, f"{r.policy.id} {direction} rule {r.rule.index} is redundant: {s.policy.id} {direction} "
                           f"rule {s.rule.index} already allows all of it for the same pods",
                    policy_ref(e), e.source, r.rule.path,
                    fix=f"remove it, or narrow {s.policy.id} {direction} rule {s.rule.index} if it allows more than "
                        "intended")
                break


RULES = ((MS010, check_redundant),)
