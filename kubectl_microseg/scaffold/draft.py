"""Provides PolicyDraft: a NetworkPolicy being scaffolded, with the comments that explain it.

A draft is plain data: the policy's fields as the API expects them (dicts and lists), a header saying
what the policy is for, and one ``why`` per rule. ``manifest()`` gives the bare object (for validation
and the engine); ``scaffold.yaml_out`` turns a draft into commented YAML. The helpers here build the
dict forms of selectors, peers and ports, and ``validate`` runs the engine's own validation (the API
server's rules) on every draft before anything is shown or written.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping

from ..errors import UsageError
from ..model.cluster import NAMESPACE_NAME_LABEL
from ..model.istio import AUTHZ_KIND, PEER_AUTHN_KIND, parse_authorization_policy, parse_peer_authentication
from ..model.policy import FieldError, format_path, parse_network_policy
from ..model.selectors import LabelSelector, Operator, parse_selector_text

API_VERSION = "networking.k8s.io/v1"
Selector = dict[str, Any]
"""A metav1.LabelSelector as a dict: ``{}``, ``{"matchLabels": ...}``, ``{"matchExpressions": [...]}``."""


@dataclass(frozen=True)
class DraftRule:
    """One ingress or egress rule and the reason it exists."""

    why: str
    """The comment written above the rule: who, what, and why it is allowed."""
    peers: tuple[dict[str, Any], ...] = ()
    """Entries of ``from``/``to``; empty: the key is left out, which means every peer."""
    ports: tuple[dict[str, Any], ...] = ()
    """Entries of ``ports``; empty: the key is left out, which means every port."""

    def to_dict(self, direction: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.peers:
            out["from" if direction == "ingress" else "to"] = [copy.deepcopy(p) for p in self.peers]
        if self.ports:
            out["ports"] = [dict(p) for p in self.ports]
        return out


@dataclass(frozen=True)
class PolicyDraft:
    """A NetworkPolicy to write, with its explanation."""

    namespace: str
    name: str
    header: tuple[str, ...]
    """Comment lines written above the document: what the policy does and what to know before applying."""
    pod_selector: Selector
    selector_note: str
    """End-of-line comment on ``podSelector`` (which pods the policy applies to)."""
    policy_types: tuple[str, ...]
    ingress: tuple[DraftRule, ...] = ()
    egress: tuple[DraftRule, ...] = ()
    types_note: str = ""
    """End-of-line comment on ``policyTypes`` (e.g. why a listed direction has no rules)."""
    notes: tuple[str, ...] = field(default=(), compare=False)
    """Things the user should read on the terminal too (fallbacks, guesses)."""

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    def rules(self, direction: str) -> tuple[DraftRule, ...]:
        """The rules of ``direction`` ('ingress', 'egress'; () for any other list of another kind)."""
        return self.ingress if direction == "ingress" else self.egress if direction == "egress" else ()

    def manifest(self) -> dict[str, Any]:
        """The bare NetworkPolicy object (plain dicts and lists, fixed key order)."""
        spec: dict[str, Any] = {"podSelector": copy.deepcopy(self.pod_selector),
                                "policyTypes": list(self.policy_types)}
        for direction in ("ingress", "egress"):
            rules = self.rules(direction)
            if rules:
                spec[direction] = [r.to_dict(direction) for r in rules]
        return {"apiVersion": API_VERSION, "kind": "NetworkPolicy",
                "metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}


# ----------------------------------------------------------------------------- names
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def dns_label(text: str, limit: int = 63) -> str:
    """Make ``text`` a valid DNS-1123 label ('App.Kubernetes/Name' -> 'app-kubernetes-name')."""
    out = _NOT_DNS.sub("-", text.lower()).strip("-")
    out = re.sub(r"-{2,}", "-", out)[:limit].strip("-")
    return out or "policy"


# ----------------------------------------------------------------------------- selectors and peers
def match_labels(labels: Mapping[str, str]) -> Selector:
    """``{"matchLabels": labels}`` with sorted keys; ``{}`` (every pod) when ``labels`` is empty."""
    return {"matchLabels": dict(sorted(labels.items()))} if labels else {}


def selector_dict(sel: LabelSelector) -> Selector:
    """A compiled selector back in API form: single-value ``In`` as matchLabels, the rest as expressions."""
    labels: dict[str, str] = {}
    exprs: list[dict[str, Any]] = []
    for r in sel.requirements:
        if r.operator is Operator.IN and len(r.values) == 1 and r.key not in labels:
            labels[r.key] = next(iter(r.values))
            continue
        e: dict[str, Any] = {"key": r.key, "operator": r.operator.value}
        if r.operator in (Operator.IN, Operator.NOT_IN):
            e["values"] = sorted(r.values)
        exprs.append(e)
    out: Selector = {}
    if labels:
        out["matchLabels"] = dict(sorted(labels.items()))
    if exprs:
        out["matchExpressions"] = sorted(exprs, key=lambda e: (e["key"], e["operator"]))
    return out


def parse_selector(text: str, what: str) -> Selector:
    """kubectl's ``-l`` syntax ('app=web,tier in (a,b),!canary') as a selector dict; UsageError if bad."""
    try:
        return selector_dict(parse_selector_text(text))
    except ValueError as exc:
        raise UsageError(f"bad {what} {text!r}: {exc}") from None


def describe_selector(sel: Selector) -> str:
    """Short text for comments: 'app=web', 'tier in (a,b)', or 'every pod' for ``{}``."""
    parts = [f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items()]
    for e in sel.get("matchExpressions") or []:
        op, key = e["operator"], e["key"]
        vals = ",".join(e.get("values") or [])
        parts.append({"In": f"{key} in ({vals})", "NotIn": f"{key} notin ({vals})",
                      "Exists": key, "DoesNotExist": f"!{key}"}[op])
    return ",".join(parts) if parts else "every pod"


def namespace_selector(namespace: str) -> Selector:
    """Selects one namespace by ``kubernetes.io/metadata.name``: the API server sets this label on every
    namespace (immutable, equal to the name; Kubernetes 1.21+), so it cannot be forgotten or misspelt."""
    return {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}


def pods_peer(pod_selector: Selector, namespace: str | None = None, policy_namespace: str | None = None) -> dict[str, Any]:
    """A peer selecting pods; in another namespace than the policy's when ``namespace`` differs.

    A peer with only ``podSelector`` selects pods of the policy's own namespace; with
    ``namespaceSelector`` as well (in the same list item), the selected pods of the selected namespaces.
    """
    if namespace is None or namespace == policy_namespace:
        return {"podSelector": copy.deepcopy(pod_selector)}
    return {"namespaceSelector": namespace_selector(namespace), "podSelector": copy.deepcopy(pod_selector)}


def ip_peer(cidr: str, excepts: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    block: dict[str, Any] = {"cidr": cidr}
    if excepts:
        block["except"] = list(excepts)
    return {"ipBlock": block}


# ----------------------------------------------------------------------------- ports
_PROTOCOLS = ("TCP", "UDP", "SCTP")


def port_entry(protocol: str, port: int | str | None = None, end_port: int | None = None) -> dict[str, Any]:
    """One item of ``ports``; ``port=None`` means every port of the protocol."""
    out: dict[str, Any] = {"protocol": protocol}
    if port is not None:
        out["port"] = port
    if end_port is not None and end_port != port:
        out["endPort"] = end_port
    return out


def parse_port(text: str) -> dict[str, Any]:
    """'8080', '53/udp', '8000-8080/tcp', 'http' (a named port), 'udp' (every UDP port) -> a ports item.

    Raises:
        UsageError: the text is none of those forms.
    """
    raw = text.strip()
    num, _, proto = raw.partition("/")
    protocol = (proto or "TCP").upper()
    if num.upper() in _PROTOCOLS and not proto:
        return port_entry(num.upper())
    if protocol not in _PROTOCOLS:
        raise UsageError(f"bad port {text!r}: protocol must be tcp, udp or sctp")
    lo, dash, hi = num.partition("-")
    if lo.isdigit() and (not dash or hi.isdigit()):
        a, b = int(lo), int(hi) if dash else None
        if not 1 <= a <= 65535 or (b is not None and not a <= b <= 65535):
            raise UsageError(f"bad port {text!r}: ports are 1-65535 and a range goes upwards")
        return port_entry(protocol, a, b)
    if re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", num) and any(c.isalpha() for c in num) and len(num) <= 15:
        return port_entry(protocol, num)  # a named port, resolved on each destination pod
    raise UsageError(f"bad port {text!r}: expected a number, a range like 8000-8080, or a port name, "
                     "optionally followed by /tcp, /udp or /sctp")


def parse_ports(text: str, sep: str = ",") -> tuple[dict[str, Any], ...]:
    """A separated list of ports (see ``parse_port``), each once; '' gives () (every port)."""
    out: list[dict[str, Any]] = []
    for p in text.split(sep):
        if p.strip() and (port := parse_port(p)) not in out:
            out.append(port)
    return tuple(out)


def describe_ports(ports: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> str:
    """'TCP 8080', 'UDP 53 and TCP 53', 'any port' for ()."""
    if not ports:
        return "any port"
    parts = []
    for p in ports:
        if "port" not in p:
            parts.append(f"every {p['protocol']} port")
        elif "endPort" in p:
            parts.append(f"{p['protocol']} {p['port']}-{p['endPort']}")
        else:
            parts.append(f"{p['protocol']} {p['port']}")
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


# ----------------------------------------------------------------------------- validation
def validate(drafts: list[PolicyDraft]) -> None:
    """Run the engine's validation (the API server's rules) on every draft; names must be unique.

    Raises:
        UsageError: a draft would be rejected (a bad label, port or name given on the command line).
    """
    seen: set[str] = set()
    for d in drafts:
        if d.id in seen:
            raise UsageError(f"two scaffolded policies are both named {d.id}; give distinct names")
        seen.add(d.id)
        if d.manifest()["apiVersion"] == "projectcalico.org/v3":  # cluster-scope Calico form (scaffold.calico_form)
            from ..model.calico import parse_calico_policy, parse_tier
            try:
                (parse_tier if d.manifest()["kind"] == "Tier" else parse_calico_policy)(d.manifest())
            except FieldError as exc:  # a scaffolding bug, or a bad --tier/--name
                raise UsageError(f"the scaffolded {d.id} would be rejected: {format_path(exc.path)}: "
                                 f"{exc.message}") from None
            continue
        if d.manifest()["kind"] in (AUTHZ_KIND, PEER_AUTHN_KIND):  # scaffold.mesh
            parse = parse_authorization_policy if d.manifest()["kind"] == AUTHZ_KIND else parse_peer_authentication
            try:
                parse(d.manifest())
            except FieldError as exc:
                raise UsageError(f"the scaffolded {d.manifest()['kind']} {d.id} would be rejected: "
                                 f"{format_path(exc.path)}: {exc.message}") from None
            continue
        if d.manifest()["kind"] != "NetworkPolicy":  # a ClusterNetworkPolicy (scaffold.guardrails)
            from ..model.admin import parse_cluster_network_policy
            try:
                parse_cluster_network_policy(d.manifest())
            except FieldError as exc:
                raise UsageError(f"the scaffolded ClusterNetworkPolicy {d.name} would be rejected: "
                                 f"{format_path(exc.path)}: {exc.message}") from None
            continue
        try:
            pol = parse_network_policy(d.manifest())
        except FieldError as exc:
            raise UsageError(f"the scaffolded NetworkPolicy {d.id} would be rejected by the API server: "
                             f"{format_path(exc.path)}: {exc.message}") from None
        if pol.warnings:
            raise UsageError(f"the scaffolded NetworkPolicy {d.id} is not valid: {'; '.join(pol.warnings)}")
