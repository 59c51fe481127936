"""Provides cause attribution for a MatrixDiff: which policies and rules made each pair change.

For every pair that changed, the engine explains the pair on both sides (``engine.explain.explain_pair``)
and the two explanations are compared direction by direction:

- a direction whose allowed ports did not change contributes nothing (the other direction decided);
- where ports were cut: policies that select the endpoint now but did not before ("isolates"), and
  allowing rules that matched before but not after ("no-longer-allows"), restricted to rules whose
  ports overlap what was cut;
- where ports were opened: policies that no longer select the endpoint, and rules that now match,
  restricted to rules whose ports overlap what was opened;
- Cilium deny rules count like admin Deny rules (their name is the section, ``ingressDeny``/``egressDeny``);
- AdminNetworkPolicy and BaselineAdminNetworkPolicy rules count the same way, by their effect: an Allow
  rule as above, a Deny rule that now matches explains a cut ("denies"), one that no longer matches an
  opening ("no-longer-denies"). Pass rules only hand over to the NetworkPolicies, which then explain.

A rule is identified by (policy, rule index, ports for this pair), so a rule edited in place shows as the
old version no longer allowing and the new one allowing. A cause's ports are the part of the change it
explains (the rule's full text stays in ``Cause.text``). Pure: analyzers in, causes out.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.cilium import CiliumRule
from ..model.cluster import Workload
from ..model.ports import ConnSet
from ..vocab import CauseChange, Direction, Effect, ReasonKind
from .diff import Cause, MatrixDiff, PairDiff, endpoint_addresses
from .explain import PairExplanation, explain_pair
from .k8s import Analyzer, ExternalAtom, Reason

DIRECTIONS = (Direction.EGRESS, Direction.INGRESS)
"""Egress first: the order causes are listed in."""


@dataclass
class Side:
    """One state's part of an attribution: the differing pairs explained in it, and what is compared across."""

    peers: dict[tuple[str, str], tuple[Workload | ExternalAtom, Workload | ExternalAtom]]
    explanations: dict[tuple[str, str], PairExplanation]
    ns_labels: dict[str, dict[str, str]]
    specs: dict[str, object]
    """Policy id -> what defines it (see :func:`_specs`)."""


def side(diff: MatrixDiff, analyzer: Analyzer) -> Side:
    """Explain the differing pairs of ``diff`` in one analyzed state (before or after the change)."""
    wl = {w.id: w for w in analyzer.cluster.workloads}
    peers, explanations = {}, {}
    for p in diff.differences():
        if p.new_endpoint or p.gone_endpoint:
            continue
        try:
            peer = (_peer(analyzer, p, p.src, wl), _peer(analyzer, p, p.dst, wl))
        except KeyError:
            continue  # an endpoint the analyzer does not know (a matrix from elsewhere): no causes
        peers[(p.src, p.dst)] = peer
        explanations[(p.src, p.dst)] = explain_pair(analyzer, *peer)
    return Side(peers, explanations, dict(analyzer.ns_labels), _specs(analyzer))


def attribute(diff: MatrixDiff, before: Analyzer, after: Analyzer) -> None:
    """Fill ``causes`` of every added, removed or changed pair (in place).

    Only an object that changed is ever blamed: a cause naming a policy that is the same before and after
    (it now selects a relabelled pod, or a changed rule above it now shadows it) is replaced by the
    endpoint that did change ('endpoint-changed'), or dropped when that is a policy already named."""
    attribute_sides(diff, side(diff, before), side(diff, after))


def attribute_sides(diff: MatrixDiff, before: Side, after: Side) -> None:
    """:func:`attribute` from the two states' :func:`side` (they may be taken from one analyzer in turn,
    as the live audit trail does on the shared incremental model)."""
    changed = {pid for pid in set(before.specs) | set(after.specs) if before.specs.get(pid) != after.specs.get(pid)}
    for p in diff.differences():
        key = (p.src, p.dst)
        if key not in before.peers or key not in after.peers:
            continue
        (src_b, dst_b), (src_a, dst_a) = before.peers[key], after.peers[key]
        causes = causes_between(before.explanations[key], after.explanations[key])
        kept = [c for c in causes if c.policy in changed]
        for c in causes:
            if c.policy in changed:
                continue
            wid, peer_b, peer_a = (p.src, src_b, src_a) if c.direction == Direction.EGRESS else (p.dst, dst_b, dst_a)
            if _endpoint_changed(before.ns_labels, after.ns_labels, peer_b, peer_a) and not any(
                    k.change == CauseChange.ENDPOINT_CHANGED and k.direction == c.direction for k in kept):
                kept.append(Cause(c.direction, CauseChange.ENDPOINT_CHANGED, wid, text=f"{wid} changed (its labels, named ports "
                                  f"or namespace labels): {c.short()}"))
        p.causes = kept


def _specs(a: Analyzer) -> dict[str, object]:
    """Policy id -> what defines it (NetworkPolicies, admin, Cilium and Calico policies)."""
    out: dict[str, object] = {e.policy.id: e.source.raw.get("spec") for e in a.cluster.policies}
    out.update((e.policy.id, e.source.raw.get("spec")) for e in a.cluster.admin_policies)
    out.update((e.policy.id, (e.source.raw.get("spec"), e.source.raw.get("specs"))) for e in a.cluster.cilium)
    out.update((pol.id, src.raw.get("spec")) for pol, src in a.cluster.calico.policies)
    return out


def _endpoint_changed(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]], b: Workload | ExternalAtom,
                      a: Workload | ExternalAtom) -> bool:
    """Whether a workload's pods (labels, named ports, addresses) or its namespace's labels changed."""
    if not isinstance(b, Workload) or not isinstance(a, Workload):
        return False
    def key(w: Workload) -> list[tuple[object, ...]]:
        return sorted((m.labels, tuple(sorted(m.named_ports)), m.host_network, m.ips) for m in w.members)
    return key(b) != key(a) or before.get(b.namespace) != after.get(a.namespace)


def _peer(analyzer: Analyzer, p: PairDiff, eid: str, workloads: dict[str, Workload]) -> Workload | ExternalAtom:
    """The workload, or the analyzer's external range that contains the pair's external piece."""
    if eid in workloads:
        return workloads[eid]
    ep = p.src_endpoint if eid == p.src else p.dst_endpoint
    if ep is None or not ep.is_external:
        raise KeyError(eid)
    lo, hi = endpoint_addresses(ep).intervals[0]
    for atom in analyzer.atoms:
        if atom.contains_interval(lo, hi):
            return atom
    raise KeyError(eid)


def _allowed(e: PairExplanation, direction: Direction) -> ConnSet:
    return e.egress_allowed if direction == Direction.EGRESS else e.ingress_allowed


def _reasons(e: PairExplanation, direction: Direction) -> list[Reason]:
    return e.egress if direction == Direction.EGRESS else e.ingress


def _selecting(e: PairExplanation, direction: Direction) -> dict[str, str]:
    """Policy id -> namespace/name of the policies that isolate the endpoint in ``direction``."""
    out: dict[str, str] = {}
    for v in e.verdicts:
        dv = v.egress if direction == Direction.EGRESS else v.ingress
        for pol in dv.selecting:
            out[pol.id] = pol.id
    for r in _reasons(e, direction):  # Calico: the policies through which a denying tier applies isolate
        if r.kind == ReasonKind.CALICO_TIER_DENY:
            out.update((pid, pid) for pid in r.calico_policies)
    return out


RuleKey = tuple[str, int, ConnSet, str, str]
"""(policy label, rule index, ports for this pair, effect 'allow'/'deny', rule name)."""


def _rules(e: PairExplanation, direction: Direction) -> dict[RuleKey, Reason]:
    """The rules that decided something for the pair: NetworkPolicy rules, ANP and BANP Allow/Deny rules."""
    out: dict[RuleKey, Reason] = {}
    for r in _reasons(e, direction):
        if r.kind == ReasonKind.ALLOWED_BY_RULE and r.policy is not None and r.rule is not None:
            out.setdefault((r.policy.id, r.rule.index, r.conns, Effect.ALLOW, ""), r)
        elif r.kind == ReasonKind.CILIUM_DENY and r.policy is not None and isinstance(r.rule, CiliumRule):
            out.setdefault((r.policy.id, r.rule.index, r.conns, "deny", r.rule.section), r)
        elif r.calico is not None and r.effect in (Effect.ALLOW, Effect.DENY):
            if r.calico[1] >= 0:  # a Calico rule (the end of a tier counts as isolation: _selecting)
                out.setdefault((r.calico[0], r.calico[1], r.conns, r.effect, ""), r)
        elif r.admin is not None and r.admin_rule is not None and r.effect in (Effect.ALLOW, Effect.DENY):
            out.setdefault((r.admin.id, r.admin_rule.index, r.conns, r.effect, r.admin_rule.name or ""), r)
    return out


def causes_between(before: PairExplanation, after: PairExplanation) -> list[Cause]:
    """The causes of the change from ``before`` to ``after`` for one pair (egress first, then ingress).

    Only what changed for the pair counts: a direction's change on ports the other direction denies
    anyway (before and after) explains nothing.
    """
    causes: list[Cause] = []
    pair_cut, pair_opened = before.allowed - after.allowed, after.allowed - before.allowed
    for d in DIRECTIONS:
        b, a = _allowed(before, d), _allowed(after, d)
        if a == b:
            continue
        cut, opened = (b - a) & pair_cut, (a - b) & pair_opened
        sel_b, sel_a = _selecting(before, d), _selecting(after, d)
        who = "source" if d == Direction.EGRESS else "destination"
        if cut:
            for pid in sorted(set(sel_a) - set(sel_b)):
                causes.append(Cause(d, CauseChange.ISOLATES, pid, text=f"{pid} now selects the {who} for {d}"))
        if opened:
            for pid in sorted(set(sel_b) - set(sel_a)):
                causes.append(Cause(d, CauseChange.NO_LONGER_ISOLATES, pid, text=f"{pid} no longer selects the {who} for {d}"))
        rules_b, rules_a = _rules(before, d), _rules(after, d)
        new = [(k, rules_a[k]) for k in sorted(set(rules_a) - set(rules_b), key=_rule_order)]
        gone = [(k, rules_b[k]) for k in sorted(set(rules_b) - set(rules_a), key=_rule_order)]
        for (label, idx, _, effect, name), r in new:
            part = r.conns & (opened if effect == Effect.ALLOW else cut)
            if part:
                change = CauseChange.ALLOWS if effect == Effect.ALLOW else CauseChange.DENIES
                causes.append(Cause(d, change, label, idx, part, r.text, name))
        for (label, idx, _, effect, name), r in gone:
            part = r.conns & (cut if effect == Effect.ALLOW else opened)
            if part:
                change = CauseChange.NO_LONGER_ALLOWS if effect == Effect.ALLOW else CauseChange.NO_LONGER_DENIES
                causes.append(Cause(d, change, label, idx, part, r.text, name))
    return causes


def _rule_order(key: RuleKey) -> tuple[bool, str, int, str]:
    """Admin policies first (they are evaluated first), then by policy, rule and ports."""
    return (not key[0].startswith("["), key[0], key[1], key[2].describe())
