"""Provides Calico's policy objects, read from files: NetworkPolicy, GlobalNetworkPolicy, Tier, NetworkSet,
GlobalNetworkSet and the staged kinds, in the ``projectcalico.org/v3`` API form and the
``crd.projectcalico.org/v1`` storage form found in etcd/CRD dumps (same ``spec``).

References (docs.tigera.io/calico/latest/reference/resources/): networkpolicy, globalnetworkpolicy, tier,
networkset, globalnetworkset, stagednetworkpolicy, stagedglobalnetworkpolicy,
stagedkubernetesnetworkpolicy; the Rule, EntityRule, Ports and ServiceAccountMatch sections of
networkpolicy. Fields the tool reads but does not evaluate (host endpoints, preDNAT, applyOnForward,
doNotTrack, ICMP matches, HTTP matches, ``services``) are listed in ``unevaluated`` so that every view
can say so: never silently ignored.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping

from . import calico_selector as sel
from .policy import FieldError, PolicyType
from .ports import ConnSet
from .validation import check_known_fields
from .objects import FieldPath
from ..vocab import Direction, StrEnum

Path = FieldPath

API_GROUPS = ("projectcalico.org/v3", "crd.projectcalico.org/v1")
POLICY_KINDS = ("NetworkPolicy", "GlobalNetworkPolicy")
STAGED_KINDS = ("StagedNetworkPolicy", "StagedGlobalNetworkPolicy", "StagedKubernetesNetworkPolicy")
SET_KINDS = ("NetworkSet", "GlobalNetworkSet")
CALICO_KINDS = POLICY_KINDS + STAGED_KINDS + SET_KINDS + ("Tier",)
NAMESPACED = frozenset(("NetworkPolicy", "StagedNetworkPolicy", "StagedKubernetesNetworkPolicy", "NetworkSet"))

DEFAULT_TIER = "default"
DEFAULT_TIER_ORDER = 1_000_000.0
"""Tier reference: the default tier "is created automatically ... with order 1,000,000" (it is evaluated
after every tier with a lower order); a Tier without ``order`` comes last ("nil order ... treated as
infinite")."""
K8S_POLICY_ORDER = 1000.0
"""Kubernetes NetworkPolicies are placed in the default tier with order 1000 (tiered-policy page: "Kubernetes
network policies ... in the default tier ... order 1000")."""


def is_calico(raw: Mapping[str, Any]) -> bool:
    """A Calico object: one of the kinds above in one of Calico's API groups (a Kubernetes NetworkPolicy
    is ``networking.k8s.io``)."""
    return raw.get("kind") in CALICO_KINDS and str(raw.get("apiVersion", "")) in API_GROUPS


class CalicoAction(StrEnum):
    """Rule reference, ``action``: Allow, Deny, Log, Pass."""

    ALLOW = "Allow"
    DENY = "Deny"
    LOG = "Log"
    PASS = "Pass"


TIER_DEFAULT_ACTIONS = (CalicoAction.DENY, CalicoAction.PASS)
"""Tier reference, ``defaultAction``: Deny (the default) or Pass."""


PROTOCOLS = {"TCP": "TCP", "UDP": "UDP", "SCTP": "SCTP", "ICMP": "ICMP", "ICMPV6": "ICMPv6", "UDPLITE": "UDPLite"}
_PROTO_NUMBERS = {6: "TCP", 17: "UDP", 132: "SCTP", 1: "ICMP", 58: "ICMPv6", 136: "UDPLite"}
MATRIX_PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass(frozen=True)
class PortMatch:
    """A Calico port: a number, a ``first:last`` range, or a named port (resolved on the endpoint)."""

    first: int = 0
    last: int = 0
    name: str = ""

    def describe(self) -> str:
        return self.name or (str(self.first) if self.first == self.last else f"{self.first}:{self.last}")


@dataclass(frozen=True)
class EntityRule:
    """``source`` / ``destination`` of a rule (EntityRule reference). All set fields must match (AND)."""

    nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    not_nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    selector: sel.Node | None = None
    not_selector: sel.Node | None = None
    namespace_selector: sel.Node | None = None
    sa_names: tuple[str, ...] = ()
    sa_selector: sel.Node | None = None
    ports: tuple[PortMatch, ...] = ()
    not_ports: tuple[PortMatch, ...] = ()

    @property
    def selects_endpoints(self) -> bool:
        return any(x is not None for x in (self.selector, self.not_selector, self.namespace_selector, self.sa_selector)) \
            or bool(self.sa_names)

    def describe(self) -> str:
        parts = []
        if self.nets:
            parts.append("nets " + ", ".join(map(str, self.nets)))
        if self.not_nets:
            parts.append("notNets " + ", ".join(map(str, self.not_nets)))
        for label, s in (("selector", self.selector), ("notSelector", self.not_selector),
                         ("namespaceSelector", self.namespace_selector), ("serviceAccounts.selector", self.sa_selector)):
            if s is not None:
                parts.append(f"{label} {s}")
        if self.sa_names:
            parts.append("serviceAccounts.names " + ", ".join(self.sa_names))
        return "; ".join(parts) or "anywhere"


@dataclass(frozen=True)
class CalicoRule:
    direction: Direction
    index: int
    """1-based, as the tool numbers every rule (its path in the object is index - 1)."""
    action: CalicoAction
    protocol: str | None = None
    not_protocol: str | None = None
    source: EntityRule = EntityRule()
    destination: EntityRule = EntityRule()
    unevaluated: tuple[str, ...] = ()
    """Matches of this rule the tool does not evaluate (icmp, http, services, ipVersion ...)."""

    def conns(self, named: frozenset[tuple[str, str, int]] = frozenset()) -> ConnSet:
        """The TCP/UDP/SCTP ports this rule's protocol and destination ports match (named ports resolved
        against ``named``: (name, protocol, number) of the destination)."""
        protos = [self.protocol] if self.protocol else list(MATRIX_PROTOCOLS)
        protos = [p for p in protos if p in MATRIX_PROTOCOLS and p != self.not_protocol]
        out = ConnSet.none()
        for p in protos:
            out = out | (_ports(self.destination.ports, p, named) if self.destination.ports else ConnSet.protocol(p))
            if self.destination.not_ports:
                out = out - _ports(self.destination.not_ports, p, named)
        return out


def _ports(ports: tuple[PortMatch, ...], proto: str, named: frozenset[tuple[str, str, int]]) -> ConnSet:
    out = ConnSet.none()
    for pm in ports:
        if pm.name:
            for name, p, number in named:
                if name == pm.name and p == proto:
                    out = out | ConnSet.ports(proto, number)
        else:
            out = out | ConnSet.ports(proto, pm.first, pm.last)
    return out


@dataclass(frozen=True)
class CalicoPolicy:
    kind: str
    name: str
    namespace: str | None
    """None for the global kinds."""
    tier: str
    order: float | None
    """Lower first; None (no order) comes after every ordered policy (reference: "If the order is omitted,
    it may be considered to be infinite")."""
    selector: sel.Node
    namespace_selector: sel.Node | None
    sa_selector: sel.Node | None
    types: tuple[PolicyType, ...]
    ingress: tuple[CalicoRule, ...]
    egress: tuple[CalicoRule, ...]
    staged: bool = False
    unevaluated: tuple[str, ...] = ()
    """Policy-level fields not evaluated (doNotTrack, preDNAT, applyOnForward; host endpoints)."""

    @property
    def id(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"

    def sort_key(self) -> tuple[float, str]:
        # policies in a tier: by order, then by name (reference: "policies with the same order are applied
        # in alphanumerical order of their names")
        return (self.order if self.order is not None else float("inf"), self.name)

    def rules(self, direction: Direction) -> tuple[CalicoRule, ...]:
        return self.ingress if direction == Direction.INGRESS else self.egress

    def applies(self, direction: Direction) -> bool:
        return PolicyType.of(direction) in self.types


@dataclass(frozen=True)
class Tier:
    name: str
    order: float | None
    default_action: CalicoAction
    """Deny unless ``defaultAction: Pass`` (Tier reference)."""

    def sort_key(self) -> tuple[float, str]:
        return (self.order if self.order is not None else float("inf"), self.name)


@dataclass(frozen=True)
class NetworkSet:
    kind: str
    name: str
    namespace: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


# ---------------------------------------------------------------------------------------------- parsing

_POLICY_SPEC = frozenset(("tier", "order", "selector", "namespaceSelector", "serviceAccountSelector", "types",
                          "ingress", "egress", "doNotTrack", "preDNAT", "applyOnForward", "performanceHints"))
_RULE = frozenset(("action", "protocol", "notProtocol", "icmp", "notICMP", "ipVersion", "source", "destination",
                   "http", "metadata"))
_ENTITY = frozenset(("nets", "notNets", "selector", "notSelector", "namespaceSelector", "ports", "notPorts",
                     "serviceAccounts", "services"))


def _map(value: Any, path: Path, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FieldError(path, f"{what} must be an object, not {type(value).__name__}")
    return value


def _list(value: Any, path: Path) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise FieldError(path, f"must be a list, not {type(value).__name__}")
    return value


def parse_selector(value: Any, path: Path) -> sel.Node | None:
    """A selector field; '' or absent is None (the caller applies the field's default)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FieldError(path, f"a selector must be a string, not {type(value).__name__}")
    try:
        return sel.parse(value)
    except sel.SelectorError as e:
        raise FieldError(path, str(e)) from None


def _order(value: Any, path: Path) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(path, f"order must be a number, not {value!r}")
    return float(value)


def _nets(value: Any, path: Path) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    out = []
    for i, v in enumerate(_list(value, path)):
        try:
            out.append(ipaddress.ip_network(str(v), strict=False))
        except ValueError:
            raise FieldError(path + (i,), f"invalid CIDR {v!r}") from None
    return tuple(out)


def _protocol(value: Any, path: Path) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 255:
            raise FieldError(path, f"protocol number {value} is out of range 1-255")
        return _PROTO_NUMBERS.get(value, str(value))
    if isinstance(value, str) and value.upper() in PROTOCOLS:
        return PROTOCOLS[value.upper()]
    if isinstance(value, str) and value.isdigit():
        return _protocol(int(value), path)
    raise FieldError(path, f"unknown protocol {value!r} (TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1-255)")


def _port(value: Any, path: Path) -> PortMatch:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 65535:
            raise FieldError(path, f"port {value} is out of range 0-65535")
        return PortMatch(value, value)
    if isinstance(value, str):
        if ":" in value:  # Ports reference: "a range of ports, as a string ... "first:last""
            a, _, b = value.partition(":")
            if not (a.isdigit() and b.isdigit()) or not int(a) <= int(b) <= 65535:
                raise FieldError(path, f"invalid port range {value!r} (first:last, first <= last <= 65535)")
            return PortMatch(int(a), int(b))
        if value.isdigit():
            return _port(int(value), path)
        if value:
            return PortMatch(name=value)
    raise FieldError(path, f"invalid port {value!r}")


def _entity(value: Any, path: Path, notes: list[str]) -> EntityRule:
    m = _map(value, path, "an entity rule")
    check_known_fields(m, _ENTITY, path, "an entity rule")
    sa = _map(m.get("serviceAccounts"), path + ("serviceAccounts",), "serviceAccounts")
    check_known_fields(sa, ("names", "selector"), path + ("serviceAccounts",), "serviceAccounts")
    if m.get("services"):
        notes.append(f"{_dotted(path)}.services (matches a Service's endpoints) is not evaluated")
    return EntityRule(
        nets=_nets(m.get("nets"), path + ("nets",)),
        not_nets=_nets(m.get("notNets"), path + ("notNets",)),
        selector=parse_selector(m.get("selector"), path + ("selector",)),
        not_selector=parse_selector(m.get("notSelector"), path + ("notSelector",)),
        namespace_selector=parse_selector(m.get("namespaceSelector"), path + ("namespaceSelector",)),
        sa_names=tuple(str(n) for n in _list(sa.get("names"), path + ("serviceAccounts", "names"))),
        sa_selector=parse_selector(sa.get("selector"), path + ("serviceAccounts", "selector")),
        ports=tuple(_port(p, path + ("ports", i)) for i, p in enumerate(_list(m.get("ports"), path + ("ports",)))),
        not_ports=tuple(_port(p, path + ("notPorts", i))
                        for i, p in enumerate(_list(m.get("notPorts"), path + ("notPorts",)))),
    )


def _dotted(path: Path) -> str:
    from .policy import format_path

    return format_path(path)


def _rule(value: Any, direction: Direction, index: int, path: Path) -> CalicoRule:
    m = _map(value, path, "a rule")
    check_known_fields(m, _RULE, path, "a rule")
    try:
        action = CalicoAction(m.get("action"))
    except ValueError:
        raise FieldError(path + ("action",), f"action must be Allow, Deny, Log or Pass, not {m.get('action')!r}") from None
    notes: list[str] = []
    protocol = _protocol(m.get("protocol"), path + ("protocol",))
    not_protocol = _protocol(m.get("notProtocol"), path + ("notProtocol",))
    for f in ("icmp", "notICMP", "http", "ipVersion"):
        if m.get(f) is not None:
            notes.append(f"{_dotted(path + (f,))} is not evaluated (the matrix is TCP/UDP/SCTP over one address family)")
    if protocol and protocol not in MATRIX_PROTOCOLS:
        notes.append(f"{_dotted(path + ('protocol',))} {protocol} is outside the matrix (TCP/UDP/SCTP): the rule "
                     "matches none of its flows")
    src = _entity(m.get("source"), path + ("source",), notes)
    dst = _entity(m.get("destination"), path + ("destination",), notes)
    for side, e in (("source", src), ("destination", dst)):
        if (e.ports or e.not_ports) and protocol not in MATRIX_PROTOCOLS:
            # Calico's validation: "rules that specify ports must set protocol to TCP, UDP or SCTP"
            raise FieldError(path + (side, "ports"), "ports need protocol TCP, UDP or SCTP")
    return CalicoRule(direction, index, action, protocol, not_protocol, src, dst, tuple(notes))


def parse_calico_policy(raw: Mapping[str, Any]) -> CalicoPolicy:
    """A (Staged)(Global)NetworkPolicy; FieldError with the field path on bad input."""
    kind = str(raw.get("kind"))
    meta = _map(raw.get("metadata"), ("metadata",), "metadata")
    spec = _map(raw.get("spec"), ("spec",), "spec")
    check_known_fields(spec, _POLICY_SPEC | {"stagedAction"}, ("spec",), kind)
    is_global = "Global" in kind
    if not is_global and "namespaceSelector" in spec:
        raise FieldError(("spec", "namespaceSelector"), "a namespaced NetworkPolicy has no namespaceSelector")
    ingress = tuple(_rule(r, Direction.INGRESS, i + 1, ("spec", "ingress", i))
                    for i, r in enumerate(_list(spec.get("ingress"), ("spec", "ingress"))))
    egress = tuple(_rule(r, Direction.EGRESS, i + 1, ("spec", "egress", i))
                   for i, r in enumerate(_list(spec.get("egress"), ("spec", "egress"))))
    raw_types = _list(spec.get("types"), ("spec", "types"))
    if raw_types:
        try:
            types = tuple(PolicyType(t) for t in raw_types)
        except ValueError:
            raise FieldError(("spec", "types"), f"types are Ingress and Egress, not {raw_types!r}") from None
    else:
        # reference, "types": no egress rules → [Ingress]; egress rules but no ingress rules → [Egress];
        # both → [Ingress, Egress]
        types = ((PolicyType.INGRESS,) if ingress or not egress else ()) + ((PolicyType.EGRESS,) if egress else ())
    for t, rules in ((PolicyType.INGRESS, ingress), (PolicyType.EGRESS, egress)):
        if rules and t not in types:
            raise FieldError(("spec", "types"), f"{t.value} rules are given but types does not include {t.value}")
    notes = [f"spec.{f} is not evaluated (host endpoints' traffic is outside the pod matrix)"
             for f in ("doNotTrack", "preDNAT", "applyOnForward") if spec.get(f)]
    name = str(meta.get("name", ""))
    tier = str(spec.get("tier") or DEFAULT_TIER)
    if str(raw.get("apiVersion")) == API_GROUPS[1] and name.startswith(tier + "."):
        name = name[len(tier) + 1:]  # the storage form prefixes the tier: default.my-policy
    return CalicoPolicy(
        kind=kind.replace("Staged", "") if kind.startswith("Staged") else kind,
        name=name,
        namespace=None if is_global else str(meta.get("namespace") or "default"),
        tier=tier,
        order=_order(spec.get("order"), ("spec", "order")),
        selector=parse_selector(spec.get("selector"), ("spec", "selector")) or sel.All(),
        namespace_selector=parse_selector(spec.get("namespaceSelector"), ("spec", "namespaceSelector")),
        sa_selector=parse_selector(spec.get("serviceAccountSelector"), ("spec", "serviceAccountSelector")),
        types=types,
        ingress=ingress,
        egress=egress,
        staged=kind.startswith("Staged"),
        unevaluated=tuple(notes) + tuple(n for r in ingress + egress for n in r.unevaluated),
    )


def parse_tier(raw: Mapping[str, Any]) -> Tier:
    spec = _map(raw.get("spec"), ("spec",), "spec")
    check_known_fields(spec, ("order", "defaultAction"), ("spec",), "a Tier")
    name = str(_map(raw.get("metadata"), ("metadata",), "metadata").get("name", ""))
    action = spec.get("defaultAction") or CalicoAction.DENY
    if action not in TIER_DEFAULT_ACTIONS:
        raise FieldError(("spec", "defaultAction"), f"defaultAction must be Deny or Pass, not {action!r}")
    order = _order(spec.get("order"), ("spec", "order"))
    if name == DEFAULT_TIER and order is None:
        order = DEFAULT_TIER_ORDER
    return Tier(name, order, CalicoAction(action))


def parse_network_set(raw: Mapping[str, Any]) -> NetworkSet:
    kind = str(raw.get("kind"))
    meta = _map(raw.get("metadata"), ("metadata",), "metadata")
    spec = _map(raw.get("spec"), ("spec",), "spec")
    check_known_fields(spec, ("nets", "allowedEgressDomains"), ("spec",), kind)
    labels = {str(k): str(v) for k, v in _map(meta.get("labels"), ("metadata", "labels"), "labels").items()}
    return NetworkSet(kind, str(meta.get("name", "")), str(meta.get("namespace") or "default") if kind == "NetworkSet"
                      else None, labels, _nets(spec.get("nets"), ("spec", "nets")))


def default_tier() -> Tier:
    return Tier(DEFAULT_TIER, DEFAULT_TIER_ORDER, CalicoAction.DENY)


@dataclass
class CalicoObjects:
    """The Calico objects of one input, with the object each came from (for located messages)."""

    policies: list[tuple[CalicoPolicy, Any]] = field(default_factory=list)
    staged: list[tuple[CalicoPolicy, Any]] = field(default_factory=list)
    tiers: dict[str, Tier] = field(default_factory=dict)
    sets: list[NetworkSet] = field(default_factory=list)
    staged_k8s: list[tuple[Any, Any]] = field(default_factory=list)
    """StagedKubernetesNetworkPolicies: (the Kubernetes NetworkPolicy they stage, their object); they enforce
    nothing (``simulate --staged`` promotes them)."""
    unread: list[str] = field(default_factory=list)
    """Objects recognised but not evaluated, as notes."""

    def add(self, obj: Any) -> None:
        """Parse one SourceObject of a Calico kind; a located InputError on bad input."""
        kind = obj.kind
        try:
            if kind == "StagedKubernetesNetworkPolicy":
                from .policy import parse_network_policy

                self.staged_k8s.append((parse_network_policy(staged_kubernetes_policy(obj.raw)), obj))
            elif kind == "Tier":
                self.tiers[obj.name] = parse_tier(obj.raw)
            elif kind in SET_KINDS:
                self.sets.append(parse_network_set(obj.raw))
            else:
                pol = parse_calico_policy(obj.raw)
                (self.staged if pol.staged else self.policies).append((pol, obj))
        except FieldError as e:
            raise obj.error(e.path, f"{kind} {obj.namespace + '/' if obj.namespace else ''}{obj.name}: {e.message}") from None

    def __bool__(self) -> bool:
        return bool(self.policies or self.staged or self.tiers or self.sets or self.staged_k8s)

    @property
    def uses_service_accounts(self) -> bool:
        """Some enforced policy selects by service account (then pods are classed by theirs too)."""
        return any(pol.sa_selector is not None or any(e.sa_names or e.sa_selector is not None
                                                      for r in pol.ingress + pol.egress for e in (r.source, r.destination))
                   for pol, _ in self.policies)

    def ordered_tiers(self) -> list[Tier]:
        """Every tier a policy names or the input declares, by order then name; the default tier is always
        there (it holds the Kubernetes NetworkPolicies)."""
        tiers = dict(self.tiers)
        tiers.setdefault(DEFAULT_TIER, default_tier())
        for pol, _ in self.policies + self.staged:
            tiers.setdefault(pol.tier, Tier(pol.tier, None, CalicoAction.DENY))
        return sorted(tiers.values(), key=Tier.sort_key)

    def notes(self) -> list[str]:
        out = list(self.unread)
        known = set(self.tiers) | {DEFAULT_TIER}
        for pol, obj in self.policies + self.staged:
            if pol.tier not in known:
                out.append(f"warning: {pol.id} ({obj.origin.describe()}) names tier {pol.tier!r}, which the input "
                           "does not declare: Calico refuses such a policy; it is analysed in a tier with no order "
                           "and defaultAction Deny")
            for n in pol.unevaluated:
                out.append(f"not evaluated: {pol.id} ({obj.origin.describe()}): {n}")
        return out


def staged_kubernetes_policy(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The networking.k8s.io/v1 NetworkPolicy a StagedKubernetesNetworkPolicy stages
    (stagedkubernetesnetworkpolicy reference: its spec is a Kubernetes NetworkPolicy's plus ``stagedAction``)."""
    spec = s if isinstance(s := raw.get("spec"), Mapping) else {}
    return {**raw, "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "spec": {k: v for k, v in spec.items() if k != "stagedAction"}}


def promote_staged(objects: list[Any]) -> tuple[list[Any], list[tuple[str, str, str]]]:
    """What promoting the staged policies among ``objects`` does (stagednetworkpolicy,
    stagedglobalnetworkpolicy and stagedkubernetesnetworkpolicy references: ``stagedAction`` Set — the
    default — creates or replaces the enforced policy of the same name — a Calico one, or for a
    StagedKubernetesNetworkPolicy the Kubernetes NetworkPolicy —; Delete removes it): (enforced objects to
    set, (key kind, namespace, name) to delete). Objects keep their origin, so messages name the staged
    object's file and line."""
    from .objects import SourceObject

    sets: list[Any] = []
    deletes: list[tuple[str, str, str]] = []
    for obj in objects:
        if obj.kind not in STAGED_KINDS or not is_calico(obj.raw):
            continue
        if obj.kind == "StagedKubernetesNetworkPolicy":
            spec = obj.raw.get("spec") if isinstance(obj.raw.get("spec"), dict) else {}
            if spec.get("stagedAction", "Set") == "Delete":
                deletes.append(("NetworkPolicy", obj.namespace or "default", obj.name))
            else:
                sets.append(SourceObject(staged_kubernetes_policy(obj.raw), obj.origin, obj.locate))
            continue
        kind = obj.kind.replace("Staged", "", 1)
        spec = obj.raw.get("spec") if isinstance(obj.raw.get("spec"), dict) else {}
        namespace = (obj.namespace or "default") if kind == "NetworkPolicy" else ""
        raw = {**obj.raw, "kind": kind, "spec": {k: v for k, v in spec.items() if k != "stagedAction"}}
        promoted = SourceObject(raw, obj.origin, obj.locate)
        if spec.get("stagedAction", "Set") == "Delete":
            deletes.append((promoted.key_kind, namespace, obj.name))  # keyed with its API group (objects.py)
            continue
        sets.append(promoted)
    return sets, deletes
