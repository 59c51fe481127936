"""Provides the Cilium layer: CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy rules compiled onto the
analyzer's pod classes and external atoms, and the pipeline's Cilium deny tier.

How Cilium combines with the other layers (docs.cilium.io, "Deny Policies" and "Policy Enforcement
Modes"; see model.cilium):

- Allow rules join the NetworkPolicy tier: an endpoint is default-deny in a direction when any Kubernetes
  NetworkPolicy or any Cilium policy with enableDefaultDeny (default: it has rules in that direction)
  selects it, and it then allows the union of every allow rule of every policy selecting it (Cilium rules
  with enableDefaultDeny false still add to that union). So the compiled allow rules go into the
  analyzer's ``rules_of`` and the isolating ones into ``isolating``, next to the NetworkPolicies.
- Deny rules (ingressDeny/egressDeny) are a tier of their own, evaluated first: "Deny policies take
  precedence over allow policies, regardless of whether they are a Cilium Network Policy, a Clusterwide
  Cilium Network Policy or even a Kubernetes Network Policy."
- Entities: ``all`` is every pod and every outside address; ``world`` every outside address
  (``world-ipv4``/``-ipv6`` one family); ``cluster`` every pod, hostNetwork pods included (they are the
  host or a remote node); ``host`` and ``remote-node`` each hold the hostNetwork pods of one node or the
  others: which one a hostNetwork pod is depends on placement, so alone they leave those verdicts
  uncertain, together they match them; ``kube-apiserver`` may be hostNetwork pods or an outside address:
  uncertain; ``health``, ``init``, ``ingress`` and ``unmanaged`` are not endpoints of the model.
- CIDR peers (fromCIDR, toCIDR, CIDRSet, CIDR groups) match outside addresses only: "CIDR rules do not
  apply to traffic where both sides of the connection are either managed by Cilium or use an IP belonging
  to a node in the cluster" (language reference, "CIDR based").
- toFQDNs, toServices, toGroups, toNodes, fromRequires/toRequires and io.cilium.k8s.policy.cluster
  selectors are not evaluated: they match nothing, and every verdict they could change is uncertain.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..model.addresses import AddressSet
from ..model.cilium import (CCNP_KIND, CLUSTER_LABEL, NAMESPACE_LABEL, NS_LABELS_PREFIX, SERVICE_ACCOUNT_LABEL, CiliumPeer,
                            CiliumPolicy, CiliumRule, CiliumSelector, Entity, FqdnSelector, PeerKind)
from ..model.ports import ConnSet, NamedPorts
from ..model.selectors import LabelSelector
from ..vocab import DIRECTIONS, Direction, ReasonKind
from .atoms import ExternalAtom, FqdnAtom
from .compiled import CompiledRule, peer_matches

if TYPE_CHECKING:
    from .k8s import Analyzer
    from .matrix import Cell
    from .pipeline import Query

_NONE = ConnSet.none()
_V4 = AddressSet.from_cidr("0.0.0.0/0")
_V6 = AddressSet.from_cidr("::/0")
_WORLD = {Entity.WORLD: _V4 | _V6, Entity.WORLD_V4: _V4, Entity.WORLD_V6: _V6, Entity.ALL: _V4 | _V6}


@dataclass
class CompiledCiliumRule(CompiledRule):
    """A Cilium rule: a CompiledRule (the NetworkPolicy tier and the matrix use it as one) with the peers
    it could match but which are not evaluated."""

    # It stands in the NetworkPolicy tier's lists as a CompiledRule (the same matching and port logic: RulePorts),
    # but its policy and rule are Cilium's: the narrower types are this class's own.
    policy: CiliumPolicy  # type: ignore[assignment]
    rule: CiliumRule  # type: ignore[assignment]
    unsure_classes: int = 0
    unsure_external: bool = False
    fqdns: tuple[FqdnSelector, ...] = ()
    """Its toFQDNs names and patterns: it matches the fqdn: endpoints they cover (engine.atoms.FqdnAtom)."""

    def matches(self, peer: int | ExternalAtom) -> bool:
        if self.fqdns and isinstance(peer, FqdnAtom) and any(f.covers(peer.selector) for f in self.fqdns):
            return True
        return peer_matches(self.classes, self.addresses, peer)

    def may_match(self, peer: int | ExternalAtom) -> bool:
        if isinstance(peer, int):
            return bool(self.unsure_classes & (1 << peer))
        if isinstance(peer, FqdnAtom):  # a toFQDNs name: another name or pattern may share its addresses
            if any(f.covers(peer.selector) for f in self.fqdns):
                return False
            return self.unsure_other or any(f.overlaps(peer.selector) for f in self.fqdns)
        return self.unsure_external

    @property
    def unsure_other(self) -> bool:
        """Unevaluated peers besides toFQDNs (services, groups, kube-apiserver) that could hold outside addresses."""
        return self.unsure_external and any(p.fqdn is None and p.kind is not PeerKind.CIDR and p.kind is not
                                            PeerKind.ENDPOINTS for p in self.rule.peers or ())

    @property
    def unsure(self) -> bool:
        return self.unsure_external or bool(self.unsure_classes)


class _PerClass(dict[int, list[CompiledCiliumRule]]):
    """Class index -> rules, holding only the classes that have some (an absent class reads as empty)."""

    def __missing__(self, key: int) -> list[CompiledCiliumRule]:
        return []


class CiliumLayer:
    """The compiled Cilium policies of one analyzer."""

    def __init__(self, a: Analyzer):
        self.a = a
        self._labels: dict[int, dict[str, str]] = {}
        self._sel_cache: dict[tuple[LabelSelector, str | None], int] = {}
        self.host_classes = sum(1 << c.index for c in a.classes if c.host_network)
        self.pod_classes = a.all_classes & ~self.host_classes
        self.deny: dict[str, _PerClass] = {d: _PerClass() for d in DIRECTIONS}
        """Direction -> class -> its Cilium deny rules (``()`` for a class without any)."""
        self.unsure: dict[str, _PerClass] = {d: _PerClass() for d in DIRECTIONS}
        """Direction -> class -> its Cilium rules with unevaluated peers."""
        self.egress_reach: list[tuple[int, CompiledCiliumRule]] = []
        """(subject classes, rule) of every egress allow rule: the matrix's reverse index."""
        self.selects: dict[str, int] = {}
        self.touches: dict[str, int] = {}
        """Policy id -> the classes whose verdicts it can decide (selected, or maybe selected: service accounts)."""
        self.compiled: dict[tuple[str, str, int], CompiledCiliumRule] = {}
        self.has_deny = False
        for entry in a.cluster.cilium:
            self._add(entry.policy)
        self.layered = self.has_deny or any(self.unsure[d] for d in DIRECTIONS)
        """Denies or unevaluated peers: the matrix must go through the whole pipeline."""

    # ------------------------------------------------------------------ selectors
    def class_labels(self, i: int) -> dict[str, str]:
        """A pod class's Cilium labels: its own, its namespace's name, its namespace's labels and its service
        account. docs.cilium.io, "Using Kubernetes Constructs In Policy", "ServiceAccounts": policies select a
        pod's service account (serviceAccountName) by the label io.cilium.k8s.policy.serviceaccount; classes
        carry it when some Cilium policy names it (Analyzer classes pods by service account then)."""
        hit = self._labels.get(i)
        if hit is None:
            c = self.a.classes[i]
            hit = dict(c.labels)
            hit[NAMESPACE_LABEL] = c.namespace
            if c.service_account:
                hit[SERVICE_ACCOUNT_LABEL] = c.service_account
            for k, v in self.a.ns_labels.get(c.namespace, {}).items():
                hit[NS_LABELS_PREFIX + k] = v
            self._labels[i] = hit
        return hit

    def _match(self, sel: LabelSelector, namespace: str | None) -> int:
        """Bitset of the (non-hostNetwork) classes ``sel`` selects, in ``namespace`` or everywhere."""
        key = (sel, namespace)
        hit = self._sel_cache.get(key)
        if hit is None:
            a = self.a
            pool = a.by_namespace.get(namespace, ()) if namespace is not None else range(len(a.classes))
            hit = 0
            for i in pool:  # (a class no workload belongs to any more, after incremental updates, never)
                if not a.classes[i].host_network and a.class_workloads[i] and sel.matches(self.class_labels(i)):
                    hit |= 1 << i
            self._sel_cache[key] = hit
        return hit

    def _selector(self, sel: CiliumSelector, namespace: str | None, *, force_namespace: bool = False) -> tuple[int, int]:
        """(classes, unsure classes) of an endpoint selector; ``namespace`` limits it unless it names one
        (pkg/k8s/utils getEndpointSelector: only an io.kubernetes.pod.namespace key lifts the limit; namespace
        *labels* do not)."""
        ns = None if sel.names_namespace and not force_namespace else namespace
        if sel.cluster:  # the cluster's name is not known offline: the pods it could select are uncertain
            rest = LabelSelector(tuple(r for r in sel.selector.requirements if r.key != CLUSTER_LABEL))
            return 0, self._match(rest, ns)
        return self._match(sel.selector, ns), 0

    # ------------------------------------------------------------------ compiling
    def _add(self, pol: CiliumPolicy) -> None:
        a = self.a
        if pol.subject is None or pol.subject.entity is not None:
            self.selects[pol.id] = 0  # a host policy: not evaluated (Cluster.notes says so)
            return
        ns = None if pol.kind == CCNP_KIND else pol.namespace
        # a CNP's endpointSelector always applies in the policy's namespace: the agent adds the namespace
        # match and drops a different one with a warning (pkg/k8s/utils ParseToCiliumRule: "EndpointSelector
        # always applies in namespace of the policy resource")
        subject, unsure_subject = self._selector(pol.subject, ns, force_namespace=True)
        self.selects[pol.id] = subject
        self.touches[pol.id] = subject | unsure_subject
        for d in DIRECTIONS:
            allows = [self._compile(pol, r) for r in pol.rules(d)]
            denies = [self._compile(pol, r) for r in pol.deny_rules(d)]
            self.has_deny = self.has_deny or bool(denies and subject)
            for i in _bits(subject):
                if pol.affects(d):
                    a.isolating[d][i].append(pol)
                a.rules_of[d][i].extend(allows)
                if denies:
                    self.deny[d].setdefault(i, []).extend(denies)
                unsure = [cr for cr in allows + denies if cr.unsure]
                if unsure:
                    self.unsure[d].setdefault(i, []).extend(unsure)
            if d == Direction.EGRESS and subject:
                self.egress_reach.extend((subject, cr) for cr in allows)
            if unsure_subject and (allows or denies or pol.affects(d)):
                # the subject itself is not known (cluster name): its verdicts are uncertain
                for i in _bits(unsure_subject):
                    self.unsure[d].setdefault(i, []).append(CompiledCiliumRule(pol, _ANY_RULE, 0, AddressSet(), False, _NONE,
                                                                unsure_classes=a.all_classes, unsure_external=True))
            for cr in allows + denies:
                self._mark_unsure(d, subject, cr)

    def replace_policies(self, old_ids: set[str], new: list[CiliumPolicy]) -> None:
        """Take the rule objects ``old_ids`` out of every list they were filed in and compile ``new`` (a CNP/CCNP
        event), keeping the other policies' compiled rules: classes do not change on such an event."""
        a = self.a
        gone = {id(cr) for k, cr in self.compiled.items() if k[0] in old_ids}
        for pid in old_ids:
            bits = self.touches.pop(pid, 0)
            self.selects.pop(pid, None)
            for d in DIRECTIONS:
                for i in _bits(bits):
                    if a.rules_of[d][i]:
                        a.rules_of[d][i] = [cr for cr in a.rules_of[d][i] if id(cr) not in gone]
                    if a.isolating[d][i]:
                        a.isolating[d][i] = [p for p in a.isolating[d][i]
                                             if not (isinstance(p, CiliumPolicy) and p.id in old_ids)]
                    for table in (self.deny[d], self.unsure[d]):
                        lst = table.get(i)
                        if lst:
                            kept = [cr for cr in lst if cr.policy.id not in old_ids]
                            if kept:
                                table[i] = kept
                            else:
                                del table[i]
        self.egress_reach = [(s, cr) for s, cr in self.egress_reach if id(cr) not in gone]
        self.compiled = {k: cr for k, cr in self.compiled.items() if k[0] not in old_ids}
        for pol in new:
            self._add(pol)
        self.has_deny = any(self.deny[d] for d in DIRECTIONS)
        self.layered = self.has_deny or any(self.unsure[d] for d in DIRECTIONS)
        a.unsure_to = dict(a._unsure_before_cilium)  # the uncertain cells again, from the rules now compiled
        for (pid, _, _), cr in self.compiled.items():
            if cr.unsure:
                self._mark_unsure(cr.rule.direction, self.selects.get(pid, 0), cr)

    def _mark_unsure(self, d: Direction, subject: int, cr: CompiledCiliumRule) -> None:
        """The matrix's uncertain cells (Analyzer.unsure_to: source class -> destination classes)."""
        if not cr.unsure:
            return
        ut = self.a.unsure_to
        if d == Direction.EGRESS:
            for i in _bits(subject):
                ut[i] = ut.get(i, 0) | cr.unsure_classes
        else:
            for u in _bits(cr.unsure_classes):
                ut[u] = ut.get(u, 0) | subject

    def _compile(self, pol: CiliumPolicy, rule: CiliumRule) -> CompiledCiliumRule:
        a = self.a
        ns = None if pol.kind == CCNP_KIND else pol.namespace
        if rule.peers is None:  # toPorts without an L3 peer: every peer
            cr = CompiledCiliumRule(pol, rule, a.all_classes, AddressSet.everything(), True, rule.static_conns())
        else:
            bits = unsure = 0
            addrs = AddressSet()
            unsure_ext = False
            ents = {p.entity for p in rule.peers if p.kind is PeerKind.ENTITY and p.entity is not None}
            ents |= {p.selector.entity for p in rule.peers if p.selector is not None and p.selector.entity}
            for p in rule.peers:
                b, u, ad, ue = self._peer(p, ns, ents)
                bits |= b
                unsure |= u
                addrs = addrs | ad
                unsure_ext = unsure_ext or ue
            fqdns = tuple(p.fqdn for p in rule.peers if p.fqdn is not None)
            cr = CompiledCiliumRule(pol, rule, bits, addrs, False, rule.static_conns(), unsure_classes=unsure & ~bits,
                                    unsure_external=unsure_ext, fqdns=fqdns)
        self.compiled[(pol.id, rule.section or rule.direction, rule.index)] = cr
        return cr

    def _peer(self, p: CiliumPeer, ns: str | None, ents: set[Entity]) -> tuple[int, int, AddressSet, bool]:
        """(classes, unsure classes, outside addresses, unsure outside) of one peer."""
        empty = AddressSet()
        if p.kind is PeerKind.ENDPOINTS and p.selector is not None and p.selector.entity is None:
            b, u = self._selector(p.selector, ns)
            return b, u, empty, False
        if p.kind is PeerKind.CIDR and p.addresses is not None:
            return 0, 0, p.addresses, False
        ent = p.entity if p.kind is PeerKind.ENTITY else (p.selector.entity if p.selector is not None else None)
        if ent is not None:
            return self._entity(ent, ents)
        if p.kind is PeerKind.SERVICE:  # a Service's backends may be pods or outside addresses
            return 0, self.a.all_classes, empty, True
        return 0, self.host_classes, empty, True  # FQDN, groups, nodes, requires

    def _entity(self, e: Entity, ents: set[Entity]) -> tuple[int, int, AddressSet, bool]:
        empty = AddressSet()
        host = self.host_classes
        if e is Entity.ALL:
            return self.a.all_classes, 0, _WORLD[e], False
        if e in _WORLD:
            return 0, 0, _WORLD[e], False
        if e is Entity.CLUSTER:
            return self.a.all_classes, 0, empty, False
        if e in (Entity.HOST, Entity.REMOTE_NODE):
            both = {Entity.HOST, Entity.REMOTE_NODE} <= ents or Entity.CLUSTER in ents or Entity.ALL in ents
            return (host, 0, empty, False) if both else (0, host, empty, False)
        if e is Entity.KUBE_APISERVER:
            return 0, host, empty, True
        return 0, 0, empty, False  # health, init, ingress, unmanaged: not endpoints of the model

    # ------------------------------------------------------------------ L7
    def l7_ports(self, direction: Direction, own: int, peer: int | ExternalAtom, named: NamedPorts) -> ConnSet:
        """The ports of ``own``'s ``direction`` with ``peer`` that pass only the requests some L7 rule lists:
        opened by a matching allow rule with L7 rules and named by no matching rule without.

        Rules are a union, and an L4-only allow on the same port lets every request through: "If a layer 4
        rule is specified in the policy, and a similar layer 4 rule with layer 7 rules is also specified,
        then the layer 7 portions of the latter rule will have no effect" (docs.cilium.io, "Layer 7
        Policies"); Kubernetes NetworkPolicy rules count as such L4 rules. Only a rule that names the port
        is "similar": an allow of every port (an L3-only rule, port 0) and the default of an endpoint that
        no policy makes default-deny leave the port's L7 rules in force (the datapath looks the
        port-specific proxy entry up first; an L7 rule in a policy with enableDefaultDeny false is the
        documented way to see DNS without dropping anything else)."""
        return self.l7_filter(direction, own, peer, named)[0]

    def l7_filter(self, direction: Direction, own: int, peer: int | ExternalAtom,
                  named: NamedPorts) -> tuple[ConnSet, tuple[str, ...]]:
        """:meth:`l7_ports` and the requests the L7 rules that filter them allow."""
        l7 = _NONE
        hits = []
        filtering = []
        for cr in self.a.rules_of[direction][own]:
            if cr.matches(peer):
                hits.append(cr.rule)
                if isinstance(cr, CompiledCiliumRule) and cr.rule.l7:
                    c = cr.conns(named)
                    l7 = l7 | c
                    filtering.append((c, cr.rule.l7))
        if not l7:
            return l7, ()
        lifted = l4_named_ports(hits, named)
        texts = tuple(dict.fromkeys(t for c, ts in filtering if c - lifted for t in ts))
        return l7 - lifted, texts

    def mark_l7(self, cells: dict[tuple[str, str], Cell], keep: set[str]) -> None:
        """Mark the matrix cells (workload ids) some of whose ports pass only listed L7 requests
        ('L7-filtered', :meth:`l7_ports` in the direction of an L7 rule that matches the pair)."""
        a = self.a
        pairs: dict[tuple[int | ExternalAtom, int | ExternalAtom], set[Direction]] = {}
        external: list[ExternalAtom] = [*a.atoms, *a.fqdn_atoms]
        for (pol_id, _, _), cr in self.compiled.items():
            if not cr.rule.l7 or cr.rule.deny:
                continue
            subject = self.selects.get(pol_id, 0)
            hit: list[int | ExternalAtom] = [x for x in (external if cr.rule.direction == Direction.EGRESS else a.atoms) if cr.matches(x)] \
                if cr.addresses.intervals or cr.fqdns else []
            for own in _bits(subject):
                for peer in [*_bits(cr.classes), *hit]:
                    pair: tuple[int | ExternalAtom, int | ExternalAtom] = (own, peer) if cr.rule.direction == Direction.EGRESS else (peer, own)
                    pairs.setdefault(pair, set()).add(cr.rule.direction)
        names: dict[int, list[str]] = {}
        memo: dict[tuple[Direction, tuple[int, ...], int | str, frozenset[tuple[str, str, int]]],
                   tuple[ConnSet, tuple[str, ...]]] = {}
        rules_key: dict[tuple[Direction, int], tuple[int, ...]] = {}
        for (src, dst), sections in pairs.items():
            ids = [(s_id, d_id) for s_id in self._ids(src, keep, names) for d_id in self._ids(dst, keep, names)
                   if (s_id, d_id) in cells and not cells[(s_id, d_id)].l7]
            if not ids:  # denied, already marked, or not in this (partial) matrix
                continue
            ports = _NONE
            texts: tuple[str, ...] = ()
            named: frozenset[tuple[str, str, int]] = a.classes[dst].named_ports if isinstance(dst, int) else frozenset()
            for d in sections:
                subject_end, peer_end = (src, dst) if d == Direction.EGRESS else (dst, src)
                assert isinstance(subject_end, int)
                rk = rules_key.get((d, subject_end))
                if rk is None:
                    rk = rules_key[(d, subject_end)] = tuple(map(id, a.rules_of[d][subject_end]))
                mkey = (d, rk, peer_end if isinstance(peer_end, int) else peer_end.id, named)
                got = memo.get(mkey)
                if got is None:  # classes with the same rules share the answer
                    got = memo[mkey] = self.l7_filter(d, subject_end, peer_end, named)
                ports, texts = ports | got[0], texts + got[1]
            if not ports:
                continue
            texts = tuple(dict.fromkeys(texts))
            for key in ids:
                cell = cells[key]
                if cell.conns & ports:
                    cells[key] = replace(cell, l7=True, l7_requests=texts)

    def _ids(self, end: int | ExternalAtom, keep: set[str], memo: dict[int, list[str]]) -> list[str]:
        """The matrix ids of a class's workloads (those in ``keep``) or of an external endpoint."""
        if not isinstance(end, int):
            return [end.id]
        hit = memo.get(end)
        if hit is None:
            hit = memo[end] = [i for i in (w.id for w in self.a.class_workloads[end]) if i in keep]
        return hit

    # ------------------------------------------------------------------ the matrix's deny pass
    def deny_conns(self, direction: Direction, own: int, peer: int | ExternalAtom, named: NamedPorts) -> ConnSet:
        out = _NONE
        for cr in self.deny[direction][own]:
            if cr.matches(peer):
                out = out | cr.conns(named)
        return out

    def subtract_denies(self, pairs: dict[tuple[int, int], ConnSet]) -> dict[tuple[int, int], ConnSet]:
        """The class matrix (source, destination) -> ports without what a deny rule denies."""
        if not self.has_deny:
            return pairs
        out = {}
        for (s, d), conns in pairs.items():
            named = self.a.classes[d].named_ports
            conns = conns - self.deny_conns(Direction.EGRESS, s, d, named) - self.deny_conns(Direction.INGRESS, d, s, named)
            if conns:
                out[(s, d)] = conns
        return out


_ANY_RULE = CiliumRule(Direction.INGRESS, 0, False, (), None, (), (), "subject")


def _bits(bits: int) -> Iterator[int]:
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


def deny_tier(q: Query, open_: ConnSet) -> tuple[ConnSet, ConnSet]:
    """The Cilium deny tier: the ports any matching ingressDeny/egressDeny rule names are denied; it also
    records the Cilium rules that could decide but are not evaluated (the verdict is then uncertain)."""
    from .pipeline import Layer, Reason

    layer = q.analyzer.cilium
    if layer is None:
        return _NONE, _NONE
    if isinstance(q.peer, FqdnAtom):
        q.uncertain = True
        if q.trace is not None:
            q.trace.append(Reason(q.direction, ReasonKind.UNEVALUATED, _NONE, layer=Layer.CILIUM_DENY.value,
                                  text=FQDN_TEXT.format(q.peer.id)))
    for cr in layer.unsure[q.direction][q.own]:
        if cr.may_match(q.peer):
            q.uncertain = True
            if q.trace is not None:
                q.trace.append(Reason(q.direction, ReasonKind.UNEVALUATED, _NONE, layer=Layer.CILIUM_DENY.value,
                                      text=unsure_text(cr)))
    denied = _NONE
    for cr in layer.deny[q.direction][q.own]:
        if not cr.matches(q.peer):
            continue
        conns = cr.conns(q.named) & open_
        if q.trace is not None:
            via = "every peer" if cr.all_peers else " or ".join(p.describe(cr.policy.namespace) for p in cr.rule.peers or ())
            q.trace.append(Reason(q.direction, ReasonKind.CILIUM_DENY, conns, cr.policy, cr.rule, layer=Layer.CILIUM_DENY.value,
                                  text=f"{cr.policy.id} {cr.rule.section} rule {cr.rule.index}: deny {via}; "
                                       f"ports {cr.rule.describe_ports()} -> {conns.describe()}"))
        denied = denied | conns
    return _NONE, denied


FQDN_TEXT = ("{}: its addresses are the DNS answers at run time (Cilium learns them through its DNS proxy, which "
             "sees only lookups an egress rule with L7 dns rules sends it): the verdict is uncertain; address rules "
             "match it only when they hold every IPv4 address")


def unsure_text(cr: CompiledCiliumRule) -> str:
    r = cr.rule
    if r.section == "subject":
        return (f"{cr.policy.id} selects by io.cilium.k8s.policy.cluster (the cluster's name is not known offline): it may select "
                "this pod; the verdict is uncertain")
    what = " or ".join(p.describe(cr.policy.namespace) for p in r.peers or ()
                       if p.kind in (PeerKind.FQDN, PeerKind.SERVICE, PeerKind.GROUP, PeerKind.ENTITY)
                       or (p.selector is not None and (p.selector.cluster or p.selector.entity)))
    return (f"{cr.policy.id} {r.section} rule {r.index}: {what or 'a peer'} is not evaluated (its members are not "
            "known offline); it could decide here: the verdict is uncertain")


def l4_named_ports(rules: list[Any], named: NamedPorts) -> ConnSet:
    """The ports that rules without L7 rules name one by one (the "similar layer 4 rule" that lifts an L7
    filter: :meth:`CiliumLayer.l7_ports`)."""
    out = _NONE
    for r in rules:
        if getattr(r, "l7", ()) or getattr(r, "ports", None) is None:
            continue
        for ps in r.ports:
            if ps.port is not None:
                out = out | ps.resolve(named)
    return out


def l7_text(rule: object, conns: ConnSet = _NONE, l4: ConnSet = _NONE) -> str:
    """'; L7-filtered (only these requests): http GET /api/.*, ...' for a Cilium rule with L7 rules ('' otherwise);
    where an L4-only rule names the same ports (``l4``), says that those pass every request."""
    l7 = getattr(rule, "l7", ())
    if not l7:
        return ""
    lifted = conns & l4
    if not lifted:
        return f"; L7-filtered (only these requests): {', '.join(l7)}"
    rest = conns - l4
    head = f"; L7-filtered on {rest.describe()} (only these requests): {', '.join(l7)}" if rest else \
        f"; its L7 rules ({', '.join(l7)}) have no effect"
    return (f"{head}; on {lifted.describe()} an L4 rule without L7 rules also allows this peer, so every request "
            "passes (docs.cilium.io, Layer 7 Policies: the L7 portions of the latter rule have no effect)")
