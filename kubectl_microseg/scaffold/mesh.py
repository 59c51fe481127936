"""Provides the ``mesh`` scaffold: Istio AuthorizationPolicies by service account and a STRICT
PeerAuthentication, from the same tier intent as ``scaffold tiers`` (chain, namespace, entry).

What is written (istio.io, docs/reference/config/security/authorization-policy and peer_authentication):

- one ``PeerAuthentication`` for the namespace, ``mtls.mode: STRICT``: sidecars accept only mutual TLS, so
  every client has a verified identity (a namespace-wide PeerAuthentication already in the model keeps its
  name, and is replaced: Istio uses only the oldest of several at one level);
- per tier, one ``ALLOW`` ``AuthorizationPolicy`` selecting the tier's pods, with one rule: ``from.source.
  principals`` = the service accounts of the previous tier's pods (``TRUST_DOMAIN/ns/NS/sa/SA``: principals
  "require mTLS", hence the STRICT policy), ``to.operation.ports`` = the tier's TCP ports. The first tier
  admits the entry (its pods' service accounts, or its namespace: ``source.namespaces``); without an entry
  it has no rules: an ALLOW policy without rules "allows nothing".

Once an ALLOW policy selects a workload, requests no rule matches are denied, so each tier is reachable from
its previous tier only, as the NetworkPolicies of ``scaffold tiers`` do at L4 (the two layers together:
defence in depth). Service accounts come from the model's pod templates; pods that share a service account
with pods outside their tier, or run as ``default``, are reported (the principal cannot tell them apart).
Istio authorizes TCP only (UDP is not proxied: istio.io protocol-selection), so UDP/SCTP ports are left out.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ..model.cluster import Cluster, Workload
from ..model.istio import (AUTHZ_KIND, PEER_AUTHN_KIND, AuthzAction, Dataplane, MtlsMode, pod_dataplane, pod_template, principal,
                           service_account)
from ..model.selectors import LabelSelector
from .draft import DraftRule, PolicyDraft, describe_ports, describe_selector, dns_label
from .tiers import Tier, TierIntent

API_VERSION = "security.istio.io/v1"
MAX_RANGE = 32
"""A port range is written out port by port up to this many ports (AuthorizationPolicy ports are single)."""


@dataclass(frozen=True)
class MeshDraft(PolicyDraft):
    """A PolicyDraft whose manifest is an Istio object; ``ingress`` holds the whys of ``spec.rules``."""

    body: dict[str, Any] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        return copy.deepcopy(self.body)

    def rules(self, direction: str) -> tuple[DraftRule, ...]:
        return self.ingress if direction == "rules" else ()


def build(intent: TierIntent, cluster: Cluster | None, trust_domain: str) -> tuple[list[PolicyDraft], list[str]]:
    """The STRICT PeerAuthentication and one AuthorizationPolicy per tier (the intent resolved: every tier
    has a selector), and notes for the terminal."""
    ns = intent.namespace
    notes: list[str] = []
    accounts = Accounts(cluster, ns)
    chain_text = " -> ".join(", ".join(t.name for t in g) for g in intent.groups)
    drafts: list[PolicyDraft] = [peer_authentication(ns, cluster, chain_text)]
    for gi, group in enumerate(intent.groups):
        for t in group:
            why, source = _source(gi, intent, accounts, trust_domain, notes)
            ports, port_note = _ports(t, accounts)
            if port_note:
                notes.append(f"tier {t.name}: {port_note}")
            rules: list[dict[str, Any]] = []
            whys: list[DraftRule] = []
            if source is not None:
                rule: dict[str, Any] = {"from": [{"source": source}]}
                if ports:
                    rule["to"] = [{"operation": {"ports": ports}}]
                rules.append(rule)
                whys.append(DraftRule(f"{why}, on {_ports_text(ports)}."))
            header = [f"Tier {gi + 1} of {len(intent.groups)}: {t.name}, in the chain {chain_text} (Istio, L7).",
                      f"Pods: {t.how}.",
                      "ALLOW: once an ALLOW policy selects a workload, every request no rule matches is denied",
                      "(istio.io authorization-policy). Principals need mTLS: see the STRICT PeerAuthentication."]
            if source is None:
                header.append("First tier and no entry given (--entry-namespace): no rules, so it allows nothing.")
            body: dict[str, Any] = {"apiVersion": API_VERSION, "kind": AUTHZ_KIND,
                                    "metadata": {"name": dns_label(f"{t.name}-tier-authz"), "namespace": ns},
                                    "spec": {"selector": {"matchLabels": dict((t.selector or {}).get("matchLabels", {}))},
                                             "action": AuthzAction.ALLOW.value}}
            if rules:
                body["spec"]["rules"] = rules
            drafts.append(MeshDraft(ns, body["metadata"]["name"], tuple(header), {}, f"the pods of tier {t.name}", (),
                                    tuple(whys), body=body))
    notes.extend(accounts.notes())
    if cluster is not None and not accounts.in_mesh():
        notes.append(f"no workload of namespace {ns} has a sidecar in the model: these policies take effect once "
                     f"they do (kubectl label namespace {ns} istio-injection=enabled, then restart the pods)")
    return drafts, notes


def peer_authentication(ns: str, cluster: Cluster | None, chain_text: str) -> MeshDraft:
    """STRICT mTLS for the namespace, under the name of its namespace-wide PeerAuthentication if it has one."""
    existing = sorted(pa.name for pa, _ in (cluster.mesh.peer_authn if cluster is not None else [])
                      if pa.namespace == ns and pa.selector is None)
    name = existing[0] if existing else "default"
    header = [f"mTLS STRICT for every workload of namespace {ns} (the chain {chain_text}).",
              "Sidecars then accept only mutual TLS: clients without a sidecar are refused, and every client has",
              "the identity the AuthorizationPolicies' principals name (istio.io peer_authentication).",
              "Kubelet's HTTP probes keep working: the injector rewrites them to the sidecar by default."]
    if existing:
        header.append(f"Replaces the namespace's PeerAuthentication {ns}/{name}: with several at one level, Istio uses "
                      "the oldest.")
    body = {"apiVersion": API_VERSION, "kind": PEER_AUTHN_KIND, "metadata": {"name": name, "namespace": ns},
            "spec": {"mtls": {"mode": MtlsMode.STRICT.value}}}
    return MeshDraft(ns, name, tuple(header), {}, "", (), body=body)


class Accounts:
    """The service accounts of the model's pods, per tier (and who else uses them)."""

    def __init__(self, cluster: Cluster | None, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self._used: dict[str, set[str]] = {}
        """'ns/sa' -> the workloads a rule meant to name by it."""

    def workloads(self, namespace: str, selector: dict[str, Any]) -> list[Workload]:
        if self.cluster is None:
            return []
        sel = LabelSelector.from_match_labels(selector.get("matchLabels", {}))
        return [w for w in self.cluster.workloads if w.namespace == namespace and sel.matches(w.labels)]

    def of(self, namespace: str, selector: dict[str, Any], fallback: str | None) -> list[str]:
        """The service accounts of the selected pods; without a model, ``fallback`` (None: unknown)."""
        by_sa: dict[str, set[str]] = {}
        for w in self.workloads(namespace, selector):
            by_sa.setdefault(_account(w), set()).add(w.id)
        found = sorted(by_sa)
        for sa, ids in by_sa.items():
            self._used.setdefault(f"{namespace}/{sa}", set()).update(ids)
        if found or self.cluster is not None:
            return found
        return [fallback] if fallback else []

    def in_mesh(self) -> bool:
        """Whether a workload of the namespace has a sidecar (or ambient) in the model."""
        if self.cluster is None:
            return False
        ns = self.cluster.namespaces.get(self.namespace)
        for w in self.cluster.workloads:
            if w.namespace == self.namespace:
                meta = pod_template(w.kind, w.source.raw if w.source else {})[0]
                if pod_dataplane(ns.labels if ns else {}, meta.get("labels") or {},
                                 meta.get("annotations") or {}) is not Dataplane.NONE:
                    return True
        return False

    def notes(self) -> list[str]:
        """Service accounts that do not tell a tier apart: ``default``, or used by pods of other tiers or none."""
        out = []
        if self.cluster is None:
            return ["no model (--no-cluster): each tier's pods are assumed to run as a service account named after "
                    "the tier; check serviceAccountName in their pod templates"]
        for key, meant in sorted(self._used.items()):
            ns, sa = key.split("/", 1)
            outside = sorted(w.id for w in self.cluster.workloads
                             if w.namespace == ns and _account(w) == sa and w.id not in meant)
            if sa == "default" or outside:
                who = f"also used by {', '.join(outside[:4])}" if outside else "the namespace's default account"
                out.append(f"service account {key} ({who}): a principal names every pod running as it; give "
                           "each tier its own ServiceAccount (serviceAccountName)")
        return out


def _account(w: Workload) -> str:
    return service_account(pod_template(w.kind, w.source.raw if w.source else {})[1])


def _source(gi: int, intent: TierIntent, accounts: Accounts, trust_domain: str,
            notes: list[str]) -> tuple[str, dict[str, Any] | None]:
    """Who may call the tier of group ``gi``: the rule's ``source`` and its why (None: nobody)."""
    ns = intent.namespace
    if gi > 0:
        prev: tuple[Tier, ...] = intent.groups[gi - 1]
        names: list[str] = []
        principals: list[str] = []
        for u in prev:
            sas = accounts.of(ns, u.selector or {}, u.name)
            if not sas:
                notes.append(f"tier {u.name}: no pod in the model, so no service account to name; its callee "
                             "admits nobody from it")
            names.append(f"{u.name} (service account {', '.join(sas) or 'none found'})")
            principals.extend(principal(trust_domain, ns, sa) for sa in sas)
        if not principals:
            return f"From tier {', '.join(names)}: nobody to name", None
        return (f"From tier {', '.join(names)}: the previous tier in the chain calls this one",
                {"principals": sorted(set(principals))})
    e = intent.entry
    if e is None:
        return "", None
    if e.selector:
        sas = accounts.of(e.namespace, e.selector, None)
        if sas:
            return (f"Entry: pods [{describe_selector(e.selector)}] of namespace {e.namespace} (service account "
                    f"{', '.join(sas)}): the way in to the first tier",
                    {"principals": sorted(principal(trust_domain, e.namespace, sa) for sa in sas)})
        notes.append(f"entry [{describe_selector(e.selector)}] of namespace {e.namespace}: no pod in the model to take "
                     "a service account from; the whole namespace is admitted (source.namespaces)")
    return (f"Entry: every pod of namespace {e.namespace} with a sidecar (source.namespaces needs mTLS): the way in to "
            "the first tier", {"namespaces": [e.namespace]})


def _ports(t: Tier, accounts: Accounts) -> tuple[list[str], str]:
    """The tier's TCP ports as AuthorizationPolicy ports (numbers as strings) and a note on what was left out."""
    out: list[str] = []
    left: list[str] = []
    for p in t.ports:
        if p.get("protocol", "TCP") != "TCP":
            left.append(f"{p.get('protocol')} {p.get('port', '(all)')} (Istio proxies and authorizes TCP only)")
        elif "port" not in p:
            return [], ""  # every TCP port: no ports field
        elif isinstance(p["port"], str):
            numbers = sorted({n for w in accounts.workloads(accounts.namespace, t.selector or {}) for m in w.members
                              for name, proto, n in m.named_ports if name == p["port"] and proto == "TCP"})
            if not numbers:
                left.append(f"port name {p['port']} (no pod of the tier declares it; AuthorizationPolicy ports are "
                            "numbers)")
            out.extend(str(n) for n in numbers)
        elif "endPort" in p and p["endPort"] - p["port"] >= MAX_RANGE:
            return [], f"the range {p['port']}-{p['endPort']} is too long to list: the rule names no port"
        else:
            out.extend(str(n) for n in range(p["port"], p.get("endPort", p["port"]) + 1))
    note = ("left out " + "; ".join(left)) if left else ""
    if left and not out and t.ports:
        note += "; the rule names no port (every port)"
    return sorted(set(out), key=int), note


def _ports_text(ports: list[str]) -> str:
    return describe_ports([{"protocol": "TCP", "port": int(p)} for p in ports])
