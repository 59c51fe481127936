"""Provides the Kubernetes NetworkPolicy engine: verdicts, explanations and the matrix.

Semantics (Kubernetes API reference, networking.k8s.io/v1 NetworkPolicy, and the concepts page
"Network Policies"):
- A pod is isolated for ingress (egress) when at least one policy in its namespace selects it and has
  Ingress (Egress) in its policyTypes. A pod that is not isolated in a direction allows everything in it.
- An isolated pod allows the union of the rules of every policy that selects it (policies are additive).
- A connection needs both the source's egress and the destination's ingress to allow it.
- A peer with only podSelector selects pods in the policy's namespace; with only namespaceSelector,
  every pod of the selected namespaces; with both, the selected pods of the selected namespaces; an
  ipBlock selects addresses outside the cluster (by default; see ``Options.ipblock_matches_pods``).
- hostNetwork pods: "NetworkPolicy behaviour for hostNetwork pods is undefined"; the most common
  implementation ignores them when matching selectors and treats their traffic as the node's. That is
  the default here: no policy selects or isolates them, and no pod/namespace selector matches them.

Cluster-wide admin policies (ClusterNetworkPolicy v1alpha2, v1alpha1 ANP/BANP) and the NetworkPolicies
are layers of one decision pipeline (engine.pipeline, the only place their precedence lives). This
module is the analyzer facade: the pod class index and selector matching, compiling policies into
bitset rules (engine.compiled), the external address atoms (engine.atoms), the matrix, and the public
methods incremental updates use (engine.incremental).

Scale: pods with the same namespace, labels, named ports and hostNetwork flag are indistinguishable to
every policy, so everything is computed per such class; selector results are cached; peer sets are
int bitsets over classes.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from ..model.addresses import V4_MAX, AddressSet, address_int
from ..model.admin import AdminPolicy, AdminRule
from ..model.cilium import CiliumEntry, CiliumPolicy
from ..model.cilium import uses_service_accounts as cilium_uses_service_accounts
from ..model.cluster import Cluster, Member, Workload
from ..model.istio import MeshOptions
from ..model.policy import NetworkPolicy, Peer, Rule
from ..model.ports import ConnSet, NamedPorts
from ..model.selectors import LabelSelector
from ..vocab import DIRECTIONS, Direction, ReasonKind
from .atoms import AtomIndex, ExternalAtom, FqdnAtom, fqdn_atoms
from .compiled import CompiledAdminRule, CompiledRule
from .matrix import Cell, Endpoint, Matrix
from .calico import CalicoCompiler, Chain, ClassGroup, class_groups, decide_tiers
from .pipeline import DirectionVerdict, Query, Reason, Verdict, allowed, decide

__all__ = ["DIRECTIONS", "Analyzer", "CompiledAdminRule", "CompiledRule", "DirectionVerdict", "ExternalAtom",
           "Options", "PodClass", "Reason", "Verdict", "iter_bits"]


@dataclass(frozen=True)
class Options:
    ipblock_matches_pods: bool = False
    """Let ipBlock peers also match pod IPs (some CNIs do); default: only addresses outside the cluster."""
    hostnetwork_as_pods: bool = False
    """Apply policies to hostNetwork pods like ordinary pods; default: policies do not apply to them."""
    uncertain_namespaces: frozenset[str] = frozenset()
    """Namespaces whose policies are unknown: every verdict involving their pods is uncertain."""
    all_uncertain: bool = False
    mesh: MeshOptions = MeshOptions()
    """The service mesh's root namespace and trust domain (engine/mesh.py)."""


@dataclass(frozen=True)
class PodClass:
    """Pods that every policy treats alike."""

    index: int
    namespace: str
    labels: dict[str, str]
    named_ports: NamedPorts
    host_network: bool
    ips: AddressSet | None
    networks: frozenset[int] = frozenset()
    """Indices into ``Analyzer.admin_networks`` of the admin ``networks`` peers that hold these pods' IPs."""
    service_account: str = ""
    """The pods' service account, where a Calico policy selects by service account ('' otherwise: then it
    is no part of the class)."""


def _admin_network_sets(cluster: Cluster) -> list[AddressSet]:
    """The distinct ``networks`` peers of every admin policy's rules (pods are classed by them)."""
    sets: list[AddressSet] = []
    for entry in cluster.admin_policies:
        for rule in entry.policy.rules(Direction.EGRESS) + entry.policy.rules(Direction.INGRESS):
            for p in rule.peers:
                if p.networks is not None and p.networks not in sets:
                    sets.append(p.networks)
    return sets


class Analyzer:
    """The NetworkPolicy engine over one Cluster."""

    def __init__(self, cluster: Cluster, options: Options | None = None):
        self.cluster = cluster
        self.options = options or Options()
        self.ns_labels = {name: ns.labels for name, ns in cluster.namespaces.items()}
        self._build_classes()
        self._compile_policies()
        self._compile_admin()
        self._compile_cilium()
        self._build_atoms()

    # ------------------------------------------------------------------ classes
    def _build_classes(self) -> None:
        self.admin_networks = _admin_network_sets(self.cluster)
        self.by_service_account = (self.cluster.calico.uses_service_accounts
                                    or cilium_uses_service_accounts([e.policy for e in self.cluster.cilium]))
        """Pods are classed by service account too (a Calico or Cilium policy selects by it; fixed for this
        analyzer: a Calico change, or a Cilium change that needs it, rebuilds the live model)."""
        self._class_keys: dict[tuple[Any, ...], int] = {}
        self._key_of: list[tuple[Any, ...]] = []
        self.classes: list[PodClass] = []
        self.workload_classes: dict[str, list[int]] = {}
        self.class_workloads: list[list[Workload]] = []
        self.class_members: dict[tuple[str, int], list[Member]] = {}
        self.by_namespace: dict[str, list[int]] = {}
        for w in self.cluster.workloads:
            self._add_workload(w)
        self.all_classes = (1 << len(self.classes)) - 1
        self.ip_classes = [c for c in self.classes if c.ips is not None]

    def _add_workload(self, w: Workload) -> list[int]:
        """Register a workload's members into classes; returns the indices of classes it created."""
        created: list[int] = []
        idxs: list[int] = []
        for m in w.members:
            i = self._class_of(m, created)
            if i not in idxs:
                idxs.append(i)
                self.class_workloads[i].append(w)
            self.class_members.setdefault((w.id, i), []).append(m)
        self.workload_classes[w.id] = idxs
        return created

    def classes_of(self, w: Workload) -> list[int]:
        """The pod classes of a workload; of a one-Pod view (``Workload.pod_view``), that pod's class."""
        idxs = self.workload_classes[w.id]
        if w.only_pod is None or len(idxs) == 1:
            return idxs
        mine = [i for i in idxs if any(m.name == w.only_pod for m in self.class_members.get((w.id, i), ()))]
        return mine or idxs

    def _class_of(self, m: Member, created: list[int]) -> int:
        host = m.host_network and not self.options.hostnetwork_as_pods
        # a hostNetwork pod's address is its node's, outside the pod network: ipBlocks can match it
        by_ip = self.options.ipblock_matches_pods or host
        nets = self._networks_holding(m)
        sa = m.service_account if self.by_service_account else ""
        key = (m.namespace, m.labels, m.named_ports, host, m.ips if by_ip else (), nets, sa)
        i = self._class_keys.get(key)
        if i is None:
            i = self._class_keys[key] = len(self.classes)
            self._key_of.append(key)
            ips = None
            if by_ip and m.ips:
                ips = AddressSet()
                for ip in m.ips:
                    ips = ips | AddressSet.from_cidr(ip + ("/128" if ":" in ip else "/32"))
            self.classes.append(PodClass(i, m.namespace, dict(m.labels), m.named_ports, host, ips, nets, sa))
            self.class_workloads.append([])
            self.by_namespace.setdefault(m.namespace, []).append(i)
            created.append(i)
        return i

    def _networks_holding(self, m: Member) -> frozenset[int]:
        """The admin ``networks`` peers that hold a pod's address. network-policy-api: "cluster-internal
        traffic will be checked against the rule as well. So if you Allow or Deny traffic to "0.0.0.0/0",
        that will allow or deny all IPv4 pod-to-pod traffic as well". A pod whose IPs the input does not
        give is taken as an IPv4 address that only a peer covering all of IPv4 surely holds."""
        if not self.admin_networks:
            return frozenset()
        if m.ips:
            mine = AddressSet((address_int(ip), address_int(ip)) for ip in m.ips)
            return frozenset(j for j, n in enumerate(self.admin_networks) if n & mine)
        return frozenset(j for j, n in enumerate(self.admin_networks) if n.contains_interval(0, V4_MAX))

    # ------------------------------------------------------------------ selectors
    def _namespaces_matching(self, sel: LabelSelector) -> list[str]:
        key = ("ns", sel)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = [n for n, labels in self.ns_labels.items() if sel.matches(labels)]
        return hit

    def _pods_matching(self, namespace: str, sel: LabelSelector | None) -> int:
        """Bitset of the classes in ``namespace`` that ``sel`` selects (None: all; see ``pod_selected``)."""
        key = ("pod", namespace, sel)
        hit = self._cache.get(key)
        if hit is None:
            bits = 0
            for i in self.by_namespace.get(namespace, ()):
                if pod_selected(self.classes[i], sel):
                    bits |= 1 << i
            hit = self._cache[key] = bits
        return hit

    def peer_classes(self, peer: Peer, policy_ns: str) -> int:
        """Bitset of the pod classes one peer selects (through the cached per-namespace bitsets)."""
        if peer.ip_block is not None:
            bits = 0
            for c in self.ip_classes:
                if ip_selected(c, peer.ip_block):
                    bits |= 1 << c.index
            return bits
        if peer.namespace_selector is None:
            return self._pods_matching(policy_ns, peer.pod_selector)
        bits = 0
        for ns in self._namespaces_matching(peer.namespace_selector):
            bits |= self._pods_matching(ns, peer.pod_selector)
        return bits

    def peer_selects(self, peer: Peer, policy_ns: str, c: PodClass) -> bool:
        """Whether one peer selects one class: ``peer_classes`` for a single class (same predicates)."""
        if peer.ip_block is not None:
            return ip_selected(c, peer.ip_block)
        if peer.namespace_selector is None:
            ns_ok = c.namespace == policy_ns
        else:
            ns_ok = peer.namespace_selector.matches(self.ns_labels.get(c.namespace, {}))
        return ns_ok and pod_selected(c, peer.pod_selector)

    def rule_selects(self, cr: CompiledRule, i: int) -> bool:
        """Whether a compiled NetworkPolicy rule's peers select class ``i`` (for incremental updates)."""
        return cr.all_peers or any(self.peer_selects(p, cr.policy.namespace, self.classes[i]) for p in cr.rule.peers or ())

    def selected_classes(self, policy: NetworkPolicy) -> int:
        """Bitset of the classes a policy's spec.podSelector selects (its own namespace only)."""
        return self._pods_matching(policy.namespace, policy.pod_selector)

    # ------------------------------------------------------------------ policies
    def _compile_policies(self) -> None:
        self._cache: dict[Any, Any] = {}
        n = len(self.classes)
        self.isolating: dict[str, list[list[NetworkPolicy | CiliumPolicy]]] = {d: [[] for _ in range(n)] for d in DIRECTIONS}
        self.rules_of: dict[str, list[list[CompiledRule]]] = {d: [[] for _ in range(n)] for d in DIRECTIONS}
        self.compiled: dict[tuple[str, str, int], CompiledRule] = {}
        self.policy_selects: dict[str, int] = {}
        for entry in self.cluster.policies:
            self._index_policy(entry.policy)

    def _index_policy(self, pol: NetworkPolicy) -> None:
        """Compile ``pol``'s rules and file them (and the isolation) under every class it selects."""
        selected = self.selected_classes(pol)
        self.policy_selects[pol.id] = selected
        for d in DIRECTIONS:
            if not pol.affects(d):
                continue
            crs = [self._compile_rule(pol, r) for r in pol.rules(d)]
            for i in iter_bits(selected):
                self.isolating[d][i].append(pol)
                self.rules_of[d][i].extend(crs)

    def _compile_rule(self, pol: NetworkPolicy, rule: Rule) -> CompiledRule:
        if rule.peers is None:
            cr = CompiledRule(pol, rule, self.all_classes, AddressSet.everything(), True, rule.static_conns())
        else:
            bits = 0
            addrs = AddressSet()
            for p in rule.peers:
                bits |= self.peer_classes(p, pol.namespace)
                if p.ip_block is not None:
                    addrs = addrs | p.ip_block
            cr = CompiledRule(pol, rule, bits, addrs, False, rule.static_conns(), local=all(
                p.namespace_selector is None and p.ip_block is None for p in rule.peers))
        self.compiled[(pol.id, rule.direction, rule.index)] = cr
        return cr

    # ------------------------------------------------------------------ admin policies
    def _compile_admin(self) -> None:
        """Per class and direction, the ANP rules in precedence order and the BANP rules."""
        n = len(self.classes)
        self.has_admin = bool(self.cluster.admin_policies)
        self.admin_rules: dict[str, list[list[CompiledAdminRule]]] = {d: [[] for _ in range(n)] for d in DIRECTIONS}
        self.baseline_rules: dict[str, list[list[CompiledAdminRule]]] = {d: [[] for _ in range(n)] for d in DIRECTIONS}
        self.admin_selects: dict[str, int] = {}
        self.unsure_to: dict[int, int] = {}
        """Class -> bitset of the classes its egress to may be decided by unevaluated admin peers (nodes,
        domainNames); a key with 0 bits: only its egress to outside addresses is uncertain."""
        for entry in self.cluster.admin_policies:
            pol = entry.policy
            subject = self._subject_classes(pol)
            self.admin_selects[pol.id] = subject
            for d in DIRECTIONS:
                crs = [self._compile_admin_rule(pol, r) for r in pol.rules(d)]
                target = self.baseline_rules if pol.is_baseline else self.admin_rules
                for i in iter_bits(subject):
                    target[d][i].extend(crs)
                for cr in crs:
                    if cr.unsure:
                        for i in iter_bits(subject):
                            self.unsure_to[i] = self.unsure_to.get(i, 0) | cr.unsure_classes
        self._compile_calico()

    def _compile_calico(self) -> None:
        """Calico's tiers (engine/calico.py) and, per direction, the classes some Calico policy applies to."""
        self.calico_tiers = CalicoCompiler(self, self.cluster.calico).compile() if self.cluster.calico.policies else []
        self.calico_named_groups: list[int] | None = None
        """Pod classes grouped by their named ports (egress verdict maps start from these parts)."""
        n = len(self.classes)
        self.calico_groups: dict[str, list[ClassGroup]] = {d: [] for d in DIRECTIONS}
        """Per direction and class index, the class's group: classes with the same Calico policies and
        rules share their tier chain and everything computed from it."""
        if self.calico_tiers:
            for d in DIRECTIONS:
                iso = sum(1 << i for i, pols in enumerate(self.isolating[d]) if pols)
                self.calico_groups[d] = class_groups(self.calico_tiers, d, iso, n)
        self.calico_selects = dict.fromkeys(DIRECTIONS, 0)
        """Per direction, the classes some Calico policy applies to: only their pairs need the tiers (for the
        others the default tier holds just the Kubernetes policies, which is the NetworkPolicy layer)."""
        for ct in self.calico_tiers:
            for cp in ct.policies:
                for d in DIRECTIONS:
                    self.calico_selects[d] |= cp.applies.get(d, 0)
                for d, crs in cp.rules.items():
                    for cr in crs:
                        if not cr.unsure:
                            continue
                        peers = cr.classes | cr.unsure_peers
                        for i in iter_bits(cp.applies[d] | cr.unsure_own):
                            if d == Direction.EGRESS:
                                self.unsure_to[i] = self.unsure_to.get(i, 0) | peers
                            else:
                                for j in iter_bits(peers):
                                    self.unsure_to[j] = self.unsure_to.get(j, 0) | (1 << i)

    def _subject_classes(self, pol: AdminPolicy) -> int:
        bits = 0
        for ns in self._namespaces_matching(pol.subject.namespace_selector):
            bits |= self._pods_matching(ns, pol.subject.pod_selector)
        return bits

    def _compile_admin_rule(self, pol: AdminPolicy, rule: AdminRule) -> CompiledAdminRule:
        bits = 0
        addrs = AddressSet()
        for p in rule.peers:
            if p.namespaces is not None:
                for ns in self._namespaces_matching(p.namespaces):
                    bits |= self._pods_matching(ns, None)
            elif p.pods is not None:
                for ns in self._namespaces_matching(p.pods[0]):
                    bits |= self._pods_matching(ns, p.pods[1])
            elif p.networks is not None:  # outside addresses, and the pods whose IPs it holds
                addrs = addrs | p.networks
                j = self.admin_networks.index(p.networks)
                for c in self.classes:
                    if j in c.networks and self.class_workloads[c.index]:
                        bits |= 1 << c.index
            # nodes and domainNames peers select addresses this model does not know: they match nothing,
            # and the verdicts they could change are uncertain (Cluster.notes says so); a peer that fails
            # closed matches nothing (model.admin)
        static = None
        if rule.ports is None or not any(pt.name for pt in rule.ports):
            static = rule.conns_for(frozenset())
        unsure_classes = 0
        if any(p.nodes is not None for p in rule.peers):  # a hostNetwork pod's address is its node's
            unsure_classes = sum(1 << c.index for c in self.classes if c.host_network)
        unsure_external = any(not p.evaluable for p in rule.peers)
        return CompiledAdminRule(pol, rule, bits, addrs, static, unsure_classes, unsure_external)

    def _compile_cilium(self) -> None:
        """Cilium policies: allow rules into the NetworkPolicy tier, deny rules into their own (engine.cilium)."""
        from .cilium import CiliumLayer

        self._unsure_before_cilium = dict(self.unsure_to)
        """The uncertain cells the admin and Calico layers marked (:meth:`replace_cilium` starts from them)."""
        self.cilium = CiliumLayer(self) if self.cluster.cilium else None
        if self.cilium is not None and self.calico_tiers:
            # both CNIs' objects (docs/cilium.md, "Calico and Cilium objects together"): Cilium's allow rules
            # and default deny join the Kubernetes NetworkPolicy slot of Calico's default tier, so the tiers
            # are grouped again with the classes Cilium isolates
            self._compile_calico()

    # ------------------------------------------------------------------ external atoms
    def _build_atoms(self) -> None:
        index = AtomIndex(self.cluster)
        self.atoms: list[ExternalAtom] = index.atoms
        self.fqdn_atoms: list[FqdnAtom] = fqdn_atoms(self.cluster)
        """Cilium toFQDNs names and patterns: named external endpoints, egress destinations only."""
        self._atom_index = index
        self._piece_starts = index.piece_starts
        self._pieces = index.pieces

    # ------------------------------------------------------------------ direction verdicts
    def is_isolated(self, cls: int, direction: Direction) -> bool:
        return bool(self.isolating[direction][cls])

    def decide(self, direction: Direction, own: int, peer: int | ExternalAtom, dst_named: NamedPorts) -> ConnSet:
        """What ``own``'s ``direction`` allows with ``peer`` (a class or an address range): the pipeline."""
        return allowed(self, direction, own, peer, dst_named)

    def class_allows(self, a: int, b: int) -> ConnSet:
        """What pod class ``a`` may open to pod class ``b``."""
        named = self.classes[b].named_ports
        eg = self.decide(Direction.EGRESS, a, b, named)
        if not eg:
            return eg
        return _meet(eg, self.decide(Direction.INGRESS, b, a, named))

    # ------------------------------------------------------------------ matrix
    def class_matrix(self) -> dict[tuple[int, int], ConnSet]:
        """Allowed (class, class) pairs.

        For each destination b, the candidate sources are (sources b's ingress admits) AND (sources whose
        egress may reach b), both int bitsets; the second is built by a reverse index over egress rules
        (cost per rule, not per pair). Ports are then computed only for candidate pairs.
        """
        n = len(self.classes)
        full = self.all_classes
        if self.has_admin:
            # admin policies can allow what NetworkPolicies deny and deny what they allow: check every pair
            out_all: dict[tuple[int, int], ConnSet] = {}
            for b in range(n):
                for a in range(n):
                    c = self.class_allows(a, b)
                    if c:
                        out_all[(a, b)] = c
            return out_all
        eg_iso = 0
        for i in range(n):
            if self.isolating[Direction.EGRESS][i]:
                eg_iso |= 1 << i
        open_egress = full & ~eg_iso
        reach = [0] * n  # egress-isolated sources whose rules reach each destination
        reach_all = open_egress  # sources that may reach every destination
        for entry in self.cluster.policies:
            pol = entry.policy
            owners = self.policy_selects.get(pol.id, 0)
            if not owners or not pol.affects(Direction.EGRESS):
                continue
            for r in pol.egress:
                cr = self.compiled[(pol.id, Direction.EGRESS, r.index)]
                if cr.all_peers:
                    reach_all |= owners
                    continue
                for b in iter_bits(cr.classes):
                    reach[b] |= owners
        for owners, cr in self.cilium.egress_reach if self.cilium is not None else ():
            if cr.all_peers:
                reach_all |= owners
            for b in iter_bits(cr.classes):
                reach[b] |= owners
        out: dict[tuple[int, int], ConnSet] = {}
        if self.calico_tiers:
            out = self._calico_class_matrix(reach, reach_all)
            return self.cilium.subtract_denies(out) if self.cilium is not None else out
        for b in range(n):
            if self.isolating[Direction.INGRESS][b]:
                admit = 0
                for cr in self.rules_of[Direction.INGRESS][b]:
                    admit |= cr.classes
            else:
                admit = full
            cand = admit & (reach[b] | reach_all)
            named = self.classes[b].named_ports
            if not self.isolating[Direction.INGRESS][b]:
                # b's ingress is not isolated: sources whose egress is not either need no rule scan
                for a in iter_bits(cand & open_egress):
                    out[(a, b)] = _ALL
                cand &= eg_iso
            for a in iter_bits(cand):
                c = self._pair_conns(a, b, named)
                if c:
                    out[(a, b)] = c
        return self.cilium.subtract_denies(out) if self.cilium is not None else out

    def _calico_class_matrix(self, reach: list[int], reach_all: int) -> dict[tuple[int, int], ConnSet]:
        """The class matrix with Calico tiers. A class a Calico policy applies to (per direction) gets parts:
        its peers partitioned by the rules that could tell them apart, one decision per part — the Calico
        tiers before the default tier (shared by the classes the same policies select) composed with the
        NetworkPolicy rules (``_pre_parts``), or the whole pipeline where that is not exact
        (``_verdict_parts``). The NetworkPolicy fast path covers the other sides. Nothing is computed per
        pair except for the pairs some side may allow."""
        n = len(self.classes)
        full = self.all_classes
        cal_eg, cal_in = self.calico_selects[Direction.EGRESS], self.calico_selects[Direction.INGRESS]
        eg_parts = {}
        for a in iter_bits(cal_eg):
            parts, passes = self._parts(Direction.EGRESS, a)
            if not passes:
                eg_parts[a] = parts
        cal_eg = sum(1 << a for a in eg_parts)  # classes whose Calico tiers pass everything keep the fast path
        reach_all &= ~cal_eg
        reach = [r & ~cal_eg for r in reach]
        eg_maps: dict[int, Parts] = {}
        for a, parts in eg_parts.items():
            eg_maps[a] = parts
            targets = 0
            for t, acc, rest in parts:
                if acc:
                    targets |= t
                if rest:
                    targets |= t & self._np_peers(Direction.EGRESS, a)
            if targets == full:
                reach_all |= 1 << a
            else:
                for b in iter_bits(targets):
                    reach[b] |= 1 << a
        eg_open = sum(1 << i for i, c in enumerate(self.classes) if c.host_network or not self.isolating[Direction.EGRESS][i])
        eg_open &= ~cal_eg  # egress that allows everything: no rule to look at
        out: dict[tuple[int, int], ConnSet] = {}
        for b in range(n):
            named = self.classes[b].named_ports
            in_parts = None
            if cal_in >> b & 1:
                parts, passes = self._parts(Direction.INGRESS, b)
                in_parts = None if passes else parts
            if in_parts is not None:
                admit = 0
                for t, acc, rest in in_parts:
                    if acc:
                        admit |= t
                    if rest:
                        admit |= t & self._np_peers(Direction.INGRESS, b)
            else:
                admit = self._np_peers(Direction.INGRESS, b)
            in_open = in_parts is None and (self.classes[b].host_network or not self.isolating[Direction.INGRESS][b])
            for a in iter_bits(admit & (reach[b] | reach_all)):
                ing = _ALL if in_open else self._compose(in_parts, Direction.INGRESS, b, a, named)
                if not ing:
                    continue
                if eg_open >> a & 1:
                    out[(a, b)] = ing
                    continue
                c = _meet(self._compose(eg_maps.get(a), Direction.EGRESS, a, b, named), ing)
                if c:
                    out[(a, b)] = c
        return out

    def _parts(self, direction: Direction, own: int) -> tuple[list[tuple[int, ConnSet, ConnSet]], bool]:
        """(peers, accepted, left to the NetworkPolicy rules) parts of ``own``'s direction, and whether its
        Calico tiers pass everything on (then the NetworkPolicy fast path is exact)."""
        pre = self._pre_parts(direction, own)
        if pre is not None:
            return pre
        return [(t, c, _NONE) for t, c in self._verdict_parts(direction, own)], False

    def _np_peers(self, direction: Direction, own: int) -> int:
        """The classes the NetworkPolicy rules of ``own``'s direction may allow (all when not isolated)."""
        if self.classes[own].host_network or not self.isolating[direction][own]:
            return self.all_classes
        out = 0
        for cr in self.rules_of[direction][own]:
            out |= cr.classes
        return out

    def _compose(self, parts: Parts | None, direction: Direction, own: int, peer: int, named: NamedPorts) -> ConnSet:
        acc, rest = _NONE, _ALL
        if parts is not None:
            for t, acc, rest in parts:  # noqa: B007 - the loop finds acc and rest: they are read after it
                if t >> peer & 1:
                    break
            if not rest:
                return acc
        if self.classes[own].host_network or not self.isolating[direction][own]:
            np = _ALL
        else:
            np = _NONE
            for cr in self.rules_of[direction][own]:
                if cr.classes >> peer & 1:
                    np = np | cr.conns(named)
        if rest is not _ALL:
            np = _meet(np, rest)
        return acc | np if acc else np

    def _pre_parts(self, direction: Direction, own: int) -> tuple[list[tuple[int, ConnSet, ConnSet]], bool] | None:
        """(peer classes, accepted, still open) after the Calico tiers ordered before the default tier, and
        whether they pass everything on; None when a Calico policy of the default tier or a later one
        applies to ``own`` (then only the whole pipeline is exact). Without admin policies, what stays open
        then meets the default tier holding only the Kubernetes NetworkPolicies, which is the NetworkPolicy
        fast path: the callers compose the two. Computed once per class group (engine.calico.ClassGroup)."""
        got = self._pre_chain(direction, own)
        if got is None:
            return None
        g, pre = got
        named = self.classes[own].named_ports if direction == Direction.INGRESS else None
        key = ("parts", named)
        hit: tuple[Parts, bool] | None = g.cache.get(key)
        if hit is not None:
            return hit
        parts = self._named_groups() if direction == Direction.EGRESS else [self.all_classes]
        for m in dict.fromkeys(cr.classes for cr in g.rules):
            parts = [x for p in parts for x in (p & m, p & ~m) if x]
        out = []
        for p in parts:
            rep = (p & -p).bit_length() - 1
            dst_named = self.classes[own if direction == Direction.INGRESS else rep].named_ports
            acc, den = decide_tiers(Query(self, direction, own, rep, dst_named), _ALL, chain=pre) if pre else (
                _NONE, _NONE)
            out.append((p, acc, _ALL - (acc | den)))
        hit = g.cache[key] = (out, _passes_all(out))
        return hit

    def _pre_chain(self, direction: Direction, own: int) -> tuple[ClassGroup, Chain] | None:
        """``own``'s group and its Calico tiers before the default tier; None when a Calico policy of the
        default tier or a later tier applies to it."""
        g = self.calico_groups[direction][own]
        if "pre" not in g.cache:
            default = next(ct.tier.sort_key() for ct in self.calico_tiers if ct.tier.name == "default")
            later = any(cp.policy is not None for ct, sel_ in g.chain if ct.tier.sort_key() >= default for cp in sel_)
            g.cache["pre"] = None if later else [(ct, sel_) for ct, sel_ in g.chain if ct.tier.sort_key() < default]
        pre = g.cache["pre"]
        return None if pre is None else (g, pre)

    def _pre_atoms(self, direction: Direction, own: int, named: NamedPorts) -> tuple[ClassGroup, list[tuple[ConnSet, ConnSet]], bool] | None:
        """Per atom, (accepted, left to the NetworkPolicy rules) after the Calico tiers before the default
        tier (see ``_pre_parts``), with the group and whether they pass everything on; None where that is not
        exact."""
        got = self._pre_chain(direction, own)
        if got is None:
            return None
        g, pre = got
        key = ("atoms", named)
        hit: tuple[ClassGroup, list[tuple[ConnSet, ConnSet]], bool] | None = g.cache.get(key)
        if hit is not None:
            return hit
        decided: dict[tuple[bool, ...], tuple[ConnSet, ConnSet]] = {}
        out = []
        for atom in self.atoms:
            sig = tuple(cr.addresses.contains_interval(atom.lo, atom.hi) for cr in g.rules)
            r = decided.get(sig)
            if r is None:
                acc, den = decide_tiers(Query(self, direction, own, atom, named), _ALL, chain=pre) if pre else (
                    _NONE, _NONE)
                r = decided[sig] = (acc, _ALL - (acc | den) if acc or den else _ALL)
            out.append(r)
        hit = g.cache[key] = (g, out, _passes_all(out))
        return hit

    def _named_groups(self) -> list[int]:
        if self.calico_named_groups is None:
            groups: dict[NamedPorts, int] = {}
            for c in self.classes:
                groups[c.named_ports] = groups.get(c.named_ports, 0) | (1 << c.index)
            self.calico_named_groups = [g & self.all_classes for g in groups.values()]
        return self.calico_named_groups

    def _verdict_parts(self, direction: Direction, own: int) -> list[tuple[int, ConnSet]]:
        """``own``'s ``direction`` against every pod class: (peer classes, ports) parts covering all classes.
        Peers no rule tells apart get the same verdict, so one pipeline decision per part is exact (for
        egress, peers are also split by their named ports, which resolve the rules' ports)."""
        bit = 1 << own
        applying = [cp for ct in self.calico_tiers for cp in ct.policies
                    if cp.policy is not None and cp.applies[direction] & bit]
        crs = [cr for cp in applying for cr in cp.rules[direction] if cr.own & bit] + self.rules_of[direction][own]
        rules = [cr.classes for cr in crs]
        named = self.classes[own].named_ports if direction == Direction.INGRESS else None
        key = ("parts", direction, tuple(map(id, applying)), tuple(map(id, crs)), named,
               bool(self.isolating[direction][own]), self.classes[own].host_network)
        hit: list[tuple[int, ConnSet]] | None = self._cache.get(key)
        if hit is not None:
            return hit
        parts = self._named_groups() if direction == Direction.EGRESS else [self.all_classes]
        for m in dict.fromkeys(rules):
            split: list[int] = []
            for p in parts:
                inside, outside = p & m, p & ~m
                split.extend(x for x in (inside, outside) if x)
            parts = split
        out = []
        for p in parts:
            rep = (p & -p).bit_length() - 1
            dst_named = self.classes[own if direction == Direction.INGRESS else rep].named_ports
            out.append((p, self.decide(direction, own, rep, dst_named)))
        self._cache[key] = out
        return out

    def _pair_conns(self, a: int, b: int, named: NamedPorts) -> ConnSet:
        """Egress of a to b AND ingress of b from a (ports resolved at b)."""
        if self.isolating[Direction.INGRESS][b]:
            bit_a = 1 << a
            ing = ConnSet.none()
            for cr in self.rules_of[Direction.INGRESS][b]:
                if cr.classes & bit_a:
                    ing = ing | cr.conns(named)
            if not ing:
                return ing
        else:
            ing = ConnSet.all()
        if not self.isolating[Direction.EGRESS][a]:
            return ing
        bit_b = 1 << b
        eg = ConnSet.none()
        for cr in self.rules_of[Direction.EGRESS][a]:
            if cr.classes & bit_b:
                eg = eg | cr.conns(named)
        return ing & eg

    def matrix(self, workloads: Iterable[Workload] | None = None, *, external: bool = True,
               class_cells: dict[tuple[int, int], ConnSet] | None = None,
               touching: set[str] | None = None) -> Matrix:
        """The workload-level matrix (plus external address ranges), as the contract describes it.

        ``class_cells`` may give an already computed class matrix (see engine.incremental). With
        ``touching`` (workload ids), only the cells with a side among them are computed, from ``class_cells``
        holding (at least) every class pair of their classes; the endpoints are then theirs and the address
        ranges'. engine.incremental patches its matrix so.
        """
        wl = list(self.cluster.workloads if workloads is None else workloads)
        keep = {w.id for w in wl}
        cm = self.class_matrix() if class_cells is None else class_cells
        cells: dict[tuple[str, str], Cell] = {}
        agg: dict[tuple[str, str], list[ConnSet]] = {}
        cw = self.class_workloads
        if all(len(x) <= 1 for x in cw) and all(len(self.workload_classes[w.id]) == 1 for w in wl):
            # every workload is one class and every class one workload: no aggregation needed
            uncertain = self.options.all_uncertain or bool(self.options.uncertain_namespaces) or bool(self.unsure_to)
            ids = [x[0].id if x and x[0].id in keep else None for x in cw]
            shared: dict[int, Cell] = {}  # one Cell per distinct ConnSet object (most pairs share a few)
            for (a, b), conns in cm.items():
                s_id, d_id = ids[a], ids[b]
                if s_id is None or d_id is None:
                    continue
                if uncertain:
                    cells[(s_id, d_id)] = Cell(conns, self._uncertain(s_id, d_id))
                else:
                    cell = shared.get(id(conns))
                    if cell is None:
                        cell = shared[id(conns)] = Cell(conns)
                    cells[(s_id, d_id)] = cell
            cm = {}
        for (a, b), conns in cm.items():
            for wa in self.class_workloads[a]:
                if wa.id not in keep:
                    continue
                for wb in self.class_workloads[b]:
                    if wb.id in keep:
                        agg.setdefault((wa.id, wb.id), []).append(conns)
        for (s, d), lst in agg.items():
            conns = lst[0]
            for c in lst[1:]:
                conns = conns | c
            n_pairs = len(self.workload_classes[s]) * len(self.workload_classes[d])
            partial = len(lst) < n_pairs or any(c != conns for c in lst)
            cells[(s, d)] = Cell(conns, self._uncertain(s, d), partial)
        endpoints = [self.workload_endpoint(w) for w in (wl if touching is None else (w for w in wl if w.id in touching))]
        if external:
            endpoints.extend(Endpoint(at.id, "External", cidrs=at.cidrs, group="external") for at in self.atoms)
            for w in (wl if touching is None else [w for w in wl if w.id in touching]):
                classes = self.workload_classes[w.id]
                for direction in DIRECTIONS:
                    maps = [self.atom_map(direction, c) for c in classes]
                    known = [mp for mp in maps if mp is not None]
                    if len(known) < len(maps):
                        indices: Iterable[int] = range(len(self.atoms))
                    else:
                        indices = sorted({i for mp in known for i in mp}) if len(known) > 1 else sorted(known[0])
                    for i in indices:
                        atom = self.atoms[i]
                        got = [c for c in (ConnSet.all() if mp is None else mp.get(i) for mp in maps) if c]
                        if not got:
                            continue
                        conns = got[0]
                        for g in got[1:]:
                            conns = conns | g
                        partial = len(got) < len(classes) or any(g != conns for g in got)
                        key = (atom.id, w.id) if direction == Direction.INGRESS else (w.id, atom.id)
                        unsure = direction == Direction.EGRESS and any(c in self.unsure_to for c in classes)
                        cells[key] = Cell(conns, self._uncertain(w.id, w.id) or unsure, partial)
            if self.fqdn_atoms:
                endpoints.extend(Endpoint(f.id, "External", group="external", extra=(("fqdn", f.selector.name),))
                                 for f in self.fqdn_atoms)
                self._fqdn_cells(cells, wl if touching is None else [w for w in wl if w.id in touching])
        if self.cilium is not None:
            self.cilium.mark_l7(cells, keep)
        m = Matrix(endpoints, cells, list(self.cluster.notes), "Effective connectivity")
        return m

    def atom_map(self, direction: Direction, cls: int) -> dict[int, ConnSet] | None:
        """Atom index -> what class ``cls``'s ``direction`` allows with that address range.

        None means not isolated (every range, every port). Classes with the same rules share one map.
        Atoms are cut at every ipBlock boundary, so each block interval covers whole consecutive atoms.
        """
        rules = self.rules_of[direction][cls]
        named = self.classes[cls].named_ports if direction == Direction.INGRESS else frozenset()
        key: tuple[Any, ...] = ("atoms", direction, tuple(id(cr) for cr in rules), bool(self.isolating[direction][cls]), named)
        np_key = key
        calico = bool(self.calico_selects[direction] >> cls & 1)
        got = self._pre_atoms(direction, cls, named) if calico and not self.has_admin else None
        pre = None
        if got is not None:
            group, pre, passes = got
            if passes:
                calico = False  # its Calico tiers pass every range on: the NetworkPolicy map (shared) is exact
            else:  # the class group's Calico map composed with the (shared) NetworkPolicy map
                key += (group,)
        if calico and pre is None:  # the whole pipeline, class by class
            key += (cls,)
        if self.has_admin:  # classes with equal NetworkPolicy rules may still differ in admin rules
            key += (tuple(id(cr) for cr in self.admin_rules[direction][cls]),
                    tuple(id(cr) for cr in self.baseline_rules[direction][cls]))
        cilium_deny = self.cilium if self.cilium is not None and self.cilium.has_deny else None
        if cilium_deny is not None:
            key += (tuple(id(cr) for cr in cilium_deny.deny[direction][cls]),)
        if key in self._cache:
            cached: dict[int, ConnSet] | None = self._cache[key]
            return cached
        out: dict[int, ConnSet] | None = None
        if cilium_deny is not None and not self.has_admin and not calico:
            # the Cilium deny tier, then the NetworkPolicy tier (or the default): the rules' map less what the
            # deny rules deny (the pipeline's order, as the class matrix's subtract_denies; a test compares)
            np = self._np_atoms(direction, cls, named)
            out = {}
            for i, atom in enumerate(self.atoms):
                c = _ALL if np is None else np.get(i)
                if c:
                    c = c - cilium_deny.deny_conns(direction, cls, atom, named)
                    if c:
                        out[i] = c
        elif self.has_admin or cilium_deny is not None:
            out = {}
            for i, atom in enumerate(self.atoms):
                c = self.decide(direction, cls, atom, named)
                if c:
                    out[i] = c
        elif calico and pre is not None:
            # Calico tiers before the default tier (shared), composed with the NetworkPolicy rules
            if np_key not in self._cache:
                self._cache[np_key] = self._np_atoms(direction, cls, named)
            np = self._cache[np_key]
            out = {}
            for i, (acc, rest) in enumerate(pre):
                c = acc
                if rest:
                    x = _ALL if np is None else np.get(i, _NONE)
                    if x and rest is not _ALL:
                        x = x & rest
                    c = acc | x if acc else x
                if c:
                    out[i] = c
        elif calico:
            # atoms that every rule here treats alike get one decision (the rules' address sets hold an
            # atom whole or not at all)
            bit = 1 << cls
            blocks = [cr.addresses for ct in self.calico_tiers for cp in ct.policies if cp.policy is not None
                      and cp.applies[direction] & bit for cr in cp.rules[direction] if cr.own & bit]
            blocks += [cr.addresses for cr in rules]
            out = {}
            decided: dict[tuple[bool, ...], ConnSet] = {}
            for i, atom in enumerate(self.atoms):
                sig = tuple(b.contains_interval(atom.lo, atom.hi) for b in blocks)
                same = decided.get(sig)
                if same is None:
                    same = decided[sig] = self.decide(direction, cls, atom, named)
                if same:
                    out[i] = same
        else:
            out = self._np_atoms(direction, cls, named)
        self._cache[key] = out
        return out

    def _fqdn_cells(self, cells: dict[tuple[str, str], Cell], workloads: list[Workload]) -> None:
        """Cells from each workload to each toFQDNs endpoint: the egress pipeline against the name (its
        addresses are DNS answers at run time, so every such cell is uncertain; engine.cilium)."""
        by_rules: dict[tuple[Any, ...], list[ConnSet]] = {}
        for w in workloads:
            classes = self.workload_classes[w.id]
            got_all = []
            for c in classes:
                key: tuple[Any, ...] = (tuple(id(cr) for cr in self.rules_of[Direction.EGRESS][c]), bool(self.isolating[Direction.EGRESS][c]),
                       tuple(id(cr) for cr in self.cilium.deny[Direction.EGRESS][c]) if self.cilium is not None else ())
                if self.has_admin or self.calico_selects[Direction.EGRESS] >> c & 1 or self.classes[c].host_network:
                    key += (c,)
                hit = by_rules.get(key)
                if hit is None:
                    hit = by_rules[key] = [self.decide(Direction.EGRESS, c, f, frozenset()) for f in self.fqdn_atoms]
                got_all.append(hit)
            for i, f in enumerate(self.fqdn_atoms):
                got = [g[i] for g in got_all if g[i]]
                if not got:
                    continue
                conns = got[0]
                for g in got[1:]:
                    conns = conns | g
                partial = len(got) < len(classes) or any(g != conns for g in got)
                cells[(w.id, f.id)] = Cell(conns, True, partial)

    def _np_atoms(self, direction: Direction, cls: int, named: NamedPorts) -> dict[int, ConnSet] | None:
        """The NetworkPolicy rules' map of atom index -> ports (None: not isolated, everything)."""
        if not self.isolating[direction][cls]:
            return None
        out: dict[int, ConnSet] = {}
        for cr in self.rules_of[direction][cls]:
            conns = cr.conns(named)
            if not conns:
                continue
            for lo, hi in cr.addresses.intervals:
                i = bisect.bisect_left(self._piece_starts, lo)
                while i < len(self._pieces) and self._pieces[i][1] <= hi:
                    a = self._pieces[i][2]
                    prev = out.get(a)
                    out[a] = conns if prev is None else prev | conns
                    i += 1
        return out

    def _unsure_pair(self, s: str, d: str) -> bool:
        """Whether an unevaluated admin peer (nodes) could decide a pair of workloads."""
        for a in self.workload_classes.get(s, ()):
            bits = self.unsure_to.get(a, 0)
            if bits and any(bits & (1 << b) for b in self.workload_classes.get(d, ())):
                return True
        return False

    def workload_endpoint(self, w: Workload) -> Endpoint:
        extra: list[tuple[str, object]] = []
        if w.host_network:
            extra.append(("hostNetwork", True))
        return Endpoint(w.id, w.kind, w.namespace, w.name, tuple(sorted(w.labels.items())), group=w.namespace,
                        extra=tuple(extra))

    def _uncertain(self, s: str, d: str) -> bool:
        if self.unsure_to and self._unsure_pair(s, d):
            return True
        if self.options.all_uncertain:
            return True
        un = self.options.uncertain_namespaces
        return bool(un) and (s.split("/", 1)[0] in un or d.split("/", 1)[0] in un)

    # ------------------------------------------------------------------ incremental updates
    def replace_namespace(self, ns: str, part: Cluster, policies_changed: bool = True) -> tuple[set[int], set[int]]:
        """Replace namespace ``ns``'s workloads, policies and labels by those of ``part`` (a cluster built from
        that namespace's objects only), keeping every other class and compiled rule. Returns the namespace's
        (old, current) class indices: only pairs involving them can change (engine.incremental). Without
        ``policies_changed`` (only pods changed) the address-range atoms, made from policies only, are kept."""
        cluster = self.cluster
        self._strip_cilium()  # compiled again at the end, onto the namespace's new classes too
        # 1. the cluster's lists
        # both lists are sorted by namespace first (build_cluster): the namespace's entries are one run,
        # found by bisection and replaced (no key computed for, and no sort of, the whole cluster)
        cluster.workloads, old_wl = _splice(cluster.workloads, ns, lambda w: w.namespace, part.workloads,
                                            lambda w: (w.namespace, w.name, w.kind))
        cluster.policies, old_pol = _splice(cluster.policies, ns, lambda e: e.policy.namespace, part.policies,
                                            lambda e: (e.policy.namespace, e.policy.name))
        labels_changed = False
        if ns in part.namespaces:
            new_ns = part.namespaces[ns]
            labels_changed = self.ns_labels.get(ns) != new_ns.labels
            cluster.namespaces[ns] = new_ns
            self.ns_labels[ns] = new_ns.labels
        if labels_changed:
            self._cache = {k: v for k, v in self._cache.items() if k[0] != "ns"}

        # 2. classes: drop the namespace's workloads, add the new ones (reusing equal classes)
        old_classes = set(self.by_namespace.get(ns, ()))
        for w in old_wl:
            for i in self.workload_classes.pop(w.id, ()):
                self.class_workloads[i] = [x for x in self.class_workloads[i] if x.id != w.id]
                self.class_members.pop((w.id, i), None)
        created: list[int] = []
        for w in part.workloads:
            created.extend(self._add_workload(w))
        current = {i for i in self.by_namespace.get(ns, ()) if self.class_workloads[i]}
        dead = old_classes - current
        self.all_classes = (1 << len(self.classes)) - 1
        for i in dead:  # a class nobody belongs to any more: forget it everywhere, never reuse its index
            self.class_workloads[i] = []
            self._class_keys.pop(self._key_of[i], None)
        self.by_namespace[ns] = sorted(current)
        dead_mask = sum(1 << i for i in dead)
        live_mask = self.all_classes & ~dead_mask
        self.ip_classes = [c for c in self.classes if c.ips is not None and (live_mask >> c.index) & 1]
        # selector caches of this namespace are stale
        self._cache = {k: v for k, v in self._cache.items() if not (k[0] == "pod" and k[1] == ns) and k[0] != "atoms"}

        # 3. policies of the namespace: forget the old ones, compile the new ones
        for e in old_pol:
            pid = e.policy.id
            self.policy_selects.pop(pid, None)
            for d in DIRECTIONS:
                for r in e.policy.rules(d):
                    self.compiled.pop((pid, d, r.index), None)
        n = len(self.classes)
        for d in DIRECTIONS:
            for lst in (self.isolating[d], self.rules_of[d]):
                lst.extend([] for _ in range(n - len(lst)))
            for i in old_classes | current:
                self.isolating[d][i] = []
                self.rules_of[d][i] = []
        for e in part.policies:
            self._index_policy(e.policy)

        # 4. every other compiled rule: clear dead classes, evaluate the new (or relabelled) ones
        fresh = set(created) | (current if labels_changed else set())
        own = {(e.policy.id, d, r.index) for e in part.policies for d in DIRECTIONS for r in e.policy.rules(d)}
        for key, cr in self.compiled.items():
            if key in own:
                continue
            cr.classes &= ~dead_mask
            if cr.local and cr.policy.namespace != ns:  # selects pods of its own namespace only
                continue
            for i in fresh:
                if self.rule_selects(cr, i):
                    cr.classes |= 1 << i
        self._compile_admin()
        self._compile_cilium()
        if policies_changed:
            self._build_atoms()

        return old_classes, current

    def _strip_cilium(self) -> None:
        """Take the Cilium layer's allow rules and isolation out of the NetworkPolicy tier's lists (before
        the layer is compiled again: :meth:`replace_namespace`, :meth:`replace_cilium`)."""
        layer = self.cilium
        if layer is None:
            return
        rules = {id(cr) for cr in layer.compiled.values()}
        for d in DIRECTIONS:
            for i, lst in enumerate(self.rules_of[d]):
                if lst:
                    self.rules_of[d][i] = [cr for cr in lst if id(cr) not in rules]
            for i, pols in enumerate(self.isolating[d]):
                if pols:
                    self.isolating[d][i] = [p for p in pols if not isinstance(p, CiliumPolicy)]
        self.cilium = None

    def replace_cilium(self, entries: list[CiliumEntry], keys: set[tuple[str, str | None, str]] | None = None) -> None:
        """Replace the cluster's Cilium policies (model.cilium.CiliumEntry list), keeping every class and every
        other compiled rule (engine.incremental: a CNP/CCNP event). With ``keys`` (the changed objects'
        (kind, namespace, name)) only their rule objects are compiled again; else the whole layer. Only the
        pairs of the classes :meth:`cilium_touches` names before and after can change; the address-range
        atoms and the toFQDNs endpoints are rebuilt (a caller compares them)."""
        layer = self.cilium
        if layer is not None and entries and keys is not None:
            def changed(e: CiliumEntry) -> bool:
                return (e.policy.kind, e.policy.namespace, e.policy.name) in keys
            old = {e.policy.id for e in self.cluster.cilium if changed(e)}
            self.cluster.cilium = entries
            layer.replace_policies(old, [e.policy for e in entries if changed(e)])
            if self.calico_tiers:  # Cilium's isolation joins Calico's default tier (see _compile_cilium)
                self._compile_calico()
        else:
            self._strip_cilium()
            self.cluster.cilium = entries
            self.unsure_to = dict(self._unsure_before_cilium)  # without the cells the old Cilium layer marked
            self._compile_cilium()
        self._build_atoms()

    def cilium_touches(self, keys: set[tuple[str, str | None, str]]) -> int:
        """Bitset of the classes the Cilium policies of these objects ((kind, namespace, name)) select or may
        select: the only classes whose verdicts those objects decide (a policy's rules are its subjects')."""
        if self.cilium is None:
            return 0
        out = 0
        for e in self.cluster.cilium:
            p = e.policy
            if (p.kind, p.namespace, p.name) in keys:
                out |= self.cilium.touches.get(p.id, 0)
        return out

    def live_classes(self) -> int:
        """Bitset of the classes some workload still belongs to (dead classes keep their index)."""
        return sum(1 << i for i, ws in enumerate(self.class_workloads) if ws)

    def may_admit(self, b: int) -> int:
        """Classes that ``b``'s ingress may admit (a superset; ports are checked per pair)."""
        return self._candidates(Direction.INGRESS, b)

    def may_reach(self, src: int) -> int:
        """Classes that ``src``'s egress may reach (a superset)."""
        return self._candidates(Direction.EGRESS, src)

    def _candidates(self, direction: Direction, own: int) -> int:
        """Every class when admin tiers may decide or ``own`` is not isolated that way; else the union of
        the classes its rules select."""
        if self.has_admin or not self.isolating[direction][own]:
            return self.all_classes
        bits = 0
        for cr in self.rules_of[direction][own]:
            bits |= cr.classes
        return bits

    # ------------------------------------------------------------------ explanations
    def direction_verdict(self, direction: Direction, own: int, peer: int | ExternalAtom, dst_named: NamedPorts,
                          peer_name: str) -> DirectionVerdict:
        """The full reasoning of one direction of one class against one peer: the pipeline's whole chain."""
        q = Query(self, direction, own, peer, dst_named, [], peer_name)
        got = decide(q)
        selecting = [] if self.classes[own].host_network else list(dict.fromkeys(self.isolating[direction][own]))
        return DirectionVerdict(got, bool(selecting), selecting, q.trace or [], q.uncertain)

    def verdict_classes(self, a: int | ExternalAtom, b: int | ExternalAtom, src_name: str, dst_name: str) -> Verdict:
        """Verdict between two classes or a class and an address range."""
        dst_named = self.classes[b].named_ports if isinstance(b, int) else frozenset()
        if isinstance(a, int):
            eg = self.direction_verdict(Direction.EGRESS, a, b, dst_named, dst_name)
        else:
            eg = DirectionVerdict(ConnSet.all(), False, [], [Reason(Direction.EGRESS, ReasonKind.EXTERNAL, ConnSet.all(),
                                  text="source outside the cluster: no NetworkPolicy governs its egress")])
        if isinstance(b, int):
            ing = self.direction_verdict(Direction.INGRESS, b, a, dst_named, src_name)
        else:
            ing = DirectionVerdict(ConnSet.all(), False, [], [Reason(Direction.INGRESS, ReasonKind.EXTERNAL, ConnSet.all(),
                                   text="destination outside the cluster: no NetworkPolicy governs its ingress")])
        return Verdict(src_name, dst_name, eg, ing, eg.uncertain or ing.uncertain)

    def atom_for(self, address: str) -> ExternalAtom:
        """The external range that contains an IP address."""
        return self._atom_index.atom_for(address)

    def fqdn_atom(self, text: str) -> FqdnAtom:
        """The toFQDNs endpoint ``fqdn:NAME`` (or ``NAME``: a name or pattern a toFQDNs rule writes)."""
        want = text if text.startswith("fqdn:") else "fqdn:" + text
        for f in self.fqdn_atoms:
            if f.id == want.lower().rstrip("."):
                return f
        raise KeyError(text)


_ALL = ConnSet.all()
_NONE = ConnSet.none()
Parts = list[tuple[int, ConnSet, ConnSet]]
"""Peer classes cut by the rules that apply, each with (accepted, left to the next layer) ports."""


@lru_cache(maxsize=4096)
def _meet(egress: ConnSet, ingress: ConnSet) -> ConnSet:
    """``egress & ingress``, memoised: a class's verdicts repeat the same few sets for thousands of peers (the
    CoreDNS event decides every class against it), and ConnSets are immutable values."""
    return egress & ingress


def _passes_all(parts: Sequence[tuple[ConnSet, ConnSet] | tuple[int, ConnSet, ConnSet]]) -> bool:
    """Whether Calico's tiers before the default tier accept and deny nothing here (every part: nothing
    accepted, everything left to the NetworkPolicy rules)."""
    return all(not p[-2] and p[-1].is_all() for p in parts)


def iter_bits(bits: int) -> Iterator[int]:
    """Indices of the set bits of a non-negative int, ascending."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


def pod_selected(c: PodClass, sel: LabelSelector | None) -> bool:
    """A pod selector (None: every pod) selects a class: never a hostNetwork one (see the module doc)."""
    return not c.host_network and (sel is None or sel.matches(c.labels))


def _splice(items: list[Any], ns: str, namespace: Callable[[Any], str], new: list[Any],
            order: Callable[[Any], Any]) -> tuple[list[Any], list[Any]]:
    """``items`` (sorted by ``order``, whose first part is the namespace) with the run of ``ns``'s entries
    replaced by ``new`` sorted the same way, as a new list (readers of the old one see it unchanged); and
    the old run."""
    lo = bisect.bisect_left(items, ns, key=namespace)
    hi = bisect.bisect_right(items, ns, lo=lo, key=namespace)
    return items[:lo] + sorted(new, key=order) + items[hi:], items[lo:hi]


def ip_selected(c: PodClass, block: AddressSet) -> bool:
    """An ipBlock selects a class whose addresses it overlaps (only classes matched by IP have them)."""
    return c.ips is not None and bool(c.ips & block)
