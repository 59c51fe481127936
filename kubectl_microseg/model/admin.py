"""Provides the cluster-wide admin policies, validated: ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2,
network-policy-api v0.2.0) and its deprecated predecessors AdminNetworkPolicy and BaselineAdminNetworkPolicy
(v1alpha1). Both become one ``AdminPolicy`` with a tier (Admin or Baseline), a priority and ordered rules
whose action is accept, deny or pass (v1alpha1 ``Allow`` is ``Accept``).

ClusterNetworkPolicy (apis/v1alpha2/clusternetworkpolicy_types.go and the CRD of v0.2.0):
- ``tier`` Admin (before NetworkPolicy) or Baseline (after it); ``priority`` 0..1000, lower first within the
  tier; "If two (or more) policies in the same tier with the same priority could match a connection, then
  the implementation can apply any of the matching policies": undefined, we order by name and warn.
- ``subject``: exactly one of ``namespaces`` or ``pods`` (``namespaceSelector`` optional, ``podSelector``
  required); host-networked pods are never subjects nor ``namespaces``/``pods`` peers.
- rules (at most 25 per direction) in written order; ``Accept`` and ``Deny`` are final, ``Pass`` skips the
  rest of the tier. ``from``/``to``: 1..25 peers; ingress peers are ``namespaces`` or ``pods``; egress also
  ``networks`` (1..25 CIDRs), ``nodes`` and ``domainNames`` (experimental channel). A peer with no field
  this version knows "fails closed": it matches nothing in an Accept rule, and makes a Deny or Pass rule a
  "Deny all" rule.
- ``protocols`` (1..25; none: every protocol and port): exactly one of ``tcp``, ``udp``, ``sctp`` (each with
  a ``destinationPort`` of exactly one of ``number`` or ``range`` with start < end) or
  ``destinationNamedPort``; a named port may not be combined with networks/nodes/domainNames peers.

v1alpha1 (apis/v1alpha1):

Semantics (network-policy-api, API overview and apis/v1alpha1 types):
- ANPs are cluster-scoped, with ``priority`` 0..1000; a lower number takes precedence. Two ANPs with the
  same priority: the behaviour is undefined; we order by name and warn.
- ``subject`` is exactly one of ``namespaces`` (a LabelSelector) or ``pods`` (namespaceSelector and
  podSelector, both required).
- Rules have ``action`` Allow, Deny or Pass (BANP: Allow or Deny); within a policy the first rule that
  matches a connection decides it; Pass hands it to the NetworkPolicy layer.
- A peer is exactly one of ``namespaces``, ``pods`` (ingress and egress), ``networks`` (CIDRs) or
  ``nodes`` (egress only). Ports: exactly one of ``portNumber``, ``namedPort`` or ``portRange``; no
  ``ports`` means every port.
- A policy affects a direction only when it has rules in it. The BaselineAdminNetworkPolicy is a
  singleton named ``default``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

from ..vocab import Direction, StrEnum
from .addresses import AddressSet, network_interval
from .policy import FieldError, Path, _cidr, _list, _map, parse_label_selector, type_name
from .ports import MAX_PORT, MIN_PORT, ConnSet
from .selectors import LabelSelector
from .validation import check_known_fields

ANP_KIND = "AdminNetworkPolicy"
BANP_KIND = "BaselineAdminNetworkPolicy"
CNP_KIND = "ClusterNetworkPolicy"
ADMIN_KINDS = (CNP_KIND, ANP_KIND, BANP_KIND)
CNP_API_VERSION = "policy.networking.k8s.io/v1alpha2"
PROTOCOLS = ("TCP", "UDP", "SCTP")
MAX_ITEMS = 25
"""v1alpha2's limit on rules per direction, peers per rule, protocols, networks and domain names."""


class Tier(StrEnum):
    """Where a cluster-wide policy sits: before (Admin) or after (Baseline) the NetworkPolicy tier."""

    ADMIN = "Admin"
    BASELINE = "Baseline"


class Action(StrEnum):
    """What a matching rule does to the ports it names."""

    ACCEPT = "accept"
    DENY = "deny"
    PASS = "pass"


class RuleAction(StrEnum):
    """A rule's ``action`` as written (kept for messages and reason kinds: ANP_ALLOW, ADMIN_ACCEPT, ...)."""

    ALLOW = "Allow"
    """v1alpha1 (AdminNetworkPolicy, BaselineAdminNetworkPolicy)."""
    ACCEPT = "Accept"
    """v1alpha2 (ClusterNetworkPolicy)."""
    DENY = "Deny"
    PASS = "Pass"


ANP_ACTIONS = (RuleAction.ALLOW, RuleAction.DENY, RuleAction.PASS)
BANP_ACTIONS = (RuleAction.ALLOW, RuleAction.DENY)
CNP_ACTIONS = (RuleAction.ACCEPT, RuleAction.DENY, RuleAction.PASS)
_ACTIONS = {RuleAction.ALLOW: Action.ACCEPT, RuleAction.ACCEPT: Action.ACCEPT, RuleAction.DENY: Action.DENY,
            RuleAction.PASS: Action.PASS}


@dataclass(frozen=True)
class Subject:
    """Whom a policy applies to: every pod of some namespaces, or some pods of some namespaces."""

    namespace_selector: LabelSelector
    pod_selector: LabelSelector | None
    """None when the subject is ``namespaces`` (every pod of them)."""


@dataclass(frozen=True)
class AdminPeer:
    namespaces: LabelSelector | None = None
    pods: tuple[LabelSelector, LabelSelector] | None = None
    """(namespaceSelector, podSelector)."""
    networks: AddressSet | None = None
    networks_text: str = ""
    nodes: LabelSelector | None = None
    domain_names: tuple[str, ...] | None = None
    fail_closed: bool = False
    """A peer with no field this version knows (network-policy-api: "fail closed")."""

    @property
    def evaluable(self) -> bool:
        """False for peers whose addresses the input cannot give (nodes, domain names)."""
        return self.nodes is None and self.domain_names is None

    def describe(self) -> str:
        if self.namespaces is not None:
            return f"namespaces [{self.namespaces.describe()}]"
        if self.pods is not None:
            return f"pods [{self.pods[1].describe()}] in namespaces [{self.pods[0].describe()}]"
        if self.networks is not None:
            return f"networks {self.networks_text}"
        if self.domain_names is not None:
            return f"domain names {', '.join(self.domain_names)}"
        if self.fail_closed:
            return "a peer of an unknown type (fails closed)"
        return f"nodes [{self.nodes.describe() if self.nodes else ''}]"


@dataclass(frozen=True)
class AdminPort:
    protocol: str = "TCP"
    start: int | None = None
    end: int | None = None
    name: str | None = None

    def resolve(self, named_ports: frozenset[tuple[str, str, int]]) -> ConnSet:
        if self.name is not None:
            # a namedPort is looked up on the destination pod's containers by name; its protocol is
            # the container port's (network-policy-api: "NamedPort selects a port on a pod(s) based on name")
            out = ConnSet.none()
            for n, proto, num in named_ports:
                if n == self.name:
                    out = out | ConnSet.ports(proto, num)
            return out
        assert self.start is not None
        return ConnSet.ports(self.protocol, self.start, self.end)

    def describe(self) -> str:
        if self.name is not None:
            return f"named port {self.name}"
        if self.end is not None and self.end != self.start:
            return f"{self.protocol} {self.start}-{self.end}"
        return f"{self.protocol} {self.start}"


@dataclass(frozen=True)
class AdminRule:
    direction: Direction
    index: int
    name: str
    action: RuleAction
    peers: tuple[AdminPeer, ...]
    ports: tuple[AdminPort, ...] | None
    path: Path
    note: str = ""
    """Set when the rule is not evaluated as written (a peer that fails closed)."""

    def __hash__(self) -> int:
        return hash((self.direction, self.index, self.path))

    @property
    def effect(self) -> Action:
        return _ACTIONS[self.action]

    def conns_for(self, named_ports: frozenset[tuple[str, str, int]]) -> ConnSet:
        if self.ports is None:
            return ConnSet.all()
        out = ConnSet.none()
        for p in self.ports:
            out = out | p.resolve(named_ports)
        return out

    def describe_ports(self) -> str:
        return "all ports" if self.ports is None else ", ".join(p.describe() for p in self.ports)


@dataclass(frozen=True)
class AdminPolicy:
    kind: str
    """ClusterNetworkPolicy, AdminNetworkPolicy or BaselineAdminNetworkPolicy."""
    name: str
    priority: int
    """Precedence within the tier, lower first (the v1alpha1 BANP: a value after every other)."""
    subject: Subject
    ingress: tuple[AdminRule, ...]
    egress: tuple[AdminRule, ...]
    tier: Tier = Tier.ADMIN

    @property
    def id(self) -> str:
        short = {CNP_KIND: "CNP", ANP_KIND: "ANP", BANP_KIND: "BANP"}[self.kind]
        return f"[{short}] {self.name}"

    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    @property
    def is_baseline(self) -> bool:
        return self.tier is Tier.BASELINE

    @property
    def deprecated(self) -> bool:
        """v1alpha1 (ANP/BANP): replaced by ClusterNetworkPolicy in network-policy-api v0.2.0."""
        return self.kind != CNP_KIND

    def rules(self, direction: Direction) -> tuple[AdminRule, ...]:
        return self.ingress if direction == Direction.INGRESS else self.egress


def _selector(value: Any, path: Path) -> LabelSelector:
    if value is None:
        raise FieldError(path, "Required value")
    return parse_label_selector(value, path)


def _pods(value: Any, path: Path) -> tuple[LabelSelector, LabelSelector]:
    """NamespacedPod: both selectors are required by the CRD (every field of the API package is, unless
    marked optional); ``{}`` selects everything."""
    m = _map(value, path, required=True)
    assert m is not None
    for key in ("namespaceSelector", "podSelector"):
        if m.get(key) is None:
            raise FieldError(path + (key,), "Required value")
    return parse_label_selector(m["namespaceSelector"], path + ("namespaceSelector",)), \
        parse_label_selector(m["podSelector"], path + ("podSelector",))


def _exactly_one(m: Mapping[str, Any], keys: tuple[str, ...], path: Path, what: str) -> str:
    present = [k for k in keys if m.get(k) is not None]
    unknown = [k for k in m if k not in keys]
    if unknown:
        raise FieldError(path + (unknown[0],), f"unknown field ({what} has {', '.join(keys)})")
    if len(present) != 1:
        raise FieldError(path, f"exactly one of {', '.join(keys)} must be set in {what}")
    return present[0]


def parse_subject(value: Any, path: Path) -> Subject:
    m = _map(value, path, required=True)
    assert m is not None
    key = _exactly_one(m, ("namespaces", "pods"), path, "a subject")
    if key == "namespaces":
        return Subject(_selector(m["namespaces"], path + ("namespaces",)), None)
    ns, pod = _pods(m["pods"], path + ("pods",))
    return Subject(ns, pod)


def parse_admin_peer(value: Any, path: Path, direction: str) -> AdminPeer:
    m = _map(value, path, required=True)
    assert m is not None
    keys = ("namespaces", "pods") if direction == Direction.INGRESS else ("namespaces", "pods", "networks", "nodes")
    key = _exactly_one(m, keys, path, "a peer")
    if key == "namespaces":
        return AdminPeer(namespaces=_selector(m[key], path + (key,)))
    if key == "pods":
        return AdminPeer(pods=_pods(m[key], path + (key,)))
    if key == "nodes":
        return AdminPeer(nodes=_selector(m[key], path + (key,)))
    nets = _list(m[key], path + (key,)) or []
    if not nets:
        raise FieldError(path + (key,), "must have at least 1 item")
    if len(nets) > 25:  # +kubebuilder:validation:MaxItems=25
        raise FieldError(path + (key,), f"must have at most 25 items (got {len(nets)})")
    addrs = AddressSet()
    for i, n in enumerate(nets):
        if not isinstance(n, str):
            raise FieldError(path + (key, i), f"must be a string, not {type_name(n)}")
        addrs = addrs | AddressSet([network_interval(_cidr(n, path + (key, i)))])
    return AdminPeer(networks=addrs, networks_text=", ".join(nets))


def parse_admin_ports(value: Any, path: Path) -> tuple[AdminPort, ...] | None:
    items = _list(value, path)
    if items is None:
        return None
    if not items:  # +kubebuilder:validation:MinItems=1 (an absent ports means every port; [] is refused)
        raise FieldError(path, "must have at least 1 item")
    out = []
    for i, item in enumerate(items):
        p = path + (i,)
        m = _map(item, p, required=True)
        assert m is not None
        key = _exactly_one(m, ("portNumber", "namedPort", "portRange"), p, "a port")
        if key == "namedPort":
            if not isinstance(m[key], str) or not m[key]:
                raise FieldError(p + (key,), "must be a port name")
            out.append(AdminPort(name=m[key]))
            continue
        pm = _map(m[key], p + (key,), required=True)
        assert pm is not None
        proto = pm.get("protocol") or "TCP"
        if proto not in PROTOCOLS:
            raise FieldError(p + (key, "protocol"), f'Unsupported value: {proto!r}: supported values: "TCP", "UDP", "SCTP"')
        if key == "portNumber":
            port = _port(pm.get("port"), p + (key, "port"))
            out.append(AdminPort(proto, port, port))
        else:
            start = _port(pm.get("start"), p + (key, "start"))
            end = _port(pm.get("end"), p + (key, "end"))
            if end < start:
                raise FieldError(p + (key, "end"), f"must be greater than or equal to start ({end} < {start})")
            out.append(AdminPort(proto, start, end))
    return tuple(out)


def _port(value: Any, path: Path) -> int:
    """``value`` when it is a port number (1-65535); else the API's validation error."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(path, f"must be a number, not {type_name(value)}" if value is not None else "Required value")
    if not MIN_PORT <= value <= MAX_PORT:
        raise FieldError(path, f"must be between 1 and 65535, inclusive (got {value})")
    return value


def parse_admin_rules(value: Any, direction: Direction, path: Path, baseline: bool) -> tuple[AdminRule, ...]:
    items = _list(value, path) or []
    if len(items) > 100:
        raise FieldError(path, f"must have at most 100 items (got {len(items)})")
    peer_key = "from" if direction == Direction.INGRESS else "to"
    actions = BANP_ACTIONS if baseline else ANP_ACTIONS
    out = []
    for i, item in enumerate(items):
        p = path + (i,)
        m = _map(item, p, required=True)
        assert m is not None
        check_known_fields(m, ("name", "action", peer_key, "ports"), p, f"an {direction} rule")
        name, action = _rule_name(m, p), _rule_action(m, p, actions)
        peers_raw = _list(m.get(peer_key), p + (peer_key,)) or []
        if not peers_raw:
            raise FieldError(p + (peer_key,), "must have at least 1 item")
        peers = tuple(parse_admin_peer(x, p + (peer_key, j), direction) for j, x in enumerate(peers_raw))
        ports = parse_admin_ports(m.get("ports"), p + ("ports",))
        out.append(AdminRule(direction, i + 1, name, action, peers, ports, p))
    return tuple(out)


def _rule_name(m: Mapping[str, Any], p: Path) -> str:
    """A rule's optional ``name``: at most 100 characters (both API versions)."""
    name = m.get("name") or ""
    if not isinstance(name, str) or len(name) > 100:
        raise FieldError(p + ("name",), "must be a string of at most 100 characters")
    return name


def _rule_action(m: Mapping[str, Any], p: Path, allowed: tuple[RuleAction, ...]) -> RuleAction:
    """A rule's ``action`` as written, one of ``allowed`` (the API's enum for that kind)."""
    written = m.get("action")
    if not isinstance(written, str) or written not in allowed:
        raise FieldError(p + ("action",), f"Unsupported value: {written!r}: supported values: "
                         + ", ".join(f'"{a}"' for a in allowed))
    return RuleAction(written)


def parse_admin_policy(raw: Mapping[str, Any]) -> AdminPolicy:
    """Validate one AdminNetworkPolicy or BaselineAdminNetworkPolicy (a dict). Raises FieldError."""
    kind = raw.get("kind")
    baseline = kind == BANP_KIND
    meta = _map(raw.get("metadata"), ("metadata",), required=True)
    assert meta is not None
    name = meta.get("name")
    if not name or not isinstance(name, str):
        raise FieldError(("metadata", "name"), "Required value")
    if baseline and name != "default":
        raise FieldError(("metadata", "name"), "a BaselineAdminNetworkPolicy must be named 'default' (it is a singleton)")
    spec = _map(raw.get("spec"), ("spec",), required=True)
    assert spec is not None
    check_known_fields(spec, ("subject", "ingress", "egress") if baseline else ("priority", "subject", "ingress",
                                                                                "egress"), ("spec",), "spec")
    if baseline:
        priority = 1 << 30
    else:
        given = spec.get("priority")
        if isinstance(given, bool) or not isinstance(given, int):
            raise FieldError(("spec", "priority"), "Required value: a number from 0 to 1000")
        priority = given
        if not 0 <= priority <= 1000:
            raise FieldError(("spec", "priority"), f"must be between 0 and 1000 (got {priority})")
    subject = parse_subject(spec.get("subject"), ("spec", "subject"))
    ingress = parse_admin_rules(spec.get("ingress"), Direction.INGRESS, ("spec", "ingress"), baseline)
    egress = parse_admin_rules(spec.get("egress"), Direction.EGRESS, ("spec", "egress"), baseline)
    return AdminPolicy(str(kind), name, priority, subject, ingress, egress,
                       Tier.BASELINE if baseline else Tier.ADMIN)


# ---------------------------------------------------------------------- v1alpha2 ClusterNetworkPolicy
# The CRD's DomainName pattern (v0.2.0, experimental channel), as written there (its `A-z` included).
_DOMAIN = re.compile(r"^(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$")
_PEER_FIELDS = {"ingress": ("namespaces", "pods"),
                "egress": ("namespaces", "pods", "networks", "nodes", "domainNames")}


def _items(value: Any, path: Path, *, required: bool = False) -> list[Any]:
    """A list of 1..25 items (the CRD's MinItems/MaxItems); absent: [] unless required."""
    items = _list(value, path)
    if items is None:
        if required:
            raise FieldError(path, "Required value")
        return []
    if not items:
        raise FieldError(path, "must have at least 1 item")
    if len(items) > MAX_ITEMS:
        raise FieldError(path, f"must have at most {MAX_ITEMS} items (got {len(items)})")
    return items


def _cnp_pods(value: Any, path: Path) -> tuple[LabelSelector, LabelSelector]:
    """v1alpha2 NamespacedPod: ``namespaceSelector`` is optional (absent or {}: every namespace),
    ``podSelector`` required."""
    m = _map(value, path, required=True)
    assert m is not None
    check_known_fields(m, ("namespaceSelector", "podSelector"), path, "pods")
    if m.get("podSelector") is None:
        raise FieldError(path + ("podSelector",), "Required value")
    ns = m.get("namespaceSelector")
    return (parse_label_selector(ns if ns is not None else {}, path + ("namespaceSelector",)),
            parse_label_selector(m["podSelector"], path + ("podSelector",)))


def _one_of(m: Mapping[str, Any], keys: tuple[str, ...], path: Path, what: str) -> str:
    """The CRD's MinProperties=1/MaxProperties=1: exactly one field. Unlike v1alpha1's ``_exactly_one`` an
    unknown key counts as the one field: a v1alpha2 peer of a newer type must fail closed (see _cnp_peer)."""
    present = [k for k in m if m.get(k) is not None]
    if len(present) != 1:
        raise FieldError(path, f"exactly one of {', '.join(keys)} must be set in {what} (got {len(present)})")
    return present[0]


def _cnp_subject(value: Any, path: Path) -> Subject:
    m = _map(value, path, required=True)
    assert m is not None
    key = _one_of(m, ("namespaces", "pods"), path, "a subject")
    if key == "namespaces":
        return Subject(parse_label_selector(m[key], path + (key,)), None)
    if key == "pods":
        ns, pod = _cnp_pods(m[key], path + (key,))
        return Subject(ns, pod)
    raise FieldError(path + (key,), "unknown field (a subject has namespaces, pods)")


def _cnp_peer(value: Any, path: Path, direction: str) -> AdminPeer:
    m = _map(value, path, required=True)
    assert m is not None
    keys = _PEER_FIELDS[direction]
    key = _one_of(m, keys, path, "a peer")
    if key not in keys:
        # "If an implementation sees no fields are set then it can infer that the deployed CRD is of an
        # incompatible version with an unknown field. In that case it should fail closed."
        if key in _PEER_FIELDS["egress"]:
            raise FieldError(path + (key,), f"not allowed in an {direction} peer (it has {', '.join(keys)})")
        return AdminPeer(fail_closed=True)
    if key == "namespaces":
        return AdminPeer(namespaces=parse_label_selector(m[key], path + (key,)))
    if key == "pods":
        return AdminPeer(pods=_cnp_pods(m[key], path + (key,)))
    if key == "nodes":
        return AdminPeer(nodes=parse_label_selector(m[key], path + (key,)))
    items = _items(m[key], path + (key,))
    for i, x in enumerate(items):
        if not isinstance(x, str):
            raise FieldError(path + (key, i), f"must be a string, not {type_name(x)}")
    if len(set(items)) != len(items):  # +listType=set
        raise FieldError(path + (key,), "Duplicate value: the items are a set")
    if key == "domainNames":
        for i, x in enumerate(items):
            if not _DOMAIN.match(x):
                raise FieldError(path + (key, i), f"invalid domain name {x!r}: an exact name, or '*.' and a name")
        return AdminPeer(domain_names=tuple(items))
    addrs = AddressSet()
    for i, n in enumerate(items):
        if len(n) > 43:
            raise FieldError(path + (key, i), "may not be longer than 43 characters")
        addrs = addrs | AddressSet([network_interval(_cidr(n, path + (key, i)))])
    return AdminPeer(networks=addrs, networks_text=", ".join(items))


def _cnp_protocols(value: Any, path: Path) -> tuple[AdminPort, ...] | None:
    """``protocols``: absent means every protocol and port ("protocol-specific attributes will not be used")."""
    if value is None:
        return None
    out = []
    for i, item in enumerate(_items(value, path)):
        p = path + (i,)
        m = _map(item, p, required=True)
        assert m is not None
        key = _one_of(m, ("tcp", "udp", "sctp", "destinationNamedPort"), p, "a protocol")
        if key == "destinationNamedPort":
            if not isinstance(m[key], str) or not m[key]:
                raise FieldError(p + (key,), "must be a port name")
            out.append(AdminPort(name=m[key]))
            continue
        if key not in ("tcp", "udp", "sctp"):
            raise FieldError(p + (key,), "unknown field (a protocol has tcp, udp, sctp, destinationNamedPort)")
        pm = _map(m[key], p + (key,), required=True)
        assert pm is not None
        check_known_fields(pm, ("destinationPort",), p + (key,), key)
        dp = pm.get("destinationPort")
        if dp is None:  # the CRD: MinProperties=1 on the protocol's attributes
            raise FieldError(p + (key, "destinationPort"), "Required value: the protocol needs a destinationPort")
        dm = _map(dp, p + (key, "destinationPort"), required=True)
        assert dm is not None
        dkey = _one_of(dm, ("number", "range"), p + (key, "destinationPort"), "a destinationPort")
        proto = key.upper()
        if dkey == "number":
            _port(dm[dkey], p + (key, "destinationPort", "number"))
            out.append(AdminPort(proto, dm[dkey], dm[dkey]))
        elif dkey == "range":
            rp = p + (key, "destinationPort", "range")
            rm = _map(dm[dkey], rp, required=True)
            assert rm is not None
            check_known_fields(rm, ("start", "end"), rp, "a range")
            _port(rm.get("start"), rp + ("start",))
            _port(rm.get("end"), rp + ("end",))
            if not rm["start"] < rm["end"]:  # the CRD's CEL rule self.start < self.end
                raise FieldError(rp, "Start port must be less than End port")
            out.append(AdminPort(proto, rm["start"], rm["end"]))
        else:
            raise FieldError(p + (key, "destinationPort", dkey), "unknown field (a destinationPort has number, range)")
    return tuple(out)


def _cnp_rules(value: Any, direction: Direction, path: Path) -> tuple[AdminRule, ...]:
    peer_key = "from" if direction == Direction.INGRESS else "to"
    out = []
    for i, item in enumerate(_items(value, path)):
        p = path + (i,)
        m = _map(item, p, required=True)
        assert m is not None
        check_known_fields(m, ("name", "action", peer_key, "protocols"), p, f"an {direction} rule")
        name, action = _rule_name(m, p), _rule_action(m, p, CNP_ACTIONS)
        peers = tuple(_cnp_peer(x, p + (peer_key, j), direction)
                      for j, x in enumerate(_items(m.get(peer_key), p + (peer_key,), required=True)))
        ports = _cnp_protocols(m.get("protocols"), p + ("protocols",))
        if ports and any(pt.name for pt in ports) and any(
                x.networks is not None or x.nodes is not None or x.domain_names is not None for x in peers):
            raise FieldError(p, "networks/nodes/domainNames peer cannot be set with namedPorts since there are "
                                "no namedPorts for networks/nodes/domainNames")
        note = ""
        if any(x.fail_closed for x in peers):
            note = "a peer of a type this version does not know: fails closed (network-policy-api: "
            if action is RuleAction.ACCEPT:
                note += "for Accept rules it matches no traffic)"
            else:
                # "For "Deny" and "Pass" rules, "fail closed" means: "treat the rule as a 'Deny all' rule"."
                note += f"a {action} rule becomes a 'Deny all' rule)"
                peers, ports, action = (AdminPeer(namespaces=LabelSelector()),
                                        AdminPeer(networks=AddressSet.everything(), networks_text="0.0.0.0/0, ::/0")), None, RuleAction.DENY
        out.append(AdminRule(direction, i + 1, name, action, peers, ports, p, note))
    return tuple(out)


def parse_cluster_network_policy(raw: Mapping[str, Any]) -> AdminPolicy:
    """Validate one ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2). Raises FieldError."""
    meta = _map(raw.get("metadata"), ("metadata",), required=True)
    assert meta is not None
    name = meta.get("name")
    if not name or not isinstance(name, str):
        raise FieldError(("metadata", "name"), "Required value")
    spec = _map(raw.get("spec"), ("spec",), required=True)
    assert spec is not None
    check_known_fields(spec, ("tier", "priority", "subject", "ingress", "egress"), ("spec",), "spec")
    tier = spec.get("tier")
    if tier not in (Tier.ADMIN.value, Tier.BASELINE.value):
        raise FieldError(("spec", "tier"), f'Unsupported value: {tier!r}: supported values: "Admin", "Baseline"'
                         if tier is not None else 'Required value: "Admin" or "Baseline"')
    priority = spec.get("priority")
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise FieldError(("spec", "priority"), "Required value: a number from 0 to 1000")
    if not 0 <= priority <= 1000:
        raise FieldError(("spec", "priority"), f"must be between 0 and 1000 (got {priority})")
    subject = _cnp_subject(spec.get("subject"), ("spec", "subject"))
    ingress = _cnp_rules(spec.get("ingress"), Direction.INGRESS, ("spec", "ingress"))
    egress = _cnp_rules(spec.get("egress"), Direction.EGRESS, ("spec", "egress"))
    return AdminPolicy(CNP_KIND, name, priority, subject, ingress, egress, Tier(tier))


def parse_any_admin_policy(raw: Mapping[str, Any]) -> AdminPolicy:
    """A ClusterNetworkPolicy, AdminNetworkPolicy or BaselineAdminNetworkPolicy by its kind."""
    return parse_cluster_network_policy(raw) if raw.get("kind") == CNP_KIND else parse_admin_policy(raw)
