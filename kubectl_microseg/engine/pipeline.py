"""Provides the decision pipeline: the policy layers in the order the dataplane applies them, and the ONLY
place where their precedence is written.

One direction (egress of the source, ingress of the destination) of one (pod class, peer) pair::

    all ports ──► Cilium deny ──► Admin tier ──► NetworkPolicy tier ──► Baseline tier ──► default ──► allowed ports
                  CNP/CCNP       CNP Admin,     isolated: its rules     CNP Baseline,     Kubernetes:
                  ingressDeny,   ANP (v1alpha1) accept, the rest is     BANP (v1alpha1)   everything not
                  egressDeny                    denied; not isolated:                     decided is accepted
                                                no opinion (Cilium
                                                allows join here)

The Cilium deny tier (engine.cilium: ingressDeny/egressDeny) comes first: "Deny policies take precedence
over allow policies, regardless of whether they are a Cilium Network Policy, a Clusterwide Cilium Network
Policy or even a Kubernetes Network Policy" (docs.cilium.io, Deny Policies); Cilium's allow rules join the
NetworkPolicy tier (the union of allows; any selecting policy makes the endpoint default-deny).

Calico's tiers (engine.calico) go where Calico orders them against its own tiers for the Kubernetes
policies: before ``kube-admin`` (order 1000) ahead of the Admin tier; up to ``kube-baseline`` (order
10,000,000) in the NetworkPolicy tier's place (Calico's default tier, order 1,000,000, holds the
NetworkPolicies); after ``kube-baseline`` (or without order) behind the Baseline tier.

Every layer answers, for the ports still open, accept / deny / pass / no opinion, with its reasons
(object, rule, origin). Accept and deny are final: those ports leave the pipeline. Pass and no opinion
leave them open for the next layer (a Pass also skips the rest of its own tier). network-policy-api
v1alpha2, ``spec.tier``: "If Admin tier has made a final decision (Accept or Deny) on a connection, then
no further evaluation is done ... v1.NetworkPolicy always makes a final decision for selected pods ...
If a given connection wasn't allowed or denied by any of the tiers, the default kubernetes policy is
applied, which says that all pods can communicate with each other."

A connection needs both directions: the matrix intersects them. The matrix, explain (with a trace),
simulate/diff causes, lint, the TUI and incremental updates all call :func:`decide`; the matrix has one
shortcut, for clusters without admin policies, where only the NetworkPolicy tier can decide (a test
walks every pair of the demo and of the conformance cases through both and finds the same verdicts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from collections.abc import Callable

from ..model.admin import ANP_KIND, BANP_KIND, AdminPolicy, AdminRule, Action
from ..model.cilium import CiliumPolicy, CiliumRule
from ..model.policy import NetworkPolicy, Rule
from ..model.ports import ConnSet, NamedPorts
from ..vocab import Direction, Effect, ReasonKind, StrEnum
from .cilium import deny_tier as cilium_deny_tier
from .cilium import l4_named_ports, l7_text
from .calico import EFFECTS as CALICO_EFFECTS, Placement, decide_tiers

if TYPE_CHECKING:
    from .atoms import ExternalAtom
    from .compiled import CompiledAdminRule, CompiledRule
    from .k8s import Analyzer

_ALL = ConnSet.all()
_NONE = ConnSet.none()


class Layer(StrEnum):
    """The layers, in evaluation order."""

    CILIUM_DENY = "CiliumDeny"
    CALICO_EARLY = "Calico tiers before kube-admin"
    ADMIN = "Admin"
    NETWORK_POLICY = "NetworkPolicy"
    BASELINE = "Baseline"
    CALICO_LATE = "Calico tiers after kube-baseline"
    DEFAULT = "default"


_EFFECT = {Action.ACCEPT: Effect.ALLOW, Action.DENY: Effect.DENY, Action.PASS: Effect.PASS}
_DENYING_KINDS = (ReasonKind.NO_RULE_MATCHED, ReasonKind.SELECTED_NO_RULES, ReasonKind.PORT_NOT_ALLOWED,
                  ReasonKind.CILIUM_DENY)


@dataclass(frozen=True)
class Reason:
    """Why one direction allowed, denied or passed some ports: a rule, 'not isolated', 'nothing allowed'."""

    direction: Direction
    kind: ReasonKind
    """What the step is: ``vocab.ReasonKind`` lists every kind (an admin rule's is
    <ANP|BANP|ADMIN|BASELINE>_<its action as written>)."""
    conns: ConnSet
    policy: NetworkPolicy | CiliumPolicy | None = None
    rule: Rule | CiliumRule | None = None
    """The NetworkPolicy rule, or the Cilium rule (allow or deny) that Cilium's layers compiled."""
    text: str = ""
    admin: AdminPolicy | None = None
    admin_rule: AdminRule | None = None
    layer: str = ""
    """The Layer value the reason belongs to ('' outside the pipeline)."""
    calico: tuple[str, int] | None = None
    """A Calico reason's (policy id, rule index); rule index -1 for the end of a tier (engine/calico.py)."""
    calico_policies: tuple[str, ...] = ()
    """The end of a Calico tier: the ids of the Calico policies through which the tier applied."""

    @property
    def effect(self) -> Effect:
        """allow, deny, pass or none: what this reason does to the ports in ``conns`` (or to all, when empty)."""
        if self.admin_rule is not None:
            return _EFFECT[self.admin_rule.effect]
        if self.kind in CALICO_EFFECTS:
            return CALICO_EFFECTS[self.kind]
        if self.kind in _DENYING_KINDS:
            return Effect.DENY
        if self.kind == ReasonKind.UNEVALUATED:
            return Effect.NONE
        return Effect.ALLOW

    def short(self) -> str:
        """'production/api-policy ingress rule 1' (the contract's ``because`` item)."""
        if self.policy is not None and self.rule is not None:
            return f"{self.policy.id} {self.direction} rule {self.rule.index}"
        if self.admin is not None and self.admin_rule is not None:
            r = self.admin_rule
            label = f" '{r.name}'" if r.name else ""
            return f"{self.admin.id} {self.direction} rule {r.index}{label} ({r.action})"
        return self.text


@dataclass
class DirectionVerdict:
    allowed: ConnSet
    isolated: bool
    selecting: list[NetworkPolicy | CiliumPolicy]
    reasons: list[Reason]
    uncertain: bool = False
    """A rule that could decide here was not evaluated (nodes or domainNames peers)."""


@dataclass
class Verdict:
    """Everything about one (source, destination) pair."""

    src: str
    dst: str
    egress: DirectionVerdict
    ingress: DirectionVerdict
    uncertain: bool = False

    @property
    def allowed(self) -> ConnSet:
        return self.egress.allowed & self.ingress.allowed


@dataclass
class Query:
    """One direction of one pair: ``own`` (a pod class) against ``peer`` (a class or an address range)."""

    analyzer: Analyzer
    direction: Direction
    own: int
    peer: int | ExternalAtom
    named: NamedPorts
    """The destination's named ports (they resolve named ports in rules)."""
    trace: list[Reason] | None = None
    peer_name: str = ""
    uncertain: bool = False


LayerFn = Callable[[Query, ConnSet], "tuple[ConnSet, ConnSet]"]
"""A layer: given the still-open ports, the ports it accepts and those it denies (the rest: pass or no opinion)."""


def _admin_tier(q: Query, open_: ConnSet) -> tuple[ConnSet, ConnSet]:
    if not q.analyzer.has_admin:
        return _NONE, _NONE
    return _cluster_tier(q, open_, q.analyzer.admin_rules[q.direction][q.own], Layer.ADMIN)


def _baseline_tier(q: Query, open_: ConnSet) -> tuple[ConnSet, ConnSet]:
    if not q.analyzer.has_admin:
        return _NONE, _NONE
    return _cluster_tier(q, open_, q.analyzer.baseline_rules[q.direction][q.own], Layer.BASELINE)


def _cluster_tier(q: Query, open_: ConnSet, rules: list[CompiledAdminRule], layer: Layer) -> tuple[ConnSet, ConnSet]:
    """A tier of cluster-wide policies: their rules in precedence order; within the tier the first rule
    that matches a port decides it (Accept, Deny, or Pass: skip the rest of the tier)."""
    accepted = denied = settled = _NONE
    for cr in rules:
        if cr.unsure and cr.may_match(q.peer):
            q.uncertain = True
            if q.trace is not None:
                q.trace.append(Reason(q.direction, ReasonKind.UNEVALUATED, _NONE, text=_admin_text(cr, _NONE, _NONE, unsure=True),
                                      admin=cr.policy, layer=layer.value))
        if not cr.matches(q.peer):
            continue
        conns = cr.conns(q.named)
        if open_ is not _ALL:
            conns = conns & open_
        if settled:
            conns = conns - settled
        if q.trace is not None:
            q.trace.append(Reason(q.direction, _admin_kind(cr.policy, cr.rule), conns, text=_admin_text(cr, conns, settled),
                                  admin=cr.policy, admin_rule=cr.rule, layer=layer.value))
        if not conns:
            continue
        action = cr.rule.effect
        if action is Action.ACCEPT:
            accepted = accepted | conns
        elif action is Action.DENY:
            denied = denied | conns
        settled = settled | conns
        if q.trace is None and settled == open_:
            break
    return accepted, denied


def _network_policy_tier(q: Query, open_: ConnSet) -> tuple[ConnSet, ConnSet]:
    """Not isolated: no opinion. Isolated: the union of the matching rules is accepted, the rest denied."""
    a = q.analyzer
    if a.calico_tiers:  # on Calico the NetworkPolicies are evaluated inside its default tier
        return decide_tiers(q, open_, Placement.WITH_NETWORK_POLICY)
    selecting = a.isolating[q.direction][q.own]
    if not selecting:
        return _NONE, _NONE
    allowed = _NONE
    matched = False
    hits = []
    for cr in a.rules_of[q.direction][q.own]:
        if not cr.matches(q.peer):
            continue
        matched = True
        conns = cr.conns(q.named)
        if open_ is not _ALL:
            conns = conns & open_
        if q.trace is not None:
            hits.append((cr, conns))
        allowed = allowed | conns
    if hits and q.trace is not None:
        l4 = l4_named_ports([cr.rule for cr, _ in hits], q.named)
        q.trace.extend(Reason(q.direction, ReasonKind.ALLOWED_BY_RULE, conns, cr.policy, cr.rule, _rule_text(cr, conns, l4),
                              layer=Layer.NETWORK_POLICY.value) for cr, conns in hits)
    if q.trace is not None and not matched:
        pols = list(dict.fromkeys(selecting))
        names = ", ".join(p.id for p in pols)
        if any(p.rules(q.direction) for p in pols):
            q.trace.append(Reason(q.direction, ReasonKind.NO_RULE_MATCHED, _NONE, layer=Layer.NETWORK_POLICY.value,
                                  text=f"isolated for {q.direction} by {names}; no {q.direction} rule matches {q.peer_name}"))
        else:
            q.trace.append(Reason(q.direction, ReasonKind.SELECTED_NO_RULES, _NONE, layer=Layer.NETWORK_POLICY.value,
                                  text=f"isolated for {q.direction} by {names}, which allow no {q.direction} at all"))
    return allowed, open_ - allowed


def _default_tier(q: Query, open_: ConnSet) -> tuple[ConnSet, ConnSet]:
    """Kubernetes' default: what no layer decided is allowed."""
    if q.trace is not None:
        tail = " and no baseline rule decides it" if q.analyzer.has_admin else ""
        if q.analyzer.calico_tiers:  # Calico: what no tier decided reaches the namespace profile, which allows
            tail = ", no Calico tier decides it" + tail
        what = "everything" if open_.is_all() else open_.describe()
        q.trace.append(Reason(q.direction, ReasonKind.NOT_ISOLATED, open_, layer=Layer.DEFAULT.value,
                              text=f"no NetworkPolicy selects it for {q.direction}{tail}: not isolated, {what} allowed"))
    return open_, _NONE


def _calico_early(q: Query, open_: ConnSet) -> tuple[ConnSet, ConnSet]:
    """Calico tiers ordered before its kube-admin tier (engine/calico.py)."""
    if not q.analyzer.calico_tiers:
        return _NONE, _NONE
    return decide_tiers(q, open_, Placement.BEFORE_ADMIN)


def _calico_late(q: Query, open_: ConnSet) -> tuple[ConnSet, ConnSet]:
    """Calico tiers ordered after its kube-baseline tier, or without order (engine/calico.py)."""
    if not q.analyzer.calico_tiers:
        return _NONE, _NONE
    return decide_tiers(q, open_, Placement.AFTER_BASELINE)


LAYERS: tuple[tuple[Layer, LayerFn], ...] = (
    (Layer.CILIUM_DENY, cilium_deny_tier),
    (Layer.CALICO_EARLY, _calico_early),
    (Layer.ADMIN, _admin_tier),
    (Layer.NETWORK_POLICY, _network_policy_tier),
    (Layer.BASELINE, _baseline_tier),
    (Layer.CALICO_LATE, _calico_late),
    (Layer.DEFAULT, _default_tier),
)
"""The precedence of the layers: this order, and nothing else, decides which layer wins."""

HOST_NETWORK_TEXT = ("hostNetwork pod: NetworkPolicies do not select or isolate it; its traffic is the node's, matched "
                     "only by ipBlocks that contain the node address (use --hostnetwork-as-pods to treat it as a pod)")


def decide(q: Query) -> ConnSet:
    """The ports ``q.own``'s ``q.direction`` allows with ``q.peer``; reasons go to ``q.trace`` when given."""
    if q.analyzer.classes[q.own].host_network:
        # no layer selects a hostNetwork pod (v1alpha2: "host-networked pods are not included in subject
        # selection"; NetworkPolicy: undefined, see engine.k8s): its own directions allow everything
        if q.trace is not None:
            q.trace.append(Reason(q.direction, ReasonKind.HOST_NETWORK, _ALL, text=HOST_NETWORK_TEXT))
        return _ALL
    allowed = _NONE
    open_ = _ALL
    for _, layer in LAYERS:
        accepted, denied = layer(q, open_)
        if accepted:
            allowed = allowed | accepted
        if accepted or denied:
            open_ = open_ - (accepted | denied)
            if not open_:
                break
    return allowed


def allowed(a: Analyzer, direction: Direction, own: int, peer: int | ExternalAtom, named: NamedPorts) -> ConnSet:
    """:func:`decide` without reasons, for the matrix and incremental updates. Without admin policies the
    cluster-wide tiers are empty, so the NetworkPolicy tier and the default are all there is: that case
    skips the layer loop (same verdict; test_pipeline_precedence checks it on every pair). Cilium deny
    rules, the first layer, are then subtracted from that verdict."""
    if a.has_admin or a.calico_selects[direction] >> own & 1:
        return decide(Query(a, direction, own, peer, named))
    out = _np_or_default(a, direction, own, peer, named)
    if out and a.cilium is not None and a.cilium.has_deny:  # the Cilium deny tier comes first
        out = out - a.cilium.deny_conns(direction, own, peer, named)
    return out


def _np_or_default(a: Analyzer, direction: Direction, own: int, peer: int | ExternalAtom,
                   named: frozenset[tuple[str, str, int]]) -> ConnSet:
    """The NetworkPolicy tier's verdict where it is the only layer, the default when it has no opinion."""
    if a.classes[own].host_network or not a.isolating[direction][own]:
        return _ALL
    out = _NONE
    if isinstance(peer, int):  # the hot path of the matrix: the rule's bitset holds the peer class
        bit = 1 << peer
        for cr in a.rules_of[direction][own]:
            if cr.classes & bit:
                out = out | cr.conns(named)
        return out
    for cr in a.rules_of[direction][own]:
        if cr.matches(peer):
            out = out | cr.conns(named)
    return out


def _admin_kind(policy: AdminPolicy, rule: AdminRule) -> ReasonKind:
    if policy.kind == ANP_KIND:
        prefix = "ANP"
    elif policy.kind == BANP_KIND:
        prefix = "BANP"
    else:
        prefix = policy.tier.value.upper()
    return ReasonKind(f"{prefix}_{rule.action.upper()}")


def _rule_text(cr: CompiledRule, conns: ConnSet, l4: ConnSet = _NONE) -> str:
    ports = cr.rule.describe_ports()
    got = conns.describe()
    via = "every peer" if cr.all_peers else " or ".join(p.describe(cr.policy.namespace) for p in cr.rule.peers or ())
    note = "" if conns else " (its named ports do not exist on the destination, so it opens nothing)"
    return f"{cr.policy.id} {cr.rule.direction} rule {cr.rule.index}: {via}; ports {ports} -> {got}{note}{l7_text(cr.rule, conns, l4)}"


def _admin_text(cr: CompiledAdminRule, conns: ConnSet, decided: ConnSet, *, unsure: bool = False) -> str:
    r = cr.rule
    label = f" '{r.name}'" if r.name else ""
    head = f"{cr.policy.id} {r.direction} rule {r.index}{label}"
    if unsure:
        what = " or ".join(p.describe() for p in r.peers if not p.evaluable)
        return (f"{head}: {r.action} {what} is not evaluated (their addresses are not known offline); "
                "it could decide here: the verdict is uncertain")
    via = " or ".join(p.describe() for p in r.peers)
    note = ""
    if not conns:
        note = " (every port it names was decided by an earlier rule)" if decided else " (its named ports do not exist)"
    tier = f"[{cr.policy.tier.value} tier] " if cr.policy.kind not in (ANP_KIND, BANP_KIND) else ""
    return f"{tier}{head}: {r.action} {via}; ports {r.describe_ports()} -> {conns.describe()}{note}"
