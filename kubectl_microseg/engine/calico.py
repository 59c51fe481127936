"""Provides the Calico tiers as pipeline layers: compiled once per Analyzer, decided per (class, peer).

Tier reference, "How policy is evaluated": "each tier that contains a policy that applies to the endpoint
processes the packet. Tiers are sorted by their order - smallest number first. Policies in each Tier are
then processed in order. If a NetworkPolicy or GlobalNetworkPolicy in the Tier Allows or Denys the packet,
then evaluation is done ... If [it] Passes the packet, the next Tier containing a Policy that applies to
the endpoint processes the packet. If the Tier applies to the endpoint, but takes no action on the packet
the packet is dropped" unless the tier's ``defaultAction`` is Pass. Within a policy the rules are in order
and the first that matches decides (Allow, Deny, Pass); Log records and goes on.

Kubernetes NetworkPolicies sit in the ``default`` tier at order 1000 (their rules are all Allow): they are
the engine's compiled NetworkPolicy rules, evaluated at that place. A tier ordered before Calico's
``kube-admin`` tier (order 1000, where ClusterNetworkPolicies of the Admin tier go) runs before the
pipeline's Admin layer; a tier ordered after Calico's ``kube-baseline`` tier (order 10,000,000, where the
Baseline tier goes; a tier without order is last) runs after the pipeline's Baseline layer; every other
tier runs where the NetworkPolicy layer is (:class:`Placement`). When no tier decides a port, it goes on
(then the default: Calico's namespace profiles allow everything).

Endpoints: pods by class (bitsets); outside addresses by atom (atoms are cut at every Calico net and
NetworkSet net, so a set holds an atom whole or not at all). hostNetwork pods are host endpoints for
Calico: no policy here selects them (host endpoints are not evaluated). Service accounts: a pod's is its
spec.serviceAccountName (``default`` when unset); ``serviceAccountSelector`` and ``serviceAccounts.selector``
match the ServiceAccount object's labels plus ``projectcalico.org/name`` (its name: calico-labels page,
"Labels for matching service accounts"), ``serviceAccounts.names`` the name; names and selector both set
must both match (EntityRule reference: every set field must match). A selector over a ServiceAccount the
input does not hold is evaluated on its name alone and the verdict marked uncertain; source ports too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..model import calico_selector as sel
from ..model.addresses import AddressSet
from ..model.calico import (CalicoAction, CalicoObjects, CalicoPolicy, CalicoRule, EntityRule, Tier,
                            DEFAULT_TIER, K8S_POLICY_ORDER)
from ..model.ports import ConnSet
from ..vocab import DIRECTIONS, Direction, Effect, ReasonKind, StrEnum
from .compiled import peer_matches

if TYPE_CHECKING:
    from .k8s import Analyzer, PodClass
    from .pipeline import Query

_NONE = ConnSet.none()
KUBE_ADMIN = (1000.0, "kube-admin")
"""Calico's tier for Admin-tier ClusterNetworkPolicies (tiered-policy page: "kube-admin ... order of 1,000")."""
KUBE_BASELINE = (10_000_000.0, "kube-baseline")
"""Calico's tier for the Baseline tier (tiered-policy page: the baseline admin network policy tier "has the
order of 10,000,000 and a default action of Pass")."""


class Placement(StrEnum):
    """Where a Calico tier runs among the pipeline's layers (engine/pipeline.py), by its order against Calico's
    own tiers for the cluster-wide Kubernetes policies."""

    BEFORE_ADMIN = "before kube-admin"
    WITH_NETWORK_POLICY = "with the NetworkPolicies"
    AFTER_BASELINE = "after kube-baseline"


def placement(tier: Tier) -> Placement:
    key = tier.sort_key()
    if key < KUBE_ADMIN:
        return Placement.BEFORE_ADMIN
    if key > KUBE_BASELINE:
        return Placement.AFTER_BASELINE
    return Placement.WITH_NETWORK_POLICY


@dataclass
class CompiledCalicoRule:
    policy: CalicoPolicy
    rule: CalicoRule
    own: int
    """Classes the own side (ingress: destination, egress: source) matches."""
    classes: int
    """Classes the peer side matches."""
    addresses: AddressSet
    """Outside addresses the peer side matches."""
    unsure: bool
    """A match the tool cannot decide (source ports; the labels of a ServiceAccount the input does not hold):
    the verdict is uncertain where it matches or may match."""
    unsure_own: int = 0
    """Own-side classes it may match for all the tool knows (their ServiceAccount's labels are unknown)."""
    unsure_peers: int = 0
    """Peer classes it may match for all the tool knows."""
    resolved: dict[frozenset[tuple[str, str, int]] | None, ConnSet] = field(default_factory=dict, repr=False)
    """The rule's ports by the destination's named ports (pods of a class share one set)."""

    def conns(self, dst_named: frozenset[tuple[str, str, int]]) -> ConnSet:
        key = dst_named if any(pm.name for pm in self.rule.destination.ports + self.rule.destination.not_ports) else None
        hit = self.resolved.get(key)
        if hit is None:
            hit = self.resolved[key] = self.rule.conns(dst_named)
        return hit

    def matches(self, own: int, peer: int | object) -> bool:
        return bool(self.own >> own & 1) and peer_matches(self.classes, self.addresses, peer)  # type: ignore[arg-type]

    def may_match(self, own: int, peer: int | object) -> bool:
        """Whether it matches or might (an unknown ServiceAccount's labels): only for ``unsure`` rules."""
        own_ok = bool((self.own | self.unsure_own) >> own & 1)
        peer_ok = (isinstance(peer, int) and bool(self.unsure_peers >> peer & 1)) or peer_matches(
            self.classes, self.addresses, peer)  # type: ignore[arg-type]
        return own_ok and peer_ok


@dataclass
class CompiledPolicy:
    policy: CalicoPolicy | None
    """None: the Kubernetes NetworkPolicies' place in the default tier."""
    applies: dict[Direction, int]
    rules: dict[Direction, list[CompiledCalicoRule]]


@dataclass
class CompiledTier:
    tier: Tier
    policies: list[CompiledPolicy]
    placement: Placement


Chain = list[tuple[CompiledTier, tuple[CompiledPolicy, ...]]]
"""Tiers that apply to an endpoint, each with its policies that apply to it, in evaluation order."""


@dataclass(eq=False)
class ClassGroup:
    """Pod classes that the same Calico policies apply to and the same rules' own sides match, in one
    direction: everything about their tiers is the same, so it is computed once per group (caches here)."""

    chain: Chain
    rules: tuple[CompiledCalicoRule, ...]
    """The rules of the chain's Calico policies whose own side matches the group, in evaluation order."""
    selected: bool
    """Some Calico policy (not only the Kubernetes NetworkPolicies' place) applies."""
    cache: dict[Any, Any] = field(default_factory=dict)

    def at(self, where: Placement) -> Chain:
        got = self.cache.get(where)
        if got is None:
            got = self.cache[where] = [(ct, s) for ct, s in self.chain if ct.placement is where]
        return got


def class_groups(tiers: list[CompiledTier], d: Direction, isolated: int, n: int) -> list[ClassGroup]:
    """Per class index, its group in direction ``d`` (the Kubernetes policies' place in the default tier
    applies to the ``isolated`` classes). Classes are filed by the bits of every policy's and rule's bitset
    (cost: the bits set, nothing per pair); equal signatures share one group."""
    from .k8s import iter_bits

    slots: list[tuple[CompiledTier, CompiledPolicy, CompiledCalicoRule | None, int]] = []
    for ct in tiers:
        for cp in ct.policies:
            applies = isolated if cp.policy is None else cp.applies[d]
            slots.append((ct, cp, None, applies))
            if cp.policy is not None and applies:
                slots.extend((ct, cp, cr, cr.own & applies) for cr in cp.rules[d])
    sigs: list[list[int]] = [[] for _ in range(n)]
    for j, (_, _, _, mask) in enumerate(slots):
        for i in iter_bits(mask):
            sigs[i].append(j)
    groups: dict[tuple[int, ...], ClassGroup] = {}
    out: list[ClassGroup] = []
    for sig_list in sigs:
        sig = tuple(sig_list)
        g = groups.get(sig)
        if g is None:
            g = groups[sig] = _group([slots[j] for j in sig])
        out.append(g)
    return out


def _group(slots: list[tuple[CompiledTier, CompiledPolicy, CompiledCalicoRule | None, int]]) -> ClassGroup:
    chain: dict[int, tuple[CompiledTier, list[CompiledPolicy]]] = {}
    rules: list[CompiledCalicoRule] = []
    for ct, cp, cr, _ in slots:
        if cr is None:
            chain.setdefault(id(ct), (ct, []))[1].append(cp)
        else:
            rules.append(cr)
    return ClassGroup([(ct, tuple(cps)) for ct, cps in chain.values()], tuple(rules),
                      any(cp.policy is not None for _, cps in chain.values() for cp in cps))


def pod_labels(c: PodClass) -> dict[str, str]:
    """A pod's labels as Calico's selectors see them (calico-labels page: projectcalico.org/namespace,
    projectcalico.org/orchestrator are added to every workload endpoint)."""
    return {**c.labels, "projectcalico.org/namespace": c.namespace, "projectcalico.org/orchestrator": "k8s"}


def namespace_labels(a: Analyzer, ns: str) -> dict[str, str]:
    """calico-labels page: "The label projectcalico.org/name is set to the name of the namespace"."""
    return {**a.ns_labels.get(ns, {}), "projectcalico.org/name": ns}


class CalicoCompiler:
    def __init__(self, a: Analyzer, objs: CalicoObjects):
        self.a = a
        self.objs = objs
        self.sets = [(s, _addresses(s.nets)) for s in objs.sets]
        self._labels = [pod_labels(c) for c in a.classes]
        self._ns = {ns: namespace_labels(a, ns) for ns in {c.namespace for c in a.classes} | set(a.ns_labels)}
        known = a.cluster.service_accounts
        self._sa = [{**known.get((c.namespace, c.service_account), {}), "projectcalico.org/name": c.service_account}
                    for c in a.classes]
        self.sa_unknown = sum(1 << c.index for c in a.classes if c.service_account and not c.host_network
                              and (c.namespace, c.service_account) not in known)
        """The classes whose ServiceAccount is not in the input: its labels are unknown."""

    def _sa_match(self, names: tuple[str, ...], selector: sel.Node | None, c: PodClass) -> bool:
        """networkpolicy reference, ServiceAccountMatch: ``names`` (the service account's name is one of
        them) and ``selector`` (over its labels and projectcalico.org/name)."""
        if names and c.service_account not in names:
            return False
        return selector is None or selector.matches(self._sa[c.index])

    def _classes(self, pred: Callable[[PodClass], bool]) -> int:
        out = 0
        for c in self.a.classes:
            if not c.host_network and pred(c):
                out |= 1 << c.index
        return out

    def applies(self, pol: CalicoPolicy) -> int:
        def pred(c: PodClass) -> bool:
            if pol.namespace is not None and c.namespace != pol.namespace:
                return False
            if pol.namespace_selector is not None and not pol.namespace_selector.matches(self._ns[c.namespace]):
                return False
            if pol.sa_selector is not None and not self._sa_match((), pol.sa_selector, c):
                return False
            return pol.selector.matches(self._labels[c.index])
        return self._classes(pred)

    def _in_scope(self, pol: CalicoPolicy, e: EntityRule, ns: str | None) -> bool:
        """Whether an endpoint of namespace ``ns`` (None: a non-namespaced one) is in the scope of ``e``'s
        selectors (calico-labels page: in a NetworkPolicy an empty namespaceSelector means "the same namespace
        as the network policy"; in a GlobalNetworkPolicy "any namespace and non-namespaced resources")."""
        if e.namespace_selector is not None:
            if ns is None:
                return e.namespace_selector.matches({}, namespaced=False)
            return e.namespace_selector.matches(self._ns.get(ns, {"projectcalico.org/name": ns}))
        if pol.namespace is not None:
            return ns == pol.namespace
        return True

    def entity_classes(self, pol: CalicoPolicy, e: EntityRule) -> int:
        if not e.selects_endpoints and not e.nets and not e.not_nets:
            return self.a.all_classes
        nets, not_nets = _addresses(e.nets), _addresses(e.not_nets)
        selector = e.selector if e.selector is not None else sel.All()

        def pred(c: PodClass) -> bool:
            labels = self._labels[c.index]
            if e.selects_endpoints:
                if not self._in_scope(pol, e, c.namespace) or not selector.matches(labels):
                    return False
                if e.not_selector is not None and e.not_selector.matches(labels):
                    return False
                if (e.sa_names or e.sa_selector is not None) and not self._sa_match(e.sa_names, e.sa_selector, c):
                    return False
            if e.nets and (c.ips is None or not (c.ips & nets)):
                return False
            return not (e.not_nets and c.ips is not None and not (c.ips - not_nets))
        return self._classes(pred)

    def entity_addresses(self, pol: CalicoPolicy, e: EntityRule) -> AddressSet:
        out = AddressSet.everything()
        if e.selector is not None or e.namespace_selector is not None or e.sa_selector is not None or e.sa_names:
            # only NetworkSets carry labels outside the cluster (networkset reference)
            selector = e.selector if e.selector is not None else sel.All()
            out = AddressSet()
            if e.sa_selector is None and not e.sa_names:
                for s, addrs in self.sets:
                    if self._in_scope(pol, e, s.namespace) and selector.matches(s.labels, s.namespace is not None):
                        out = out | addrs
        if e.not_selector is not None:
            for s, addrs in self.sets:
                if self._in_scope(pol, e, s.namespace) and e.not_selector.matches(s.labels, s.namespace is not None):
                    out = out - addrs
        if e.nets:
            out = out & _addresses(e.nets)
        if e.not_nets:
            out = out - _addresses(e.not_nets)
        return out

    def compile_rule(self, pol: CalicoPolicy, r: CalicoRule) -> CompiledCalicoRule:
        own_e, peer_e = (r.destination, r.source) if r.direction == Direction.INGRESS else (r.source, r.destination)
        own_unknown = self.sa_unknown if own_e.sa_selector is not None or pol.sa_selector is not None else 0
        peer_unknown = self.sa_unknown if peer_e.sa_selector is not None else 0
        unsure = bool(r.source.ports or r.source.not_ports or own_unknown or peer_unknown)
        return CompiledCalicoRule(pol, r, self.entity_classes(pol, own_e), self.entity_classes(pol, peer_e),
                                  self.entity_addresses(pol, peer_e), unsure, own_unknown, peer_unknown)

    def compile(self) -> list[CompiledTier]:
        by_tier: dict[str, list[CompiledPolicy]] = {}
        for pol, _ in self.objs.policies:
            applies = self.applies(pol)
            by_tier.setdefault(pol.tier, []).append(CompiledPolicy(
                pol, {d: applies if pol.applies(d) else 0 for d in DIRECTIONS},
                {d: [self.compile_rule(pol, r) for r in pol.rules(d)] for d in DIRECTIONS}))
        by_tier.setdefault(DEFAULT_TIER, []).append(CompiledPolicy(None, {}, {}))
        out = []
        for tier in self.objs.ordered_tiers():
            pols = by_tier.get(tier.name, [])
            pols.sort(key=lambda p: p.policy.sort_key() if p.policy else (K8S_POLICY_ORDER, "knp.default."))
            out.append(CompiledTier(tier, pols, placement(tier)))
        return out


def _addresses(nets: Iterable[object]) -> AddressSet:
    out = AddressSet()
    for n in nets:
        out = out | AddressSet.from_cidr(str(n))
    return out


def network_set_blocks(objs: CalicoObjects) -> list[tuple[str, AddressSet]]:
    """Every net the Calico objects write (rules' nets/notNets, NetworkSets' nets), as written: the
    external atoms are cut at them."""
    out: list[tuple[str, AddressSet]] = []
    for pol, _ in objs.policies:
        for r in pol.ingress + pol.egress:
            for e in (r.source, r.destination):
                out.extend((str(n), AddressSet.from_cidr(str(n))) for n in e.nets + e.not_nets)
    for s in objs.sets:
        out.extend((str(n), AddressSet.from_cidr(str(n))) for n in s.nets)
    return out


def network_set_names(objs: CalicoObjects) -> list[tuple[str, AddressSet]]:
    """Each (Global)NetworkSet's name and addresses: the external endpoints inside one carry its name
    (networkset / globalnetworkset reference: a set names a group of outside addresses)."""
    return [(f"{s.kind} {s.namespace + '/' if s.namespace else ''}{s.name}", a) for s, a in
            ((s, _addresses(s.nets)) for s in objs.sets) if a.intervals]


_KIND = {CalicoAction.ALLOW: ReasonKind.CALICO_ALLOW, CalicoAction.DENY: ReasonKind.CALICO_DENY,
         CalicoAction.PASS: ReasonKind.CALICO_PASS, CalicoAction.LOG: ReasonKind.CALICO_LOG}
EFFECTS = {ReasonKind.CALICO_ALLOW: Effect.ALLOW, ReasonKind.CALICO_DENY: Effect.DENY, ReasonKind.CALICO_PASS: Effect.PASS,
           ReasonKind.CALICO_LOG: Effect.NONE, ReasonKind.CALICO_TIER_DENY: Effect.DENY,
           ReasonKind.CALICO_TIER_PASS: Effect.PASS}
"""What each Calico reason kind does (pipeline.Reason.effect)."""


def tier_chain(a: Analyzer, d: Direction, own: int, where: Placement) -> Chain:
    """The tiers of one placement that apply to class ``own`` in direction ``d``, each with its applying
    policies in order (a tier without a policy applying to the endpoint is skipped)."""
    return a.calico_groups[d][own].at(where)


def decide_tiers(q: Query, open_: ConnSet, where: Placement | None = None,
                 chain: Chain | None = None) -> tuple[ConnSet, ConnSet]:
    """The tiers of one placement for ``q``, or the given ``chain``: accepted, denied ports."""
    from .pipeline import Reason

    a = q.analyzer
    d = q.direction
    accepted = denied = _NONE
    if chain is None:
        assert where is not None
        chain = tier_chain(a, d, q.own, where)
    for ct, selecting in chain:
        if not open_:
            break
        settled = _NONE
        for cp in selecting:
            if cp.policy is None:  # the Kubernetes NetworkPolicies (all rules Allow)
                for kr in a.rules_of[d][q.own]:
                    if not kr.matches(q.peer):
                        continue
                    conns = _open(kr.conns(q.named), open_, settled)
                    if q.trace is not None:
                        q.trace.append(Reason(d, ReasonKind.CALICO_ALLOW, conns, kr.policy, kr.rule, layer=f"Calico tier {ct.tier.name}",
                                              text=f"[{ct.tier.name} tier, order 1000] {kr.policy.id} {d} rule "
                                                   f"{kr.rule.index}: Allow -> {conns.describe()}"))
                    accepted = accepted | conns
                    settled = settled | conns
                continue
            for cr in cp.rules[d]:
                if cr.unsure and cr.may_match(q.own, q.peer):
                    q.uncertain = True
                if not cr.matches(q.own, q.peer):
                    continue
                conns = _open(cr.conns(q.named), open_, settled)
                action = cr.rule.action
                if q.trace is not None:
                    q.trace.append(Reason(d, _KIND[action], conns, layer=f"Calico tier {ct.tier.name}",
                                          text=_rule_text(ct.tier, cr, conns), calico=(cr.policy.id, cr.rule.index)))
                if action is CalicoAction.LOG or not conns:
                    continue
                if action is CalicoAction.ALLOW:
                    accepted = accepted | conns
                elif action is CalicoAction.DENY:
                    denied = denied | conns
                settled = settled | conns
        rest = open_ - settled if settled else open_
        if rest:
            deny = ct.tier.default_action is CalicoAction.DENY
            if deny:
                denied = denied | rest
            if q.trace is not None:
                names = ", ".join(cp.policy.id if cp.policy else "Kubernetes NetworkPolicies" for cp in selecting)
                q.trace.append(Reason(d, ReasonKind.CALICO_TIER_DENY if deny else ReasonKind.CALICO_TIER_PASS, rest,
                                      layer=f"Calico tier {ct.tier.name}", calico=(f"Tier {ct.tier.name}", -1),
                                      calico_policies=tuple(cp.policy.id for cp in selecting if cp.policy),
                                      text=f"end of tier {ct.tier.name} (it applies through {names}): no rule decided "
                                           f"{rest.describe()}: defaultAction {ct.tier.default_action.value}"))
        if accepted or denied:
            open_ = open_ - (accepted | denied)
    return accepted, denied


def _open(conns: ConnSet, open_: ConnSet, settled: ConnSet) -> ConnSet:
    """``conns`` still open: in ``open_``, not ``settled`` (skipping the set operations that change nothing)."""
    if not open_.is_all():
        conns = conns & open_
    return conns - settled if settled else conns


def _rule_text(tier: Tier, cr: CompiledCalicoRule, conns: ConnSet) -> str:
    r, p = cr.rule, cr.policy
    order = "no order" if p.order is None else f"order {p.order:g}"
    peer = r.source if r.direction == Direction.INGRESS else r.destination
    ports = ", ".join(pm.describe() for pm in r.destination.ports) or "any"
    proto = r.protocol or "any protocol"
    unsure = (" (source ports, or the labels of a ServiceAccount the input does not hold, are assumed to match: "
              "uncertain)") if cr.unsure else ""
    if not conns:
        unsure += " (every port it names was decided before it)"
    return (f"[{tier.name} tier] {p.id} ({order}) {r.direction} rule {r.index}: {r.action.value} "
            f"{peer.describe()}; {proto} ports {ports} -> {conns.describe()}{unsure}")
