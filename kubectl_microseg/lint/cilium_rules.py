"""Provides the lint rules for Cilium policies (docs/cilium.md): egress to the whole world from a workload
(MS030), a deny rule no allow ever reaches (MS031), an endpointSelector that selects no pod (MS032), an
L7 rule on a port no selected container declares (MS033), and an L7 rule an L4-only rule on the same port
lifts (MS034). IDs from MS030 leave room for the other engines."""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.atoms import ExternalAtom
from ..engine.cilium import CompiledCiliumRule, l4_named_ports
from ..engine.k8s import Analyzer, iter_bits
from ..model.cilium import CiliumEntry, CiliumRule, Entity, PeerKind
from ..model.objects import FieldPath
from ..model.ports import ConnSet, NamedPorts
from ..vocab import DIRECTIONS, Direction
from .context import LintContext
from .finding import Finding, RuleInfo

MS030 = RuleInfo(
    "MS030", "cilium-egress-to-world", "warning",
    "a Cilium egress rule opens the whole world (toEntities world or all) to workloads",
    "docs.cilium.io, Entities Based: world is every address outside the cluster, all is everything. An egress "
    "allow to either lets the selected pods reach any outside address (data exfiltration, command and "
    "control). Name the destinations: toCIDRSet, a CiliumCIDRGroup or toFQDNs.")
MS031 = RuleInfo(
    "MS031", "cilium-deny-never-reached", "info",
    "a Cilium deny rule denies only what nothing allows",
    "Deny rules take precedence over allow rules; a deny rule whose peers and ports no allow rule (nor an "
    "unisolated direction) would admit changes no verdict: it documents intent at best, and it may hide that "
    "the rule targets the wrong peers.")
MS032 = RuleInfo(
    "MS032", "cilium-selector-matches-nothing", "warning",
    "a Cilium policy's endpointSelector selects no pod of the input",
    "A CiliumNetworkPolicy selects endpoints of its own namespace only; keys are pod labels (optionally "
    "prefixed k8s:), io.kubernetes.pod.namespace and io.cilium.k8s.namespace.labels.<key>. A selector that "
    "matches nothing is usually a typo or a label that changed.")
MS033 = RuleInfo(
    "MS033", "cilium-l7-port-not-exposed", "warning",
    "an L7 rule sits on a port no selected container declares",
    "Cilium's L7 rules (http, dns, kafka) apply to the ports of their toPorts entry; on a port the "
    "destination's containers do not declare they filter nothing that can arrive.")

MS034 = RuleInfo(
    "MS034", "cilium-l7-rule-lifted", "warning",
    "an L7 rule has no effect where an L4-only rule allows the same peer on the same port",
    "docs.cilium.io, Layer 7 Policies: \"If a layer 4 rule is specified in the policy, and a similar layer 4 "
    "rule with layer 7 rules is also specified, then the layer 7 portions of the latter rule will have no "
    "effect.\" Rules are a union: a Kubernetes NetworkPolicy or a Cilium rule without L7 rules that names the "
    "port lets every request through, so the L7 rule filters nothing for those peers.")


def _ref(e: CiliumEntry) -> str:
    return f"{e.policy.kind} {e.policy.name}"


def _rule_path(r: CiliumRule, *rest: str | int) -> FieldPath:
    return r.path + tuple(rest)


def check_world_egress(ctx: LintContext) -> Iterator[Finding]:
    layer = ctx.analyzer.cilium
    if layer is None:
        return
    for e in ctx.analyzer.cluster.cilium:
        if not layer.selects.get(e.policy.id, 0):
            continue
        for r in e.policy.egress:
            for _i, p in enumerate(r.peers or ()):
                if p.kind is PeerKind.ENTITY and p.entity in (Entity.WORLD, Entity.ALL):
                    yield ctx.finding(MS030, f"{e.policy.id} egress rule {r.index}: toEntities {p.entity.value} lets "
                                      "the selected pods reach every outside address", _ref(e), e.source,
                                      _rule_path(r), fix="replace it by toCIDRSet / toFQDNs naming the destinations")
                    break


def check_deny_never_reached(ctx: LintContext) -> Iterator[Finding]:
    a = ctx.analyzer
    layer = a.cilium
    if layer is None or not layer.has_deny:
        return
    for e in a.cluster.cilium:
        subject = layer.selects.get(e.policy.id, 0)
        for d in DIRECTIONS:
            for r in e.policy.deny_rules(d):
                cr = layer.compiled.get((e.policy.id, r.section, r.index))
                if cr is None or not subject or cr.unsure:
                    continue
                if not _reached(a, d, subject, cr):
                    yield ctx.finding(MS031, f"{e.policy.id} {r.section} rule {r.index}: nothing it denies is allowed "
                                      "by any allow rule; it changes no verdict", _ref(e), e.source, r.path,
                                      fix="check its peers and ports, or delete it")


def _allows_without_deny(a: Analyzer, d: str, own: int, peer: int | ExternalAtom, named: NamedPorts) -> ConnSet:
    """What the NetworkPolicy tier (with Cilium's allows) and the default would allow, denies aside."""
    if a.classes[own].host_network or not a.isolating[d][own]:
        return ConnSet.all()
    out = ConnSet.none()
    for cr in a.rules_of[d][own]:
        if cr.matches(peer):
            out = out | cr.conns(named)
    return out


def _reached(a: Analyzer, d: str, subject: int, cr: CompiledCiliumRule) -> bool:
    for own in iter_bits(subject):
        for peer in iter_bits(cr.classes):
            named = a.classes[peer if d == Direction.EGRESS else own].named_ports
            if _allows_without_deny(a, d, own, peer, named) & cr.conns(named):
                return True
        for atom in a.atoms:
            if cr.matches(atom) and _allows_without_deny(a, d, own, atom, frozenset()) & cr.conns(frozenset()):
                return True
    return False


def check_selector_matches_nothing(ctx: LintContext) -> Iterator[Finding]:
    layer = ctx.analyzer.cilium
    if layer is None:
        return
    for e in ctx.analyzer.cluster.cilium:
        p = e.policy
        if p.subject is None or p.subject.entity is not None or p.subject.cluster:
            continue
        if not layer.selects.get(p.id, 0):
            where = f"namespace {p.namespace}" if p.namespace is not None else "the cluster"
            base = ("spec",) if p.spec_index is None else ("specs", p.spec_index)
            yield ctx.finding(MS032, f"{p.id}: endpointSelector {p.subject.describe()} selects no pod in {where}",
                              _ref(e), e.source, base + ("endpointSelector",),
                              fix="check the labels (kubectl get pods --show-labels)")


def _l7_rules(ctx: LintContext) -> Iterator[tuple[CiliumEntry, Direction, CiliumRule, CompiledCiliumRule | None, int]]:
    """Every allow rule with L7 rules: (entry, direction, rule, its compiled form or None, the subject classes)."""
    layer = ctx.analyzer.cilium
    if layer is None:
        return
    for e in ctx.analyzer.cluster.cilium:
        subject = layer.selects.get(e.policy.id, 0)
        for d in DIRECTIONS:
            for r in e.policy.rules(d):
                if r.l7:
                    yield e, d, r, layer.compiled.get((e.policy.id, r.section, r.index)), subject


def check_l7_port(ctx: LintContext) -> Iterator[Finding]:
    a = ctx.analyzer
    for e, d, r, cr, subject in _l7_rules(ctx):
        if r.ports is None:
            continue
        dests = subject if d == Direction.INGRESS else (cr.classes if cr is not None else 0)
        if not dests:
            continue
        ports = [a.classes[i].named_ports for i in iter_bits(dests)]
        if not all(ports):
            continue  # some destination declares no named ports: its ports are not known
        if not any(r.conns_for(named) & _declared(named) for named in ports):
            yield ctx.finding(MS033, f"{e.policy.id} {r.section} rule {r.index}: L7 rules on {r.describe_ports()}, "
                              "which no destination container declares", _ref(e), e.source,
                              _rule_path(r, "toPorts"), fix="put the L7 rule on the port the application serves")


def check_l7_lifted(ctx: LintContext, max_pairs: int = 20_000) -> Iterator[Finding]:
    """MS034: per L7 allow rule, the (subject, peer class) pairs on whose ports a rule without L7 rules that
    matches the same pair names the same port (engine.cilium.l4_named_ports, the matrix's rule)."""
    a = ctx.analyzer
    for e, d, r, cr, subject in _l7_rules(ctx):
        if cr is None or not subject:
            continue
        pairs = lifted = 0
        example = ""
        for own in iter_bits(subject):
            for peer in iter_bits(cr.classes):
                if pairs >= max_pairs:
                    break
                named = a.classes[own if d == Direction.INGRESS else peer].named_ports
                conns = cr.conns(named)
                if not conns:
                    continue
                pairs += 1
                l4 = l4_named_ports([x.rule for x in a.rules_of[d][own] if x.matches(peer)], named)
                if conns & l4:
                    lifted += 1
                    if not example:
                        src, dst = (peer, own) if d == Direction.INGRESS else (own, peer)
                        example = (f"{a.class_workloads[src][0].id} -> {a.class_workloads[dst][0].id} on "
                                   f"{(conns & l4).describe()}")
        if lifted:
            scope = "every pair it matches" if lifted == pairs else f"{lifted} of the {pairs} pairs it matches"
            yield ctx.finding(MS034, f"{e.policy.id} {r.section} rule {r.index}: its L7 rules have no effect for "
                              f"{scope} (e.g. {example}): an L4-only rule allows the same peer on that port",
                              _ref(e), e.source, _rule_path(r, "toPorts"),
                              fix="drop the port from the L4-only rule (or the L7 rule, if every request "
                                  "is meant to pass)")


def _declared(named: NamedPorts) -> ConnSet:
    out = ConnSet.none()
    for _, proto, n in named:
        out = out | ConnSet.ports(proto, n)
    return out


RULES = ((MS030, check_world_egress), (MS031, check_deny_never_reached), (MS032, check_selector_matches_nothing),
         (MS033, check_l7_port), (MS034, check_l7_lifted))
