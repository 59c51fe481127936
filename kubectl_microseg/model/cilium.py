"""Provides the Cilium policy model: cilium.io/v2 CiliumNetworkPolicy (``spec`` and ``specs``),
CiliumClusterwideNetworkPolicy and CiliumCIDRGroup, validated into plain values.

Semantics from docs.cilium.io, "Policy Language" (security/policy/language), "Deny Policies"
(security/policy/deny) and the Rule type's field documentation (pkg/policy/api/rule.go):

- ``endpointSelector`` selects the subject endpoints (a CNP: only in its namespace); ``nodeSelector``
  selects nodes (host policies: not evaluated here, the model has no nodes).
- Selector keys may carry a source prefix (``k8s:app``, ``any:app``); ``reserved:<entity>`` keys name an
  entity. Pods carry the labels ``io.kubernetes.pod.namespace``, ``io.cilium.k8s.namespace.labels.<k>``
  and ``io.cilium.k8s.policy.serviceaccount`` (the pod's serviceAccountName: docs.cilium.io, "Using Kubernetes
  Constructs In Policy", section "ServiceAccounts"); ``io.cilium.k8s.policy.cluster`` names the cluster, whose
  name is not known offline (uncertain).
- A CNP's ``fromEndpoints``/``toEndpoints`` selector is limited to the policy's namespace unless it
  names ``io.kubernetes.pod.namespace`` itself; a CCNP's is not limited.
- enableDefaultDeny: "If not specified, the default is true for each traffic direction that has rules,
  and false otherwise. For example, if a policy only has Ingress or IngressDeny rules, then the default for
  ingress is true" (rule.go). ``ingress``: "If omitted or empty, this rule does not apply at ingress".
- A rule with no L3 peer but ``toPorts`` applies to every peer; a rule with neither (``{}``) allows nothing
  (the language reference's "Ingress Default Deny" example).
- "Deny policies take precedence over allow policies, regardless of whether they are a Cilium Network
  Policy, a Clusterwide Cilium Network Policy or even a Kubernetes Network Policy" (Deny Policies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping

from ..vocab import DIRECTIONS, Direction, StrEnum
from .addresses import AddressSet
from .objects import SourceObject
from .policy import (PROTOCOLS, FieldError, Path, PortSpec, RulePorts, _cidr, _list, _map, parse_label_selector,
                     type_name, validate_port_name)
from .selectors import LabelSelector

API_VERSION = "cilium.io/v2"
CNP_KIND = "CiliumNetworkPolicy"
CCNP_KIND = "CiliumClusterwideNetworkPolicy"
CIDR_GROUP_KIND = "CiliumCIDRGroup"
POLICY_KINDS = (CNP_KIND, CCNP_KIND)
KINDS = POLICY_KINDS + (CIDR_GROUP_KIND,)

NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
NS_LABELS_PREFIX = "io.cilium.k8s.namespace.labels."
SERVICE_ACCOUNT_LABEL = "io.cilium.k8s.policy.serviceaccount"
CLUSTER_LABEL = "io.cilium.k8s.policy.cluster"
_SOURCES = ("k8s:", "any:", "container:")


class Entity(StrEnum):
    """fromEntities/toEntities (language reference, "Entities Based")."""

    WORLD = "world"
    WORLD_V4 = "world-ipv4"
    WORLD_V6 = "world-ipv6"
    CLUSTER = "cluster"
    HOST = "host"
    REMOTE_NODE = "remote-node"
    KUBE_APISERVER = "kube-apiserver"
    HEALTH = "health"
    INIT = "init"
    INGRESS = "ingress"
    UNMANAGED = "unmanaged"
    ALL = "all"


class PeerKind(StrEnum):
    ENDPOINTS = "endpoints"
    CIDR = "cidr"
    ENTITY = "entity"
    FQDN = "fqdn"
    SERVICE = "service"
    GROUP = "group"
    """toGroups (cloud provider groups): not evaluated."""


@dataclass(frozen=True)
class CiliumSelector:
    """An endpoint selector over the pod's labels plus Cilium's namespace/service-account labels (keys
    without their source prefix)."""

    selector: LabelSelector
    names_namespace: bool
    """It names io.kubernetes.pod.namespace (a CNP peer is then not limited to the policy's namespace)."""
    service_account: bool
    """It names io.cilium.k8s.policy.serviceaccount (then pods are classed by service account)."""
    entity: Entity | None = None
    """A ``reserved:<entity>`` label: the selector selects that entity."""
    cluster: bool = False
    """It names io.cilium.k8s.policy.cluster (the cluster's name is not known offline: uncertain)."""

    def describe(self) -> str:
        if self.entity is not None:
            return f"entity {self.entity.value}"
        return f"[{self.selector.describe() or '<all>'}]"


@dataclass(frozen=True)
class CiliumPeer:
    kind: PeerKind
    selector: CiliumSelector | None = None
    addresses: AddressSet | None = None
    entity: Entity | None = None
    text: str = ""
    written: tuple[str, ...] = ()
    """The CIDRs as written (cidr, except, a group's externalCIDRs): they name the external ranges."""
    fqdn: FqdnSelector | None = None
    """A toFQDNs item: the name or pattern it selects (a named external endpoint, engine.cilium)."""

    def describe(self, policy_namespace: str | None = None) -> str:
        if self.kind is PeerKind.ENDPOINTS and self.selector is not None:
            if self.selector.entity is not None:
                return self.selector.describe()
            where = ("" if self.selector.names_namespace or policy_namespace is None
                     else f" in namespace {policy_namespace}")
            return f"endpoints {self.selector.describe()}{where}"
        return self.text


@dataclass(frozen=True)
class FqdnSelector:
    """A toFQDNs item, ``matchName`` or ``matchPattern`` (language reference, "DNS based"; names compare
    lower-case without the trailing dot)."""

    name: str
    pattern: bool

    @property
    def text(self) -> str:
        return self.name

    def covers(self, other: FqdnSelector) -> bool:
        """Every name ``other`` selects is one this selects. ``matchPattern``: "``*`` within a domain allows 0
        or more valid DNS characters, except for the ``.`` separator. ``*.cilium.io`` will match
        ``sub.cilium.io`` but not ``cilium.io``"; "``*`` alone matches all names"."""
        if self.name == other.name and self.pattern == other.pattern:
            return True
        if not self.pattern:
            return False
        if self.name == "*":
            return True
        return not other.pattern and _fqdn_regex(self.name).fullmatch(other.name) is not None

    def overlaps(self, other: FqdnSelector) -> bool:
        """Some name may be selected by both (a pattern against a pattern: not decided, so True)."""
        return self.covers(other) or other.covers(self) or (self.pattern and other.pattern)


_FQDN_REGEX: dict[str, re.Pattern[str]] = {}


def _fqdn_regex(pattern: str) -> re.Pattern[str]:
    hit = _FQDN_REGEX.get(pattern)
    if hit is None:
        hit = _FQDN_REGEX[pattern] = re.compile("".join("[-a-z0-9_]*" if ch == "*" else re.escape(ch) for ch in pattern))
    return hit


def fqdn_selector(value: Any, path: Path) -> FqdnSelector:
    m = _map(value, path, required=True) or {}
    name, pattern = m.get("matchName"), m.get("matchPattern")
    if not name and not pattern:
        raise FieldError(path, "Required value: matchName or matchPattern")
    if name and pattern:
        raise FieldError(path, "only one of matchName and matchPattern may be set")
    raw = str(name or pattern)
    text = raw.lower().rstrip(".") or raw  # DNS names are case-insensitive; "cilium.io." is "cilium.io"
    if not re.fullmatch(r"[-a-z0-9_.*]+", text):
        raise FieldError(path + ("matchName" if name else "matchPattern",),
                         f"invalid DNS name {raw!r}: only a-z, 0-9, '.', '-', '_'" + (" and '*'" if pattern else ""))
    if name and "*" in text:
        raise FieldError(path + ("matchName",), f"invalid DNS name {raw!r}: '*' is allowed only in matchPattern")
    return FqdnSelector(text, bool(pattern))


@dataclass(frozen=True)
class CiliumRule(RulePorts):
    """One entry of ingress, egress, ingressDeny or egressDeny. ``peers is None``: every peer."""

    direction: Direction
    index: int
    deny: bool
    peers: tuple[CiliumPeer, ...] | None
    ports: tuple[PortSpec, ...] | None
    path: Path
    l7: tuple[str, ...] = ()
    """The L7 rules of its toPorts, as text ('http GET /api/.*', 'dns *.example.com', 'kafka ...')."""
    section: str = ""

    def __hash__(self) -> int:
        return hash((self.direction, self.index, self.path))


@dataclass(frozen=True)
class CiliumPolicy:
    """One rule object of a CNP/CCNP (``spec`` or one item of ``specs``)."""

    kind: str
    namespace: str | None
    name: str
    spec_index: int | None
    subject: CiliumSelector | None
    """endpointSelector (None: a host policy, nodeSelector)."""
    ingress: tuple[CiliumRule, ...]
    egress: tuple[CiliumRule, ...]
    ingress_deny: tuple[CiliumRule, ...]
    egress_deny: tuple[CiliumRule, ...]
    default_deny: tuple[bool, bool]
    """(ingress, egress): whether selecting an endpoint makes it default-deny in that direction."""
    description: str = ""
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        short = "cnp" if self.kind == CNP_KIND else "ccnp"
        where = f"{self.namespace}/{self.name}" if self.namespace is not None else self.name
        return f"{short}:{where}" + (f"[specs.{self.spec_index}]" if self.spec_index is not None else "")

    def __hash__(self) -> int:
        return hash((self.kind, self.namespace, self.name, self.spec_index))

    def rules(self, direction: Direction) -> tuple[CiliumRule, ...]:
        return self.ingress if direction == Direction.INGRESS else self.egress

    def deny_rules(self, direction: Direction) -> tuple[CiliumRule, ...]:
        return self.ingress_deny if direction == Direction.INGRESS else self.egress_deny

    def affects(self, direction: Direction) -> bool:
        """Selecting an endpoint makes it default-deny in ``direction``."""
        return self.default_deny[0 if direction == Direction.INGRESS else 1]


@dataclass(frozen=True)
class CidrGroup:
    name: str
    labels: Mapping[str, str]
    cidrs: AddressSet
    text: str


# ----------------------------------------------------------------------------- parsing
_PEER_FIELDS = {
    Direction.INGRESS: ("fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities", "fromRequires", "fromGroups",
                "fromNodes"),
    Direction.EGRESS: ("toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toRequires", "toServices", "toFQDNs",
               "toGroups", "toNodes"),
}
_RULE_FIELDS = {d: _PEER_FIELDS[d] + ("toPorts", "icmps", "authentication") for d in _PEER_FIELDS}


def parse_selector(value: Any, path: Path) -> CiliumSelector:
    """An EndpointSelector: a label selector whose keys may carry a source prefix."""
    m = _map(value, path)
    if m is None:
        return CiliumSelector(LabelSelector(), False, False)
    entity = None
    labels: dict[str, Any] = {}
    for k, v in (_map(m.get("matchLabels"), path + ("matchLabels",)) or {}).items():
        key = str(k)
        if key.startswith("reserved:"):
            name = key[len("reserved:"):]
            try:
                entity = Entity(name)
            except ValueError:
                raise FieldError(path + ("matchLabels", k), f"unknown reserved label {key!r}") from None
            continue
        labels[_strip(key)] = v
    exprs = []
    for _i, e in enumerate(_list(m.get("matchExpressions"), path + ("matchExpressions",)) or []):
        if isinstance(e, Mapping) and isinstance(e.get("key"), str):
            e = {**e, "key": _strip(e["key"])}
        exprs.append(e)
    clean = {k: v for k, v in m.items() if k not in ("matchLabels", "matchExpressions")}
    clean["matchLabels"] = labels
    clean["matchExpressions"] = exprs
    sel = parse_label_selector(clean, path)
    keys = {r.key for r in sel.requirements}
    return CiliumSelector(sel, NAMESPACE_LABEL in keys, SERVICE_ACCOUNT_LABEL in keys, entity, CLUSTER_LABEL in keys)


def uses_service_accounts(policies: list[CiliumPolicy]) -> bool:
    """Some policy's endpoint selector names io.cilium.k8s.policy.serviceaccount (then pods are classed by
    service account too, as for Calico's service-account selectors)."""
    return any((p.subject is not None and p.subject.service_account)
               or any(peer.selector is not None and peer.selector.service_account
                      for d in DIRECTIONS for r in p.rules(d) + p.deny_rules(d) for peer in r.peers or ())
               for p in policies)


def _strip(key: str) -> str:
    for s in _SOURCES:
        if key.startswith(s):
            return key[len(s):]
    return key


def _cidr_set(item: Any, path: Path, groups: Mapping[str, CidrGroup]) -> tuple[AddressSet, str, tuple[str, ...]]:
    m = _map(item, path, required=True)
    assert m is not None
    if "cidr" in m and m["cidr"] is not None:
        net = _cidr(str(m["cidr"]), path + ("cidr",))
        block = AddressSet.from_cidr(str(net))
        base = str(m["cidr"])
    elif m.get("cidrGroupRef"):
        g = groups.get(str(m["cidrGroupRef"]))
        if g is None:
            # an unknown group selects nothing until it exists (the agent resolves it when it appears)
            return AddressSet(), f"cidrGroupRef {m['cidrGroupRef']} (no such CiliumCIDRGroup in the input)", ()
        block, base = g.cidrs, f"cidrGroupRef {g.name} ({g.text})"
    elif m.get("cidrGroupSelector") is not None:
        sel = parse_label_selector(m["cidrGroupSelector"], path + ("cidrGroupSelector",))
        block = AddressSet()
        names = []
        for g in groups.values():
            if sel.matches(g.labels):
                block = block | g.cidrs
                names.append(g.name)
        base = f"cidrGroupSelector [{sel.describe()}] ({', '.join(names) or 'no group'})"
    else:
        raise FieldError(path, "Required value: one of cidr, cidrGroupRef, cidrGroupSelector")
    excepts = [str(x) for x in _list(m.get("except"), path + ("except",)) or []]
    for j, x in enumerate(excepts):
        block = block - AddressSet.from_cidr(str(_cidr(x, path + ("except", j))))
    written = tuple([str(m["cidr"])] if m.get("cidr") else block.cidrs()) + tuple(excepts)
    return block, base + (f" except {', '.join(excepts)}" if excepts else ""), written


def _peers(m: Mapping[str, Any], direction: Direction, path: Path, groups: Mapping[str, CidrGroup],
           deny: bool) -> tuple[CiliumPeer, ...] | None:
    pre = "from" if direction == Direction.INGRESS else "to"
    out: list[CiliumPeer] = []
    present = False
    for i, s in enumerate(_list(m.get(pre + "Endpoints"), path + (pre + "Endpoints",)) or []):
        present = True
        sel = parse_selector(s, path + (pre + "Endpoints", i))
        out.append(CiliumPeer(PeerKind.ENDPOINTS, selector=sel))
    for i, c in enumerate(_list(m.get(pre + "CIDR"), path + (pre + "CIDR",)) or []):
        present = True
        net = _cidr(str(c), path + (pre + "CIDR", i))
        out.append(CiliumPeer(PeerKind.CIDR, addresses=AddressSet.from_cidr(str(net)), text=f"CIDR {c}", written=(str(c),)))
    for i, c in enumerate(_list(m.get(pre + "CIDRSet"), path + (pre + "CIDRSet",)) or []):
        present = True
        block, text, written = _cidr_set(c, path + (pre + "CIDRSet", i), groups)
        out.append(CiliumPeer(PeerKind.CIDR, addresses=block, text=f"CIDRSet {text}", written=written))
    for i, e in enumerate(_list(m.get(pre + "Entities"), path + (pre + "Entities",)) or []):
        present = True
        try:
            ent = Entity(e)
        except ValueError:
            raise FieldError(path + (pre + "Entities", i), f"Unsupported value: {e!r}: supported values: "
                             + ", ".join(f'"{x.value}"' for x in Entity)) from None
        out.append(CiliumPeer(PeerKind.ENTITY, entity=ent, text=f"entity {ent.value}"))
    for i, f in enumerate(_list(m.get("toFQDNs"), path + ("toFQDNs",)) or [] if direction == Direction.EGRESS else []):
        present = True
        fqdn = fqdn_selector(f, path + ("toFQDNs", i))
        out.append(CiliumPeer(PeerKind.FQDN, text=f"FQDN {fqdn.text}", fqdn=fqdn))
    for s in _list(m.get("toServices"), path + ("toServices",)) or [] if direction == Direction.EGRESS else []:
        present = True
        out.append(CiliumPeer(PeerKind.SERVICE, text=f"service {_service_text(s)}"))
    for key in (pre + "Groups", pre + "Nodes", pre + "Requires"):
        if _list(m.get(key), path + (key,)):
            present = True
            out.append(CiliumPeer(PeerKind.GROUP, text=key))
    if not present:
        return None
    return tuple(out)


def _service_text(s: Any) -> str:
    if isinstance(s, Mapping):
        k = s.get("k8sService") or {}
        if isinstance(k, Mapping) and k.get("serviceName"):
            return f"{k.get('namespace', '')}/{k['serviceName']}".lstrip("/")
    return "selector"


def _to_ports(value: Any, path: Path, deny: bool) -> tuple[tuple[PortSpec, ...] | None, tuple[str, ...]]:
    items = _list(value, path)
    if not items:
        return None, ()
    specs: list[PortSpec] = []
    l7: list[str] = []
    every = False
    for i, item in enumerate(items):
        p = path + (i,)
        m = _map(item, p, required=True) or {}
        ports = _list(m.get("ports"), p + ("ports",)) or []
        if not ports:
            every = True
        for j, pp in enumerate(ports):
            specs.extend(_port(pp, p + ("ports", j)))
        rules = _map(m.get("rules"), p + ("rules",))
        if rules:
            if deny:
                raise FieldError(p + ("rules",), "L7 rules are not allowed in deny rules")
            l7.extend(_l7_text(rules))
    return (None if every else tuple(specs)), tuple(l7)


def _port(value: Any, path: Path) -> list[PortSpec]:
    """A PortProtocol: port (number, "number" or a name; "0" or absent: every port), endPort, protocol
    (TCP, UDP, SCTP or ANY: all three)."""
    m = _map(value, path, required=True) or {}
    proto = str(m.get("protocol") or "ANY").upper()
    if proto not in PROTOCOLS + ("ANY",):
        if proto in ("ICMP", "ICMPV6", "VRRP", "IGMP"):
            raise FieldError(path + ("protocol",), f"protocol {proto} is not evaluated (only TCP, UDP, SCTP, ANY)")
        raise FieldError(path + ("protocol",), f'Unsupported value: {proto!r}: supported values: "TCP", "UDP", '
                                               '"SCTP", "ANY"')
    protos = PROTOCOLS if proto == "ANY" else (proto,)
    raw = m.get("port")
    port: int | str | None
    if raw is None or str(raw) == "0":
        port = None
    elif isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()):
        port = int(raw)
        if not 1 <= port <= 65535:
            raise FieldError(path + ("port",), f"must be between 0 and 65535, inclusive (got {raw})")
    elif isinstance(raw, str):
        validate_port_name(raw, path + ("port",))
        port = raw.lower()  # Cilium lower-cases named ports
    else:
        raise FieldError(path + ("port",), f"must be a number or a port name, not {type_name(raw)}")
    end = m.get("endPort")
    if end is not None and end != 0:
        if not isinstance(end, int) or isinstance(end, bool):
            raise FieldError(path + ("endPort",), f"must be a number, not {type_name(end)}")
        if not isinstance(port, int):
            raise FieldError(path + ("endPort",), "requires a numeric port")
        if end < port:
            raise FieldError(path + ("endPort",), f"must be greater than or equal to port ({end} < {port})")
    else:
        end = None
    return [PortSpec(p, port, end) for p in protos]


def _l7_text(rules: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for h in rules.get("http") or []:
        if isinstance(h, Mapping):
            parts = [str(h.get("method") or "*"), str(h.get("path") or "/*")]
            if h.get("host"):
                parts.append(f"host {h['host']}")
            out.append("http " + " ".join(parts))
    for d in rules.get("dns") or []:
        if isinstance(d, Mapping):
            out.append("dns " + str(d.get("matchName") or d.get("matchPattern") or "*"))
    for k in rules.get("kafka") or []:
        if isinstance(k, Mapping):
            bits = [f"{x}={k[x]}" for x in ("role", "apiKey", "topic", "clientID") if k.get(x)]
            out.append("kafka " + (" ".join(bits) or "*"))
    other = [k for k in rules if k not in ("http", "dns", "kafka")]
    out.extend(f"{k} (L7 rules of this kind are not listed)" for k in other)
    return out


def _rules(value: Any, direction: Direction, path: Path, groups: Mapping[str, CidrGroup], deny: bool,
           section: str) -> tuple[CiliumRule, ...]:
    out = []
    for i, item in enumerate(_list(value, path) or []):
        p = path + (i,)
        m = _map(item, p) or {}
        for k in m:
            if k not in _RULE_FIELDS[direction]:
                raise FieldError(p + (k,), f"unknown field in an {section} rule")
        peers = _peers(m, direction, p, groups, deny)
        ports, l7 = _to_ports(m.get("toPorts"), p + ("toPorts",), deny)
        if peers is None and ports is None:
            peers = ()  # an empty rule: default deny, allows nothing (language reference)
        out.append(CiliumRule(direction, i + 1, deny, peers, ports, p, l7, section))
    return tuple(out)


def parse_rule(spec: Any, kind: str, name: str, namespace: str | None, index: int | None, path: Path,
               groups: Mapping[str, CidrGroup]) -> CiliumPolicy:
    m = _map(spec, path, required=True)
    assert m is not None
    has_ep, has_node = m.get("endpointSelector") is not None, m.get("nodeSelector") is not None
    if has_ep == has_node:
        raise FieldError(path, "exactly one of endpointSelector and nodeSelector is required")
    subject = parse_selector(m["endpointSelector"], path + ("endpointSelector",)) if has_ep else None
    if has_node:
        parse_label_selector(m["nodeSelector"], path + ("nodeSelector",))
    sections = {}
    for key, d, deny in (("ingress", Direction.INGRESS, False), ("egress", Direction.EGRESS, False),
                         ("ingressDeny", Direction.INGRESS, True), ("egressDeny", Direction.EGRESS, True)):
        sections[key] = _rules(m.get(key), d, path + (key,), groups, deny, key)
    dd = _map(m.get("enableDefaultDeny"), path + ("enableDefaultDeny",)) or {}
    default = []
    for d, a, b in ((Direction.INGRESS, "ingress", "ingressDeny"), (Direction.EGRESS, "egress", "egressDeny")):
        v = dd.get(d)
        if v is not None and not isinstance(v, bool):
            raise FieldError(path + ("enableDefaultDeny", d), f"must be a boolean, not {type_name(v)}")
        default.append(bool(sections[a] or sections[b]) if v is None else v)
    return CiliumPolicy(kind, namespace, name, index, subject, sections["ingress"], sections["egress"],
                        sections["ingressDeny"], sections["egressDeny"], (default[0], default[1]),
                        str(m.get("description") or ""))


def parse_policy(raw: Mapping[str, Any], groups: Mapping[str, CidrGroup]) -> list[CiliumPolicy]:
    """A CNP or CCNP: one CiliumPolicy per rule (``spec``, then each of ``specs``)."""
    kind = str(raw.get("kind"))
    meta = raw.get("metadata") or {}
    name = str(meta.get("name"))
    ns = str(meta.get("namespace") or "default") if kind == CNP_KIND else None
    spec, specs = raw.get("spec"), _list(raw.get("specs"), ("specs",))
    if spec is None and not specs:
        raise FieldError(("spec",), "Required value: spec or specs")
    out = []
    if spec is not None:
        out.append(parse_rule(spec, kind, name, ns, None, ("spec",), groups))
    for i, s in enumerate(specs or []):
        out.append(parse_rule(s, kind, name, ns, i, ("specs", i), groups))
    return out


def parse_cidr_group(raw: Mapping[str, Any]) -> CidrGroup:
    meta = raw.get("metadata") or {}
    spec = _map(raw.get("spec"), ("spec",), required=True) or {}
    cidrs = _list(spec.get("externalCIDRs"), ("spec", "externalCIDRs")) or []
    block = AddressSet()
    for i, c in enumerate(cidrs):
        block = block | AddressSet.from_cidr(str(_cidr(str(c), ("spec", "externalCIDRs", i))))
    labels = meta.get("labels") or {}
    return CidrGroup(str(meta.get("name")), dict(labels), block, ", ".join(str(c) for c in cidrs) or "no CIDRs")


@dataclass
class CiliumEntry:
    """A parsed CNP/CCNP rule object and the object it came from."""

    policy: CiliumPolicy
    source: Any


def build(objs: list[SourceObject], notes: list[str]) -> list[CiliumEntry]:
    """Validate the Cilium objects (SourceObjects) of a cluster: CIDR groups first, then the policies. The
    later of two objects with one identity replaces the earlier (as ``kubectl apply`` would)."""
    latest: dict[tuple[str, str, str], Any] = {}
    for obj in objs:
        version = obj.raw.get("apiVersion")
        if version not in (None, API_VERSION):
            raise obj.error(("apiVersion",), f"{obj.kind} {obj.name}: apiVersion {version!r} is not evaluated "
                            f"(expected {API_VERSION})")
        ns = (obj.namespace or "default") if obj.kind == CNP_KIND else ""
        key = (obj.kind, ns, obj.name)
        if key in latest:
            notes.append(f"duplicate {obj.kind} {ns + '/' if ns else ''}{obj.name} in {obj.origin.describe()}; "
                         f"it replaces the one in {latest[key].origin.describe()}")
        latest[key] = obj
    groups = cidr_groups(list(latest.values()))
    out = sort_entries(parse_entries([o for o in latest.values() if o.kind != CIDR_GROUP_KIND], groups))
    notes.extend(summary_notes(out))
    return out


def cidr_groups(objs: list[SourceObject]) -> dict[str, CidrGroup]:
    """The CiliumCIDRGroups among ``objs`` by name."""
    groups: dict[str, CidrGroup] = {}
    for obj in objs:
        if obj.kind == CIDR_GROUP_KIND:
            try:
                groups[obj.name] = parse_cidr_group(obj.raw)
            except FieldError as e:
                raise obj.error(e.path, f"{obj.kind} {obj.name}: {e.message}") from None
    return groups


def parse_entries(objs: list[SourceObject], groups: Mapping[str, CidrGroup]) -> list[CiliumEntry]:
    """The rule objects of CNP/CCNP objects (unsorted); a bad one raises its InputError."""
    out: list[CiliumEntry] = []
    for obj in objs:
        try:
            pols = parse_policy(obj.raw, groups)
        except FieldError as e:
            raise obj.error(e.path, f"{obj.kind} {obj.name}: {e.message}") from None
        out.extend(CiliumEntry(p, obj) for p in pols)
    return out


def sort_entries(entries: list[CiliumEntry]) -> list[CiliumEntry]:
    return sorted(entries, key=lambda e: (e.policy.kind, e.policy.namespace or "", e.policy.name,
                                          e.policy.spec_index or 0))


def summary_notes(entries: list[CiliumEntry]) -> list[str]:
    """What the cluster's notes say about its Cilium policies as a whole (host policies, unevaluated peers)."""
    notes: list[str] = []
    hosts = [e.policy.id for e in entries if e.policy.subject is None]
    if hosts:
        notes.append(f"not evaluated: Cilium host policies (nodeSelector) {', '.join(hosts)}: the model has no "
                     "nodes; hostNetwork pods' verdicts may differ")
    unsure = sorted({f"{r.section} {p.text}" for e in entries for d in DIRECTIONS
                     for r in e.policy.rules(d) + e.policy.deny_rules(d) for p in r.peers or ()
                     if p.kind in (PeerKind.FQDN, PeerKind.SERVICE, PeerKind.GROUP)})
    if unsure:
        notes.append("uncertain: Cilium peers whose addresses are not known offline (" + "; ".join(unsure[:5])
                     + (" ..." if len(unsure) > 5 else "") + "): the verdicts they could change are marked uncertain")
    return notes


TWO_CNIS_NOTE = (
    "Calico and Cilium policy objects are both present: a cluster normally runs one CNI, whose policy engine "
    "enforces its own objects (and the Kubernetes NetworkPolicies) while the other's objects are inert. Both "
    "are evaluated here, in the pipeline's order: Cilium deny rules, Calico tiers, the Admin tier, the "
    "NetworkPolicy tier (Calico's default tier, where Cilium's allow rules and default deny join the Kubernetes "
    "NetworkPolicies), the Baseline tier; check which CNI the cluster runs (docs/cilium.md)")
"""The note of an input with both CNIs' policy objects (model.cluster.build_cluster, engine.incremental)."""
