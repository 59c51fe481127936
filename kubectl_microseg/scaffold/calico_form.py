"""Provides ``to_calico``: a scaffolded NetworkPolicy draft as a Calico ``projectcalico.org/v3``
NetworkPolicy (``scaffold KIND --format calico``), with the same comments and the same connectivity.

The translation keeps the verdicts (tests/scaffold/test_calico_form.py compares the matrices of both forms):
the policy goes into the ``default`` tier at order 1000, where Calico places Kubernetes NetworkPolicies
(tiered-policy page), so it is evaluated exactly where the NetworkPolicy would be; ``podSelector`` ->
``selector`` in the selector language; ``policyTypes`` -> ``types``; every (peer, protocol) of a rule ->
one Allow rule (a Calico rule has one source/destination and one protocol): ``podSelector`` -> ``selector``
(the policy's namespace, as in a NetworkPolicy), ``namespaceSelector`` -> ``namespaceSelector`` (with
``selector: all()`` when no podSelector), ``ipBlock`` -> ``nets``/``notNets``; ports -> ``ports`` (``a:b``
for endPort, names kept), protocol TCP when unset as in a NetworkPolicy. A direction listed without rules
keeps no rule: the end of the default tier denies (defaultAction Deny).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .dns import DnsTarget
from .draft import DraftRule, PolicyDraft

ORDER = 1000


@dataclass(frozen=True)
class CalicoDraft(PolicyDraft):
    """A PolicyDraft whose manifest is a Calico NetworkPolicy."""

    calico: dict[str, Any] | None = None

    def manifest(self) -> dict[str, Any]:
        assert self.calico is not None
        return copy.deepcopy(self.calico)


def _q(v: str) -> str:
    return f"'{v}'" if "'" not in v else f'"{v}"'


def selector(sel: dict[str, Any]) -> str:
    """A LabelSelector in Calico's selector language (matchLabels and matchExpressions ANDed)."""
    parts = [f"{k} == {_q(v)}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In":
            parts.append(f"{k} in {{{', '.join(_q(v) for v in vals)}}}")
        elif op == "NotIn":
            parts.append(f"{k} not in {{{', '.join(_q(v) for v in vals)}}}")
        elif op == "Exists":
            parts.append(f"has({k})")
        else:
            parts.append(f"!has({k})")
    return " && ".join(parts) or "all()"


def _entity(peer: dict[str, Any] | None) -> dict[str, Any]:
    if not peer:
        return {}
    if "ipBlock" in peer:
        out: dict[str, Any] = {"nets": [peer["ipBlock"]["cidr"]]}
        if peer["ipBlock"].get("except"):
            out["notNets"] = list(peer["ipBlock"]["except"])
        return out
    out = {"selector": selector(peer.get("podSelector") or {})}
    if "namespaceSelector" in peer:
        out["namespaceSelector"] = selector(peer["namespaceSelector"])
    return out


def _rules(rule: dict[str, Any], direction: str) -> list[dict[str, Any]]:
    peers = rule.get("from" if direction == "ingress" else "to") or [None]
    by_proto: dict[str | None, list[Any]] = {}
    for p in rule.get("ports") or []:
        port = p.get("port")
        entry = None if port is None else (f"{port}:{p['endPort']}" if p.get("endPort") else port)
        by_proto.setdefault(p.get("protocol", "TCP"), []).append(entry)
    protos: list[tuple[str | None, list[Any]]] = list(by_proto.items()) or [(None, [])]
    out = []
    for peer in peers:
        for proto, ports in protos:
            r: dict[str, Any] = {"action": "Allow"}
            if proto:
                r["protocol"] = proto
            peer_side = "source" if direction == "ingress" else "destination"
            ent = _entity(peer)
            if ent:
                r[peer_side] = ent
            if ports and None not in ports:
                r.setdefault("destination", {})["ports"] = ports
            out.append(r)
    return out


def to_calico(draft: PolicyDraft) -> CalicoDraft:
    """The draft as a Calico NetworkPolicy draft (same name, namespace and header;
    the rules' comments are not carried: a NetworkPolicy rule may become several Calico rules)."""
    spec = draft.manifest()["spec"]
    out: dict[str, Any] = {"tier": "default", "order": ORDER, "selector": selector(spec["podSelector"]),
                           "types": list(spec.get("policyTypes", []))}
    for d in ("ingress", "egress"):
        if d.capitalize() in out["types"]:
            out[d] = [x for r in spec.get(d) or [] for x in _rules(r, d)]
    manifest = {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
                "metadata": {"name": draft.name, "namespace": draft.namespace}, "spec": out}
    header = draft.header + ("Calico form (--format calico): the NetworkPolicy this kind scaffolds, in Calico's "
                             "default tier at order 1000, where Calico evaluates Kubernetes NetworkPolicies.",)
    return CalicoDraft(draft.namespace, draft.name, header, draft.pod_selector, "", draft.policy_types,
                       (), (), "", draft.notes, calico=manifest)


# ----------------------------------------------------------------------------- cluster scope
CLUSTER_TIER = "cluster-default"
CLUSTER_TIER_ORDER = 2_000_000
"""After Calico's default tier (order 1,000,000, where the Kubernetes NetworkPolicies are: tiered-policy
page) and before its kube-baseline tier (10,000,000): what a pod's NetworkPolicies decide stays theirs."""
SYSTEM = ("kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True)
class CalicoObjectDraft(PolicyDraft):
    """A cluster-scoped Calico object to write (a Tier or a GlobalNetworkPolicy), with its comments."""

    calico: dict[str, Any] | None = None
    rule_notes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(direction, the comment above each of its rules)."""

    @property
    def id(self) -> str:
        return f"{self.calico['kind'] if self.calico else ''} {self.name}"

    def manifest(self) -> dict[str, Any]:
        assert self.calico is not None
        return copy.deepcopy(self.calico)

    def rules(self, direction: str) -> tuple[DraftRule, ...]:
        return tuple(DraftRule(why) for d, whys in self.rule_notes if d == direction for why in whys)


def _dns_rules(dns: DnsTarget) -> tuple[list[dict[str, Any]], list[str]]:
    key, value = dns.label
    dest: dict[str, Any] = {"selector": f"{key} == {_q(value)}",
                            "namespaceSelector": f"projectcalico.org/name == {_q(dns.namespace)}",
                            "ports": list(dns.ports)}
    origin = (f"the cluster DNS found in the model ({dns.workload})" if dns.found
              else f"the standard cluster DNS labels ({key}={value} in {dns.namespace}; not found in the model)")
    rules = [{"action": "Allow", "protocol": proto, "destination": copy.deepcopy(dest)} for proto in ("UDP", "TCP")]
    whys = [f"DNS: name lookups to {origin}, UDP {','.join(map(str, dns.ports))}.",
            "DNS over TCP, for answers too large for UDP (RFC 7766)."]
    return rules, whys


def cluster_default_deny(direction: str, dns: DnsTarget | None, *, name: str | None = None,
                         include_system: bool = False, tier: str = CLUSTER_TIER,
                         tier_order: float = CLUSTER_TIER_ORDER) -> list[PolicyDraft]:
    """A Tier and a GlobalNetworkPolicy in it that deny, in ``direction`` (ingress, egress or both), what no
    NetworkPolicy decides for any pod of the cluster (system namespaces left out unless ``include_system``),
    allowing the cluster DNS first when ``dns`` is given (egress). Calico: the tier applies to every pod the
    policy selects; a Kubernetes NetworkPolicy selecting a pod decides in the default tier before this tier
    is reached, and the end of this tier (defaultAction Deny) denies what its rules do not allow (Tier
    reference, "How policy is evaluated")."""
    types = {"both": ["Ingress", "Egress"], "ingress": ["Ingress"], "egress": ["Egress"]}[direction]
    if dns is not None and "Egress" not in types:
        dns = None
    what = {"both": "ingress and egress", "ingress": "ingress", "egress": "egress"}[direction]
    sel = "all()" if include_system else \
        f"projectcalico.org/namespace not in {{{', '.join(_q(n) for n in SYSTEM)}}}"
    scope = "every pod" if include_system else f"every pod outside {', '.join(SYSTEM)}"
    tier_obj = {"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": tier},
                "spec": {"order": tier_order, "defaultAction": "Deny"}}
    tier_header = (f"Calico tier {tier}: evaluated after Calico's default tier (order 1,000,000), which holds the",
                   "Kubernetes NetworkPolicies, and before its kube-baseline tier (order 10,000,000). A pod that no",
                   "policy of this tier selects skips it; at its end, what no rule allowed is denied (defaultAction",
                   "Deny). docs.tigera.io/calico/latest/reference/resources/tier")
    spec: dict[str, Any] = {"tier": tier, "order": 100, "selector": sel, "types": types}
    rule_notes: list[tuple[str, tuple[str, ...]]] = []
    if dns is not None:
        rules, whys = _dns_rules(dns)
        spec["egress"] = rules
        rule_notes.append(("egress", tuple(whys)))
    pol_name = name or ("default-deny" if dns is None else "default-deny-allow-dns")
    # projectcalico.org/v3 names a tiered policy <tier>.<name> (the storage form's prefix)
    gnp = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
           "metadata": {"name": f"{tier}.{pol_name}"}, "spec": spec}
    header = [f"Cluster-wide default deny ({what}) for {scope}, in Calico's {tier} tier.",
              "What a pod's Kubernetes NetworkPolicies allow or deny is decided before this tier (Calico's default",
              "tier); everything they leave open is denied here. New namespaces are covered as they appear."]
    if dns is not None:
        header.append("Egress to the cluster DNS is allowed first, so pods can still resolve names.")
        if dns.note:
            header.append(("Found: " if dns.found else "Fallback: ") + dns.note + ".")
    elif "Egress" in types:
        header.append("Egress is denied too and no DNS rule is written: pods cannot resolve names.")
    notes = () if dns is None or dns.found else (dns.note,)
    return [CalicoObjectDraft("", tier, tier_header, {}, "", (), calico=tier_obj),
            CalicoObjectDraft("", f"{tier}.{pol_name}", tuple(header), {}, "", tuple(types), notes=notes,
                              calico=gnp, rule_notes=tuple(rule_notes))]


def cluster_allow_dns(dns: DnsTarget, *, name: str | None = None, include_system: bool = False,
                      tier: str = CLUSTER_TIER, tier_order: float = CLUSTER_TIER_ORDER) -> list[PolicyDraft]:
    """``allow-dns`` at cluster scope: the egress part of :func:`cluster_default_deny` with the DNS rules (like
    the NetworkPolicy allow-dns, it isolates the egress of the pods it selects)."""
    return cluster_default_deny("egress", dns, name=name or "allow-dns", include_system=include_system, tier=tier,
                                tier_order=tier_order)
