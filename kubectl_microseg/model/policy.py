"""Provides the validated form of a networking.k8s.io/v1 NetworkPolicy and its parser.

``parse_network_policy`` applies the API server's validation (pkg/apis/networking/validation:
ValidateNetworkPolicy) and defaulting (pkg/apis/networking/v1/defaults.go), so what the engine sees is
exactly what a cluster would store. A violation raises FieldError with the path of the offending field;
the caller turns it into a located InputError.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping

from ..vocab import Direction, StrEnum
from .addresses import AddressSet, network_interval
from .ports import MAX_PORT, MIN_PORT, ConnSet
from .selectors import OPERATORS, LabelSelector, Operator, Requirement
from .validation import DNS1123_LABEL, DNS1123_SUBDOMAIN, check_known_fields, parse_cidr
from .objects import FieldPath

PROTOCOLS = ("TCP", "UDP", "SCTP")
Path = FieldPath

_DNS1123_LABEL = DNS1123_LABEL
_DNS1123_SUBDOMAIN = DNS1123_SUBDOMAIN
# \Z, not $: Python's $ also matches before a final newline, Go's does not ("app\n" is no label value)
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")
_IANA_SVC_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z")


class FieldError(Exception):
    """A validation failure at ``path`` inside the object (as the API server would report it)."""

    def __init__(self, path: Path, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{format_path(path)}: {message}")


def format_path(path: Path) -> str:
    """('spec', 'ingress', 0, 'ports') -> 'spec.ingress[0].ports' (the API server's field paths)."""
    out = ""
    for p in path:
        if isinstance(p, str) and not p.isprintable():
            p = repr(p)  # a key with a newline stays on the error's one line: 'app\n'
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


@dataclass(frozen=True)
class PortSpec:
    """One entry of a rule's ``ports``: protocol and a number, a range, a name, or every port."""

    protocol: str
    port: int | str | None = None
    end_port: int | None = None

    @property
    def named(self) -> bool:
        return isinstance(self.port, str)

    def resolve(self, named_ports: frozenset[tuple[str, str, int]]) -> ConnSet:
        """The ports this entry opens on a destination with ``named_ports`` ((name, protocol, port))."""
        if self.port is None:
            return ConnSet.protocol(self.protocol)
        if isinstance(self.port, int):
            return ConnSet.ports(self.protocol, self.port, self.end_port)
        # a named port matches a container port with that name and the same protocol
        nums = [(p, p) for (n, proto, p) in named_ports if n == self.port and proto == self.protocol]
        return ConnSet({self.protocol: nums}) if nums else ConnSet.none()

    def describe(self) -> str:
        if self.port is None:
            return f"{self.protocol} (all ports)"
        if self.end_port is not None and self.end_port != self.port:
            return f"{self.protocol} {self.port}-{self.end_port}"
        return f"{self.protocol} {self.port}"


@dataclass(frozen=True)
class Peer:
    """One entry of ``from``/``to``: a pod/namespace selector pair, or an ipBlock."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: AddressSet | None = None
    ip_text: str = ""
    """The ipBlock as written: '0.0.0.0/0 except 10.0.0.0/8'."""

    def describe(self, policy_namespace: str) -> str:
        if self.ip_block is not None:
            return f"ipBlock {self.ip_text}"
        if self.namespace_selector is None:
            return f"pods [{self.pod_selector.describe() if self.pod_selector else '<all>'}] in namespace {policy_namespace}"
        ns = "all namespaces" if self.namespace_selector.is_empty() else f"namespaces [{self.namespace_selector.describe()}]"
        if self.pod_selector is None or self.pod_selector.is_empty():
            return f"all pods in {ns}"
        return f"pods [{self.pod_selector.describe()}] in {ns}"


class RulePorts:
    """The port logic of a rule's ``ports`` (a NetworkPolicy's, a CiliumNetworkPolicy's: the same PortSpec
    values), written once."""

    ports: tuple[PortSpec, ...] | None
    """None means every port of every protocol (``ports`` missing or empty)."""

    def static_conns(self) -> ConnSet | None:
        """The rule's ports when no named port needs a destination to resolve; else None."""
        if self.ports is None:
            return ConnSet.all()
        if any(p.named for p in self.ports):
            return None
        out = ConnSet.none()
        for p in self.ports:
            out = out | p.resolve(frozenset())
        return out

    def conns_for(self, named_ports: frozenset[tuple[str, str, int]]) -> ConnSet:
        """The rule's ports resolved against a destination's named container ports."""
        if self.ports is None:
            return ConnSet.all()
        out = ConnSet.none()
        for p in self.ports:
            out = out | p.resolve(named_ports)
        return out

    def describe_ports(self) -> str:
        return "all ports" if self.ports is None else ", ".join(p.describe() for p in self.ports)


@dataclass(frozen=True)
class Rule(RulePorts):
    """One ingress or egress rule. ``peers is None`` means every peer (``from``/``to`` missing or empty)."""

    direction: Direction
    index: int
    """1-based position of the rule in its list, as shown to users."""
    peers: tuple[Peer, ...] | None
    ports: tuple[PortSpec, ...] | None
    """None means every port of every protocol (``ports`` missing or empty)."""
    path: Path

    def __hash__(self) -> int:
        # equal rules have equal paths; hashing the path avoids hashing every nested selector each time
        return hash((self.direction, self.index, self.path))


class PolicyType(StrEnum):
    """NetworkPolicy ``spec.policyTypes`` (Calico's ``types`` use the same words)."""

    INGRESS = "Ingress"
    EGRESS = "Egress"

    @classmethod
    def of(cls, direction: Direction) -> PolicyType:
        return cls.INGRESS if direction == Direction.INGRESS else cls.EGRESS


@dataclass(frozen=True)
class NetworkPolicy:
    """A validated NetworkPolicy with its defaulted policyTypes."""

    namespace: str
    name: str
    pod_selector: LabelSelector
    policy_types: frozenset[PolicyType]
    ingress: tuple[Rule, ...]
    egress: tuple[Rule, ...]
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def __hash__(self) -> int:
        # consistent with equality (equal policies share namespace and name) and cheap: policies are
        # deduplicated in every explanation
        return hash((self.namespace, self.name))

    def rules(self, direction: Direction) -> tuple[Rule, ...]:
        return self.ingress if direction == Direction.INGRESS else self.egress

    def affects(self, direction: Direction) -> bool:
        return PolicyType.of(direction) in self.policy_types


# ----------------------------------------------------------------------------- parsing helpers
def _map(value: Any, path: Path, *, required: bool = False) -> Mapping[str, Any] | None:
    if value is None:
        if required:
            raise FieldError(path, "Required value")
        return None
    if not isinstance(value, Mapping):
        raise FieldError(path, f"must be an object, not {type_name(value)}")
    return value


def _list(value: Any, path: Path) -> list[Any] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise FieldError(path, f"must be a list, not {type_name(value)}")
    return value


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def parse_label_selector(value: Any, path: Path) -> LabelSelector:
    """metav1.LabelSelector with ValidateLabelSelector's rules."""
    m = _map(value, path)
    if m is None:
        return LabelSelector()
    for k in m:
        if k not in ("matchLabels", "matchExpressions"):
            raise FieldError(path + (k,), 'unknown field (a selector has "matchLabels" and "matchExpressions")')
    reqs: list[Requirement] = []
    labels = _map(m.get("matchLabels"), path + ("matchLabels",)) or {}
    for k, v in labels.items():
        if v is None:
            v = ""  # a null value of a map[string]string decodes to "" (the API server accepts it)
        validate_label_key(k, path + ("matchLabels", k))
        validate_label_value(v, path + ("matchLabels", k))
        reqs.append(Requirement(str(k), Operator.IN, frozenset([v])))
    for i, expr in enumerate(_list(m.get("matchExpressions"), path + ("matchExpressions",)) or []):
        p = path + ("matchExpressions", i)
        e = _map(expr, p, required=True)
        assert e is not None
        check_known_fields(e, ("key", "operator", "values"), p, "a label selector requirement")
        key, op, values = e.get("key"), e.get("operator"), e.get("values")
        if not isinstance(key, str) or not key:
            raise FieldError(p + ("key",), "Required value")
        validate_label_key(key, p + ("key",))
        if not isinstance(op, str) or op not in OPERATORS:
            raise FieldError(p + ("operator",), f"Unsupported value: {op!r}: supported values: "
                             + ", ".join(f'"{o.value}"' for o in Operator))
        op = Operator(op)
        vals = _list(values, p + ("values",)) or []
        if op in (Operator.IN, Operator.NOT_IN) and not vals:
            raise FieldError(p + ("values",), "must be specified when `operator` is 'In' or 'NotIn'")
        if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and vals:
            raise FieldError(p + ("values",), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
        for j, v in enumerate(vals):
            validate_label_value(v, p + ("values", j))
        reqs.append(Requirement(key, op, frozenset(vals)))
    return LabelSelector(tuple(reqs))


def validate_label_key(key: Any, path: Path) -> None:
    """A qualified name: optional DNS-subdomain prefix '/', name of at most 63 characters."""
    if not isinstance(key, str):
        raise FieldError(path, f"label key must be a string, not {type_name(key)}")
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        raise FieldError(path, f"invalid label key {key!r}: prefix part must be non-empty")
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        raise FieldError(path, f"invalid label key {key!r}: prefix must be a DNS subdomain")
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        raise FieldError(path, f"invalid label key {key!r}: name part must be 63 characters or less, "
                               "alphanumeric, '-', '_' or '.', starting and ending with an alphanumeric")


def validate_label_value(value: Any, path: Path) -> None:
    if not isinstance(value, str):
        raise FieldError(path, f"label value must be a string, not {type_name(value)} ({value!r}); quote it in YAML")
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise FieldError(path, f"invalid label value {value!r}: 63 characters or less, alphanumeric, '-', '_' or '.', "
                               "starting and ending with an alphanumeric")


def parse_ports(value: Any, path: Path) -> tuple[PortSpec, ...] | None:
    items = _list(value, path)
    if not items:
        return None  # missing or empty: all ports
    out = []
    for i, item in enumerate(items):
        p = path + (i,)
        # a null entry decodes to an empty NetworkPolicyPort: TCP, every port (the API server accepts it)
        m = _map(item, p) or {}
        check_known_fields(m, ("protocol", "port", "endPort"), p, "a port")
        proto = m.get("protocol", "TCP")  # defaults.go: undefined Protocol -> TCP
        if proto is None:
            proto = "TCP"
        if proto not in PROTOCOLS:
            raise FieldError(p + ("protocol",), f'Unsupported value: {proto!r}: supported values: "SCTP", "TCP", "UDP"')
        port = m.get("port")
        end = m.get("endPort")
        if isinstance(port, bool) or (port is not None and not isinstance(port, (int, str))):
            raise FieldError(p + ("port",), f"must be a number or a port name, not {type_name(port)}")
        if isinstance(port, int):
            if not MIN_PORT <= port <= MAX_PORT:
                raise FieldError(p + ("port",), f"must be between 1 and 65535, inclusive (got {port})")
        elif isinstance(port, str):
            # a quoted number ("80") is a string to the API server, so it must be a valid port name
            validate_port_name(port, p + ("port",))
        if end is not None:
            if isinstance(end, bool) or not isinstance(end, int):
                raise FieldError(p + ("endPort",), f"must be a number, not {type_name(end)}")
            if port is None:
                raise FieldError(p + ("endPort",), "may not be specified when `port` is not specified")
            if isinstance(port, str):
                raise FieldError(p + ("endPort",), "may not be specified when `port` is non-numeric")
            if end < port:
                raise FieldError(p + ("endPort",), f"must be greater than or equal to `port` ({end} < {port})")
            if not MIN_PORT <= end <= MAX_PORT:
                raise FieldError(p + ("endPort",), f"must be between 1 and 65535, inclusive (got {end})")
        out.append(PortSpec(proto, port, end))
    return tuple(out)


def validate_port_name(name: str, path: Path) -> None:
    """IANA_SVC_NAME: at most 15 lower-case alphanumerics or '-', a letter, no '--', no '-' at the ends."""
    ok = (0 < len(name) <= 15 and _IANA_SVC_NAME.match(name) and "--" not in name
          and any(c.isalpha() for c in name))
    if not ok:
        raise FieldError(path, f"invalid port name {name!r}: must be an IANA_SVC_NAME (at most 15 characters, "
                               "lower-case letters, digits and '-', at least one letter)")


def parse_ip_block(value: Any, path: Path) -> tuple[AddressSet, str]:
    m = _map(value, path, required=True)
    assert m is not None
    check_known_fields(m, ("cidr", "except"), path, "an ipBlock")
    cidr = m.get("cidr")
    if not cidr:
        raise FieldError(path + ("cidr",), "Required value")
    if not isinstance(cidr, str):
        raise FieldError(path + ("cidr",), f"must be a string, not {type_name(cidr)}")
    net = _cidr(cidr, path + ("cidr",))
    excepts = _list(m.get("except"), path + ("except",)) or []
    for i, e in enumerate(excepts):
        ep = path + ("except", i)
        if not isinstance(e, str):
            raise FieldError(ep, f"must be a string, not {type_name(e)}")
        en = _cidr(e, ep)
        # "except ... must be a strict subset of `cidr`" (ValidateIPBlock)
        if en.version != net.version or not en.subnet_of(net) or en.prefixlen <= net.prefixlen:  # type: ignore[arg-type]
            raise FieldError(ep, f"must be a strict subset of `cidr` ({e} is not inside {cidr})")
    text = cidr + (" except " + ", ".join(excepts) if excepts else "")
    return AddressSet([network_interval(net)]) - AddressSet(network_interval(_cidr(e, path)) for e in excepts), text


def _cidr(text: str, path: Path) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return parse_cidr(text, path)


def parse_peers(value: Any, path: Path) -> tuple[Peer, ...] | None:
    items = _list(value, path)
    if not items:
        return None  # "If this field is empty or missing, this rule matches all sources/destinations"
    out = []
    for i, item in enumerate(items):
        p = path + (i,)
        m = _map(item, p, required=True)
        assert m is not None
        unknown = [k for k in m if k not in ("podSelector", "namespaceSelector", "ipBlock")]
        if unknown:
            raise FieldError(p + (unknown[0],), 'unknown field (a peer has "podSelector", "namespaceSelector" or "ipBlock")')
        has = [k for k in ("podSelector", "namespaceSelector", "ipBlock") if m.get(k) is not None]
        if not has:
            raise FieldError(p, "must specify a peer")
        if "ipBlock" in has and len(has) > 1:
            raise FieldError(p, "may not specify more than 1 peer when `ipBlock` is set")
        if "ipBlock" in has:
            block, text = parse_ip_block(m["ipBlock"], p + ("ipBlock",))
            out.append(Peer(ip_block=block, ip_text=text))
        else:
            pod = parse_label_selector(m["podSelector"], p + ("podSelector",)) if "podSelector" in has else None
            ns = parse_label_selector(m["namespaceSelector"], p + ("namespaceSelector",)) if "namespaceSelector" in has else None
            out.append(Peer(pod_selector=pod, namespace_selector=ns))
    return tuple(out)


def parse_rules(value: Any, direction: Direction, path: Path) -> tuple[Rule, ...]:
    items = _list(value, path) or []
    peer_key = "from" if direction == Direction.INGRESS else "to"
    rules = []
    for i, item in enumerate(items):
        p = path + (i,)
        m = _map(item, p) or {}
        unknown = [k for k in m if k not in (peer_key, "ports")]
        if unknown:
            raise FieldError(p + (unknown[0],), f'unknown field (an {direction} rule has "{peer_key}" and "ports")')
        ports = parse_ports(m.get("ports"), p + ("ports",))
        peers = parse_peers(m.get(peer_key), p + (peer_key,))
        rules.append(Rule(direction, i + 1, peers, ports, p))
    return tuple(rules)


def parse_network_policy(raw: Mapping[str, Any], default_namespace: str = "default") -> NetworkPolicy:
    """Validate and default one NetworkPolicy object (a dict). Raises FieldError."""
    meta = _map(raw.get("metadata"), ("metadata",), required=True)
    assert meta is not None
    name = meta.get("name")
    if not name or not isinstance(name, str):
        raise FieldError(("metadata", "name"), "Required value: name is required")
    warnings = []
    if len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        # The API server rejects such a name; analysis can go on, so this is a warning, not a failure
        # (the shared conformance cases use such names: docs/errors.md, "Deliberately more lenient").
        warnings.append(f"metadata.name {name!r} is not a valid DNS subdomain; the API server would reject it")
    namespace = meta.get("namespace") or default_namespace
    if not isinstance(namespace, str):
        raise FieldError(("metadata", "namespace"), f"must be a string, not {type_name(namespace)}")
    if len(namespace) > 63 or not _DNS1123_LABEL.match(namespace):
        warnings.append(f"metadata.namespace {namespace!r} is not a valid namespace name (DNS-1123 label); "
                        "the API server would reject it")
    # spec and spec.podSelector are optional (non-pointer Go structs; kubernetes/kubernetes#131354): a
    # missing one is empty, which selects every pod of the namespace. Legal, and rarely meant: a warning.
    spec = _map(raw.get("spec"), ("spec",))
    if spec is None:
        spec = {}
        warnings.append("has no spec: the API server takes it as empty, which selects every pod of the namespace "
                        "and (policyTypes defaulting to Ingress) allows them no ingress")
    elif spec.get("podSelector") is None:
        warnings.append("has no spec.podSelector: the API server takes it as {}, every pod of the namespace")
    for k in spec:
        if k not in ("podSelector", "policyTypes", "ingress", "egress"):
            raise FieldError(("spec", k), 'unknown field (spec has "podSelector", "policyTypes", "ingress", "egress")')
    pod_selector = parse_label_selector(spec.get("podSelector"), ("spec", "podSelector"))
    ingress = parse_rules(spec.get("ingress"), Direction.INGRESS, ("spec", "ingress"))
    egress = parse_rules(spec.get("egress"), Direction.EGRESS, ("spec", "egress"))
    types = _list(spec.get("policyTypes"), ("spec", "policyTypes"))
    if types:
        if len(types) > 2:
            raise FieldError(("spec", "policyTypes"), "may not specify more than two policyTypes")
        for i, t in enumerate(types):
            if not isinstance(t, str) or t not in tuple(PolicyType):
                raise FieldError(("spec", "policyTypes", i), f'Unsupported value: {t!r}: supported values: "Ingress", "Egress"')
        policy_types = frozenset(PolicyType(t) for t in types)
    else:
        # defaults.go: no policyTypes -> Ingress, plus Egress when the policy has egress rules
        policy_types = frozenset([PolicyType.INGRESS, PolicyType.EGRESS] if egress else [PolicyType.INGRESS])
    if ingress and PolicyType.INGRESS not in policy_types:
        warnings.append("has ingress rules but policyTypes omits Ingress: the ingress rules have no effect")
    if egress and PolicyType.EGRESS not in policy_types:
        warnings.append("has egress rules but policyTypes omits Egress: the egress rules have no effect")
    return NetworkPolicy(namespace, name, pod_selector, policy_types, ingress, egress, tuple(warnings))
