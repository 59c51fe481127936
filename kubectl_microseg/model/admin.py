"""Provides AdminNetworkPolicy and BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1), validated.

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

from dataclasses import dataclass
from typing import Any, Mapping

from .addresses import AddressSet, network_interval
from .policy import FieldError, Path, _cidr, _list, _map, parse_label_selector, type_name
from .ports import MAX_PORT, MIN_PORT, ConnSet
from .selectors import LabelSelector
from .validation import check_known_fields

ANP_KIND = "AdminNetworkPolicy"
BANP_KIND = "BaselineAdminNetworkPolicy"
PROTOCOLS = ("TCP", "UDP", "SCTP")


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

    def describe(self) -> str:
        if self.namespaces is not None:
            return f"namespaces [{self.namespaces.describe()}]"
        if self.pods is not None:
            return f"pods [{self.pods[1].describe()}] in namespaces [{self.pods[0].describe()}]"
        if self.networks is not None:
            return f"networks {self.networks_text}"
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
    direction: str
    index: int
    name: str
    action: str
    peers: tuple[AdminPeer, ...]
    ports: tuple[AdminPort, ...] | None
    path: Path

    def __hash__(self) -> int:
        return hash((self.direction, self.index, self.path))

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
    """AdminNetworkPolicy or BaselineAdminNetworkPolicy."""
    name: str
    priority: int
    """ANP priority (BANP: a value after every ANP)."""
    subject: Subject
    ingress: tuple[AdminRule, ...]
    egress: tuple[AdminRule, ...]

    @property
    def id(self) -> str:
        return f"[{'ANP' if self.kind == ANP_KIND else 'BANP'}] {self.name}"

    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    @property
    def is_baseline(self) -> bool:
        return self.kind == BANP_KIND

    def rules(self, direction: str) -> tuple[AdminRule, ...]:
        return self.ingress if direction == "ingress" else self.egress


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
    keys = ("namespaces", "pods") if direction == "ingress" else ("namespaces", "pods", "networks", "nodes")
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
            port = pm.get("port")
            _port(port, p + (key, "port"))
            out.append(AdminPort(proto, port, port))
        else:
            start, end = pm.get("start"), pm.get("end")
            _port(start, p + (key, "start"))
            _port(end, p + (key, "end"))
            if end < start:
                raise FieldError(p + (key, "end"), f"must be greater than or equal to start ({end} < {start})")
            out.append(AdminPort(proto, start, end))
    return tuple(out)


def _port(value: Any, path: Path) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(path, f"must be a number, not {type_name(value)}" if value is not None else "Required value")
    if not MIN_PORT <= value <= MAX_PORT:
        raise FieldError(path, f"must be between 1 and 65535, inclusive (got {value})")


def parse_admin_rules(value: Any, direction: str, path: Path, baseline: bool) -> tuple[AdminRule, ...]:
    items = _list(value, path) or []
    if len(items) > 100:
        raise FieldError(path, f"must have at most 100 items (got {len(items)})")
    peer_key = "from" if direction == "ingress" else "to"
    actions = ("Allow", "Deny") if baseline else ("Allow", "Deny", "Pass")
    out = []
    for i, item in enumerate(items):
        p = path + (i,)
        m = _map(item, p, required=True)
        assert m is not None
        check_known_fields(m, ("name", "action", peer_key, "ports"), p, f"an {direction} rule")
        name = m.get("name") or ""
        if not isinstance(name, str) or len(name) > 100:
            raise FieldError(p + ("name",), "must be a string of at most 100 characters")
        action = m.get("action")
        if action not in actions:
            raise FieldError(p + ("action",), f"Unsupported value: {action!r}: supported values: "
                             + ", ".join(f'"{a}"' for a in actions))
        peers_raw = _list(m.get(peer_key), p + (peer_key,)) or []
        if not peers_raw:
            raise FieldError(p + (peer_key,), "must have at least 1 item")
        peers = tuple(parse_admin_peer(x, p + (peer_key, j), direction) for j, x in enumerate(peers_raw))
        ports = parse_admin_ports(m.get("ports"), p + ("ports",))
        out.append(AdminRule(direction, i + 1, name, action, peers, ports, p))
    return tuple(out)


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
        priority = spec.get("priority")
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise FieldError(("spec", "priority"), "Required value: a number from 0 to 1000")
        if not 0 <= priority <= 1000:
            raise FieldError(("spec", "priority"), f"must be between 0 and 1000 (got {priority})")
    subject = parse_subject(spec.get("subject"), ("spec", "subject"))
    ingress = parse_admin_rules(spec.get("ingress"), "ingress", ("spec", "ingress"), baseline)
    egress = parse_admin_rules(spec.get("egress"), "egress", ("spec", "egress"), baseline)
    return AdminPolicy(str(kind), name, priority, subject, ingress, egress)
