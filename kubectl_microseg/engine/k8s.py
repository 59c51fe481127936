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

Scale: pods with the same namespace, labels, named ports and hostNetwork flag are indistinguishable to
every policy, so everything is computed per such class; selector results are cached; peer sets are
int bitsets over classes.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from ..model.addresses import V4_MAX, AddressSet, address_int, atom_groups, interval_cidrs, interval_text
from ..model.admin import AdminPolicy, AdminRule
from ..model.cluster import Cluster, Member, Workload
from ..model.policy import NetworkPolicy, Peer, Rule
from ..model.ports import ConnSet
from ..model.selectors import LabelSelector
from .matrix import Cell, Endpoint, Matrix

DIRECTIONS = ("ingress", "egress")


@dataclass(frozen=True)
class Options:
    ipblock_matches_pods: bool = False
    """Let ipBlock peers also match pod IPs (some CNIs do); default: only addresses outside the cluster."""
    hostnetwork_as_pods: bool = False
    """Apply policies to hostNetwork pods like ordinary pods; default: policies do not apply to them."""
    uncertain_namespaces: frozenset[str] = frozenset()
    """Namespaces whose policies are unknown: every verdict involving their pods is uncertain."""
    all_uncertain: bool = False


@dataclass(frozen=True)
class PodClass:
    """Pods that every policy treats alike."""

    index: int
    namespace: str
    labels: dict
    named_ports: frozenset
    host_network: bool
    ips: AddressSet | None
    networks: frozenset[int] = frozenset()
    """Indices into ``Analyzer.admin_networks`` of the admin ``networks`` peers that hold these pods' IPs."""


@dataclass
class CompiledRule:
    policy: NetworkPolicy
    rule: Rule
    classes: int
    """Bitset of the pod classes the rule's peers select."""
    addresses: AddressSet
    """Addresses outside the cluster the rule's peers select."""
    all_peers: bool
    static: ConnSet | None
    """The rule's ports, or None when named ports must be resolved per destination."""
    resolved: dict = field(default_factory=dict, repr=False)
    """Named-port resolutions by the destination's named ports (pods of a class share one set)."""

    def conns(self, dst_named: frozenset) -> ConnSet:
        if self.static is not None:
            return self.static
        hit = self.resolved.get(dst_named)
        if hit is None:
            hit = self.resolved[dst_named] = self.rule.conns_for(dst_named)
        return hit


@dataclass
class CompiledAdminRule:
    policy: AdminPolicy
    rule: AdminRule
    classes: int
    addresses: AddressSet
    static: ConnSet | None

    def conns(self, dst_named: frozenset) -> ConnSet:
        return self.static if self.static is not None else self.rule.conns_for(dst_named)

    def matches(self, peer: "int | ExternalAtom") -> bool:
        if isinstance(peer, int):
            return bool(self.classes & (1 << peer))
        return self.addresses.contains_interval(peer.lo, peer.hi)


@dataclass(frozen=True)
class Reason:
    """Why one direction allowed or denied something: a rule, 'not isolated', or 'nothing allowed'."""

    direction: str
    kind: str
    """ALLOWED_BY_RULE, NOT_ISOLATED, HOST_NETWORK, NO_RULE_MATCHED, SELECTED_NO_RULES."""
    conns: ConnSet
    policy: NetworkPolicy | None = None
    rule: Rule | None = None
    text: str = ""
    admin: AdminPolicy | None = None
    admin_rule: AdminRule | None = None

    @property
    def effect(self) -> str:
        """allow, deny or pass: what this reason does to the ports in ``conns`` (or to all, when empty)."""
        if self.kind in ("ANP_DENY", "BANP_DENY", "NO_RULE_MATCHED", "SELECTED_NO_RULES", "PORT_NOT_ALLOWED"):
            return "deny"
        if self.kind == "ANP_PASS":
            return "pass"
        return "allow"

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
    selecting: list[NetworkPolicy]
    reasons: list[Reason]


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
class ExternalAtom:
    """Addresses outside the cluster that every policy treats alike (one External endpoint)."""

    intervals: tuple[tuple[int, int], ...]
    id: str
    cidrs: tuple[str, ...]

    @property
    def lo(self) -> int:
        """First address. Every policy block holds all of the atom or none of it, so testing whether a
        block contains [lo, hi] (the first interval) tests the whole atom."""
        return self.intervals[0][0]

    @property
    def hi(self) -> int:
        return self.intervals[0][1]

    @property
    def addresses(self) -> AddressSet:
        return AddressSet(self.intervals)

    def contains_interval(self, lo: int, hi: int) -> bool:
        return any(a <= lo and hi <= b for a, b in self.intervals)


def _admin_network_sets(cluster: Cluster) -> list[AddressSet]:
    """The distinct ``networks`` peers of every admin policy's egress rules (pods are classed by them)."""
    sets: list[AddressSet] = []
    for entry in cluster.admin_policies:
        for rule in entry.policy.rules("egress"):
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
        self._build_atoms()

    # ------------------------------------------------------------------ classes
    def _build_classes(self) -> None:
        self.admin_networks = _admin_network_sets(self.cluster)
        self._class_keys: dict[tuple, int] = {}
        self._key_of: list[tuple] = []
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
        key = (m.namespace, m.labels, m.named_ports, host, m.ips if by_ip else (), nets)
        i = self._class_keys.get(key)
        if i is None:
            i = self._class_keys[key] = len(self.classes)
            self._key_of.append(key)
            ips = None
            if by_ip and m.ips:
                ips = AddressSet()
                for ip in m.ips:
                    ips = ips | AddressSet.from_cidr(ip + ("/128" if ":" in ip else "/32"))
            self.classes.append(PodClass(i, m.namespace, dict(m.labels), m.named_ports, host, ips, nets))
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
        """Bitset of the non-hostNetwork classes in ``namespace`` that ``sel`` matches (None: all)."""
        key = ("pod", namespace, sel)
        hit = self._cache.get(key)
        if hit is None:
            bits = 0
            for i in self.by_namespace.get(namespace, ()):
                c = self.classes[i]
                if not c.host_network and (sel is None or sel.matches(c.labels)):
                    bits |= 1 << i
            hit = self._cache[key] = bits
        return hit

    def peer_classes(self, peer: Peer, policy_ns: str) -> int:
        """Bitset of the pod classes one peer selects."""
        if peer.ip_block is not None:
            bits = 0
            for c in self.ip_classes:
                if c.ips & peer.ip_block:
                    bits |= 1 << c.index
            return bits
        if peer.namespace_selector is None:
            return self._pods_matching(policy_ns, peer.pod_selector)
        bits = 0
        for ns in self._namespaces_matching(peer.namespace_selector):
            bits |= self._pods_matching(ns, peer.pod_selector)
        return bits

    def selected_classes(self, policy: NetworkPolicy) -> int:
        """Bitset of the classes a policy's spec.podSelector selects (its own namespace only)."""
        return self._pods_matching(policy.namespace, policy.pod_selector)

    # ------------------------------------------------------------------ policies
    def _compile_policies(self) -> None:
        self._cache: dict = {}
        n = len(self.classes)
        self.isolating: dict[str, list[list[NetworkPolicy]]] = {d: [[] for _ in range(n)] for d in DIRECTIONS}
        self.rules_of: dict[str, list[list[CompiledRule]]] = {d: [[] for _ in range(n)] for d in DIRECTIONS}
        self.compiled: dict[tuple[str, str, int], CompiledRule] = {}
        self.policy_selects: dict[str, int] = {}
        for entry in self.cluster.policies:
            pol = entry.policy
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
            cr = CompiledRule(pol, rule, bits, addrs, False, rule.static_conns())
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
        for entry in self.cluster.admin_policies:
            pol = entry.policy
            subject = self._subject_classes(pol)
            self.admin_selects[pol.id] = subject
            for d in DIRECTIONS:
                crs = [self._compile_admin_rule(pol, r) for r in pol.rules(d)]
                target = self.baseline_rules if pol.is_baseline else self.admin_rules
                for i in iter_bits(subject):
                    target[d][i].extend(crs)

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
            # nodes peers select node addresses, which this model does not know: they match nothing
            # (Cluster.notes says so)
        static = None
        if rule.ports is None or not any(pt.name for pt in rule.ports):
            static = rule.conns_for(frozenset())
        return CompiledAdminRule(pol, rule, bits, addrs, static)

    def _layered(self, direction: str, own: int, peer: int | ExternalAtom, named: frozenset,
                 np_conns: ConnSet) -> ConnSet:
        """ANP, then NetworkPolicy, then BANP for one direction (network-policy-api evaluation order).

        ``np_conns`` is what the NetworkPolicies allow (everything when they do not isolate ``own``).
        """
        allow = deny = decided = ConnSet.none()
        for cr in self.admin_rules[direction][own]:
            if cr.matches(peer):
                # ports an earlier rule (or a higher-precedence ANP) decided, Pass included, are settled
                conns = cr.conns(named) - decided
                if cr.rule.action == "Allow":
                    allow = allow | conns
                elif cr.rule.action == "Deny":
                    deny = deny | conns
                decided = decided | conns
        rest = ConnSet.all() - (allow | deny)  # passed or unmatched: the NetworkPolicy layer decides
        if self.isolating[direction][own]:
            return allow | (rest & np_conns)
        banp_deny = banp_decided = ConnSet.none()
        for cr in self.baseline_rules[direction][own]:
            if cr.matches(peer):
                conns = cr.conns(named) - banp_decided
                if cr.rule.action == "Deny":
                    banp_deny = banp_deny | conns
                banp_decided = banp_decided | conns
        return allow | (rest - banp_deny)

    # ------------------------------------------------------------------ external atoms
    def _build_atoms(self) -> None:
        blocks: list[AddressSet] = []
        written: set[str] = set()  # every CIDR as written (cidr, except, networks), to name the atoms
        for e in self.cluster.policies:
            for d in DIRECTIONS:
                for r in e.policy.rules(d):
                    for p in r.peers or ():
                        if p.ip_block is not None:
                            blocks.append(p.ip_block)
                            written.update(x.strip() for x in p.ip_text.replace(" except ", ",").split(","))
        for e in self.cluster.admin_policies:
            for d in DIRECTIONS:
                for r in e.policy.rules(d):
                    for p in r.peers:
                        if p.networks is not None:
                            blocks.append(p.networks)
                            written.update(x.strip() for x in p.networks_text.split(","))
        named = [(w, AddressSet.from_cidr(w)) for w in sorted(written) if w]
        self.atoms: list[ExternalAtom] = []
        for group in atom_groups(dict.fromkeys(blocks)):
            cidrs = tuple(c for lo, hi in group for c in interval_cidrs(lo, hi))
            self.atoms.append(ExternalAtom(group, _atom_name(group, cidrs, named), cidrs))
        # pieces (intervals) in address order, each with its atom, for bisecting
        pieces = sorted((lo, hi, i) for i, a in enumerate(self.atoms) for lo, hi in a.intervals)
        self._piece_starts = [p[0] for p in pieces]
        self._pieces = pieces

    # ------------------------------------------------------------------ direction verdicts
    def is_isolated(self, cls: int, direction: str) -> bool:
        return bool(self.isolating[direction][cls])

    def _dir_to_class(self, direction: str, own: int, peer: int, dst_named: frozenset) -> ConnSet:
        """What ``own``'s ``direction`` allows with pod class ``peer`` (ports resolved at dst)."""
        if not self.isolating[direction][own]:
            out = ConnSet.all()
        else:
            out = ConnSet.none()
            bit = 1 << peer
            for cr in self.rules_of[direction][own]:
                if cr.classes & bit:
                    out = out | cr.conns(dst_named)
        if self.has_admin:
            return self._layered(direction, own, peer, dst_named, out)
        return out

    def _dir_to_atom(self, direction: str, own: int, atom: ExternalAtom, dst_named: frozenset) -> ConnSet:
        if not self.isolating[direction][own]:
            out = ConnSet.all()
        else:
            out = ConnSet.none()
            for cr in self.rules_of[direction][own]:
                if cr.addresses.contains_interval(atom.lo, atom.hi):
                    out = out | cr.conns(dst_named)
        if self.has_admin:
            return self._layered(direction, own, atom, dst_named, out)
        return out

    def class_allows(self, a: int, b: int) -> ConnSet:
        """What pod class ``a`` may open to pod class ``b``."""
        named = self.classes[b].named_ports
        eg = self._dir_to_class("egress", a, b, named)
        if not eg:
            return eg
        return eg & self._dir_to_class("ingress", b, a, named)

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
            if self.isolating["egress"][i]:
                eg_iso |= 1 << i
        open_egress = full & ~eg_iso
        reach = [0] * n  # egress-isolated sources whose rules reach each destination
        reach_all = open_egress  # sources that may reach every destination
        for entry in self.cluster.policies:
            pol = entry.policy
            owners = self.policy_selects.get(pol.id, 0)
            if not owners or not pol.affects("egress"):
                continue
            for r in pol.egress:
                cr = self.compiled[(pol.id, "egress", r.index)]
                if cr.all_peers:
                    reach_all |= owners
                    continue
                for b in iter_bits(cr.classes):
                    reach[b] |= owners
        out: dict[tuple[int, int], ConnSet] = {}
        for b in range(n):
            if self.isolating["ingress"][b]:
                admit = 0
                for cr in self.rules_of["ingress"][b]:
                    admit |= cr.classes
            else:
                admit = full
            cand = admit & (reach[b] | reach_all)
            named = self.classes[b].named_ports
            if not self.isolating["ingress"][b]:
                # b's ingress is not isolated: sources whose egress is not either need no rule scan
                for a in iter_bits(cand & open_egress):
                    out[(a, b)] = _ALL
                cand &= eg_iso
            for a in iter_bits(cand):
                c = self._pair_conns(a, b, named)
                if c:
                    out[(a, b)] = c
        return out

    def _pair_conns(self, a: int, b: int, named: frozenset) -> ConnSet:
        """Egress of a to b AND ingress of b from a (ports resolved at b)."""
        if self.isolating["ingress"][b]:
            bit_a = 1 << a
            ing = ConnSet.none()
            for cr in self.rules_of["ingress"][b]:
                if cr.classes & bit_a:
                    ing = ing | cr.conns(named)
            if not ing:
                return ing
        else:
            ing = ConnSet.all()
        if not self.isolating["egress"][a]:
            return ing
        bit_b = 1 << b
        eg = ConnSet.none()
        for cr in self.rules_of["egress"][a]:
            if cr.classes & bit_b:
                eg = eg | cr.conns(named)
        return ing & eg

    def matrix(self, workloads: Iterable[Workload] | None = None, *, external: bool = True,
               class_cells: dict[tuple[int, int], ConnSet] | None = None) -> Matrix:
        """The workload-level matrix (plus external address ranges), as the contract describes it.

        ``class_cells`` may give an already computed class matrix (see engine.incremental).
        """
        wl = list(self.cluster.workloads if workloads is None else workloads)
        keep = {w.id for w in wl}
        cm = self.class_matrix() if class_cells is None else class_cells
        cells: dict[tuple[str, str], Cell] = {}
        agg: dict[tuple[str, str], list[ConnSet]] = {}
        cw = self.class_workloads
        if all(len(x) <= 1 for x in cw) and all(len(self.workload_classes[w.id]) == 1 for w in wl):
            # every workload is one class and every class one workload: no aggregation needed
            uncertain = self.options.all_uncertain or bool(self.options.uncertain_namespaces)
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
        endpoints = [self.workload_endpoint(w) for w in wl]
        if external:
            endpoints.extend(Endpoint(at.id, "External", cidrs=at.cidrs, group="external") for at in self.atoms)
            for w in wl:
                classes = self.workload_classes[w.id]
                for direction in DIRECTIONS:
                    maps = [self.atom_map(direction, c) for c in classes]
                    if any(mp is None for mp in maps):
                        indices: Iterable[int] = range(len(self.atoms))
                    else:
                        indices = sorted({i for mp in maps for i in mp}) if len(maps) > 1 else sorted(maps[0])
                    for i in indices:
                        atom = self.atoms[i]
                        got = [ConnSet.all() if mp is None else mp.get(i) for mp in maps]
                        got = [g for g in got if g]
                        if not got:
                            continue
                        conns = got[0]
                        for g in got[1:]:
                            conns = conns | g
                        partial = len(got) < len(classes) or any(g != conns for g in got)
                        key = (atom.id, w.id) if direction == "ingress" else (w.id, atom.id)
                        cells[key] = Cell(conns, self._uncertain(w.id, w.id), partial)
        m = Matrix(endpoints, cells, list(self.cluster.notes), "NetworkPolicy connectivity")
        return m

    def atom_map(self, direction: str, cls: int) -> dict[int, ConnSet] | None:
        """Atom index -> what class ``cls``'s ``direction`` allows with that address range.

        None means not isolated (every range, every port). Classes with the same rules share one map.
        Atoms are cut at every ipBlock boundary, so each block interval covers whole consecutive atoms.
        """
        rules = self.rules_of[direction][cls]
        named = self.classes[cls].named_ports if direction == "ingress" else frozenset()
        key: tuple = ("atoms", direction, tuple(id(cr) for cr in rules), bool(self.isolating[direction][cls]), named)
        if self.has_admin:  # classes with equal NetworkPolicy rules may still differ in admin rules
            key += (tuple(id(cr) for cr in self.admin_rules[direction][cls]),
                    tuple(id(cr) for cr in self.baseline_rules[direction][cls]))
        if key in self._cache:
            return self._cache[key]
        out: dict[int, ConnSet] | None = None
        if self.has_admin:
            out = {}
            for i, atom in enumerate(self.atoms):
                c = self._dir_to_atom(direction, cls, atom, named)
                if c:
                    out[i] = c
        elif self.isolating[direction][cls]:
            out = {}
            for cr in rules:
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
        self._cache[key] = out
        return out

    def workload_endpoint(self, w: Workload) -> Endpoint:
        extra: list[tuple[str, object]] = []
        if w.host_network:
            extra.append(("hostNetwork", True))
        return Endpoint(w.id, w.kind, w.namespace, w.name, tuple(sorted(w.labels.items())), group=w.namespace,
                        extra=tuple(extra))

    def _uncertain(self, s: str, d: str) -> bool:
        if self.options.all_uncertain:
            return True
        un = self.options.uncertain_namespaces
        return bool(un) and (s.split("/", 1)[0] in un or d.split("/", 1)[0] in un)

    # ------------------------------------------------------------------ explanations
    def direction_verdict(self, direction: str, own: int, peer: int | ExternalAtom, dst_named: frozenset,
                          peer_name: str) -> DirectionVerdict:
        """The full reasoning of one direction of one class against one peer (class or address range).

        With admin policies the reasons form the chain the API defines: the ANP rules that matched (in
        precedence order), then the NetworkPolicies for what ANPs passed or left, then the BANP.
        """
        selecting = list(dict.fromkeys(self.isolating[direction][own]))
        c = self.classes[own]
        if c.host_network:
            r = Reason(direction, "HOST_NETWORK", ConnSet.all(),
                       text="hostNetwork pod: NetworkPolicies do not select or isolate it; its traffic is the node's, matched "
                                 "only by ipBlocks that contain the node address (use --hostnetwork-as-pods to treat it as a pod)")
            return DirectionVerdict(ConnSet.all(), False, [], [r])
        reasons: list[Reason] = []
        allow = deny = decided = ConnSet.none()
        for cr in self.admin_rules[direction][own]:
            if not cr.matches(peer):
                continue
            conns = cr.conns(dst_named) - decided
            kind = {"Allow": "ANP_ALLOW", "Deny": "ANP_DENY", "Pass": "ANP_PASS"}[cr.rule.action]
            reasons.append(Reason(direction, kind, conns, text=_admin_text(cr, peer_name, conns, decided),
                                  admin=cr.policy, admin_rule=cr.rule))
            if cr.rule.action == "Allow":
                allow = allow | conns
            elif cr.rule.action == "Deny":
                deny = deny | conns
            decided = decided | conns
        rest = ConnSet.all() - (allow | deny)
        if not rest:
            return DirectionVerdict(allow, bool(selecting), selecting, reasons)
        if not selecting:
            banp_deny = banp_decided = ConnSet.none()
            for cr in self.baseline_rules[direction][own]:
                if not cr.matches(peer):
                    continue
                conns = (cr.conns(dst_named) - banp_decided) & rest
                reasons.append(Reason(direction, "BANP_ALLOW" if cr.rule.action == "Allow" else "BANP_DENY", conns,
                                      text=_admin_text(cr, peer_name, conns, banp_decided),
                                      admin=cr.policy, admin_rule=cr.rule))
                if cr.rule.action == "Deny":
                    banp_deny = banp_deny | conns
                banp_decided = banp_decided | conns
            default = rest - banp_decided
            if default:
                tail = " and no BaselineAdminNetworkPolicy rule matches" if self.has_admin else ""
                reasons.append(Reason(direction, "NOT_ISOLATED", default,
                                      text=f"no NetworkPolicy selects it for {direction}{tail}: not isolated, "
                                           f"{'everything' if default.is_all() else default.describe()} allowed"))
            return DirectionVerdict(allow | (rest - banp_deny), False, [], reasons)
        np_allowed = ConnSet.none()
        matched = False
        for cr in self.rules_of[direction][own]:
            if isinstance(peer, int):
                hit = bool(cr.classes & (1 << peer))
            else:
                hit = cr.addresses.contains_interval(peer.lo, peer.hi)
            if not hit:
                continue
            matched = True
            conns = cr.conns(dst_named) & rest
            reasons.append(Reason(direction, "ALLOWED_BY_RULE", conns, cr.policy, cr.rule,
                                  _rule_text(cr, peer_name, conns)))
            np_allowed = np_allowed | conns
        if not matched:
            names = ", ".join(p.id for p in selecting)
            has_rules = any(p.rules(direction) for p in selecting)
            kind = "NO_RULE_MATCHED" if has_rules else "SELECTED_NO_RULES"
            why = (f"isolated for {direction} by {names}; no {direction} rule matches {peer_name}" if has_rules
                   else f"isolated for {direction} by {names}, which allow no {direction} at all")
            reasons.append(Reason(direction, kind, ConnSet.none(), text=why))
        return DirectionVerdict(allow | np_allowed, True, selecting, reasons)

    def verdict_classes(self, a: int | ExternalAtom, b: int | ExternalAtom, src_name: str, dst_name: str) -> Verdict:
        """Verdict between two classes or a class and an address range."""
        dst_named = self.classes[b].named_ports if isinstance(b, int) else frozenset()
        if isinstance(a, int):
            eg = self.direction_verdict("egress", a, b, dst_named, dst_name)
        else:
            eg = DirectionVerdict(ConnSet.all(), False, [], [Reason("egress", "EXTERNAL", ConnSet.all(),
                                  text="source outside the cluster: no NetworkPolicy governs its egress")])
        if isinstance(b, int):
            ing = self.direction_verdict("ingress", b, a, dst_named, src_name)
        else:
            ing = DirectionVerdict(ConnSet.all(), False, [], [Reason("ingress", "EXTERNAL", ConnSet.all(),
                                   text="destination outside the cluster: no NetworkPolicy governs its ingress")])
        return Verdict(src_name, dst_name, eg, ing)

    def atom_for(self, address: str) -> ExternalAtom:
        """The external range that contains an IP address."""
        s = AddressSet.from_cidr(address + ("/128" if ":" in address else "/32"))
        lo, _ = s.intervals[0]
        i = bisect.bisect_right(self._piece_starts, lo) - 1
        if i >= 0 and self._pieces[i][0] <= lo <= self._pieces[i][1]:
            return self.atoms[self._pieces[i][2]]
        raise KeyError(address)


_ALL = ConnSet.all()


def iter_bits(bits: int) -> Iterator[int]:
    """Indices of the set bits of a non-negative int, ascending."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


def _rule_text(cr: CompiledRule, peer_name: str, conns: ConnSet) -> str:
    ports = cr.rule.describe_ports()
    got = conns.describe()
    via = "every peer" if cr.all_peers else " or ".join(p.describe(cr.policy.namespace) for p in cr.rule.peers or ())
    note = "" if conns else " (its named ports do not exist on the destination, so it opens nothing)"
    return f"{cr.policy.id} {cr.rule.direction} rule {cr.rule.index}: {via}; ports {ports} -> {got}{note}"


def _admin_text(cr: CompiledAdminRule, peer_name: str, conns: ConnSet, decided: ConnSet) -> str:
    r = cr.rule
    label = f" '{r.name}'" if r.name else ""
    via = " or ".join(p.describe() for p in r.peers)
    note = ""
    if not conns:
        note = " (every port it names was decided by an earlier rule)" if decided else " (its named ports do not exist)"
    return (f"{cr.policy.id} {r.direction} rule {r.index}{label}: {r.action} {via}; ports {r.describe_ports()}"
            f" -> {conns.describe()}{note}")


def _atom_name(group: tuple[tuple[int, int], ...], cidrs: tuple[str, ...],
               written: list[tuple[str, AddressSet]]) -> str:
    """A readable id in the policies' own words: a CIDR, '0.0.0.0/0 except 10.0.0.0/8, ...',
    '10.0.0.0/8, 172.16.0.0/12 except 10.0.0.0/24', or else the ranges."""
    if len(cidrs) == 1:
        return cidrs[0]
    mine = AddressSet(group)
    v6 = group[0][0] >= 2**32
    whole_text = "::/0" if v6 else "0.0.0.0/0"
    pool = written + [(whole_text, AddressSet.from_cidr(whole_text))]

    def inside(a: AddressSet, b: AddressSet) -> bool:
        # b is small (a CIDR is one interval; a union of a few): interval containment, no set algebra
        return all(any(c <= lo and hi <= d for c, d in b.intervals) for lo, hi in a.intervals)

    def maximal(items: list[tuple[str, AddressSet]]) -> list[tuple[str, AddressSet]]:
        """The items no other item contains (order kept). CIDRs are single intervals: sort and sweep."""
        if any(len(x.intervals) != 1 for _, x in items):
            return [(w, x) for w, x in items if not any(y != x and inside(x, y) for _, y in items)]
        keep: set[str] = set()
        max_hi = -1
        for w, x in sorted(items, key=lambda wx: (wx[1].intervals[0][0], -wx[1].intervals[0][1])):
            if x.intervals[0][1] > max_hi:
                keep.add(w)
                max_hi = x.intervals[0][1]
        return [(w, x) for w, x in items if w in keep]

    bases: list[list[tuple[str, AddressSet]]] = []
    lo_min, hi_max = group[0][0], group[-1][1]
    # a written CIDR is one interval: it contains the group iff it spans the group's first and last address
    containers = sorted((ws for ws in pool if ws[1].intervals[0][0] <= lo_min and hi_max <= ws[1].intervals[-1][1]
                         and len(ws[1].intervals) == 1),
                        key=lambda ws: ws[1].intervals[0][1] - ws[1].intervals[0][0])
    bases.extend([c] for c in containers[:1])
    touching = maximal([(w, x) for w, x in written
                        if any(c <= hi and lo <= d for c, d in x.intervals for lo, hi in mine.intervals)])
    if touching:
        bases.append(touching)
    for base in bases:
        union = AddressSet()
        for _, x in base:
            union = union | x
        if not inside(mine, union):
            continue
        holes = union - mine
        names = [w for w, _ in base]
        if not holes.intervals:
            return ", ".join(names)
        fill = maximal([(w, x) for w, x in written if x.intervals and inside(x, holes)])
        covered = AddressSet()
        for _, x in fill:
            covered = covered | x
        if fill and covered == holes:
            return f"{', '.join(names)} except {', '.join(w for w, _ in fill)}"
    return ", ".join(interval_text(lo, hi) for lo, hi in group)
