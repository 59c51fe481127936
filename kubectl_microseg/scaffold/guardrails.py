"""Provides ``scaffold cluster-guardrails``: ClusterNetworkPolicies (v1alpha2) that keep cluster DNS and
monitoring reachable in the Admin tier, and a default deny in the Baseline tier.

The Admin tier is evaluated before every NetworkPolicy, so its Accepts cannot be cut by a namespace's
own policies; the Baseline tier only applies to pods no NetworkPolicy isolates, so namespaces that write
their own policies replace the default deny (network-policy-api v1alpha2, ``spec.tier``). An Accept is
per direction, so each guarantee has two parts: the clients' egress and the servers' ingress.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..model.admin import CNP_API_VERSION, CNP_KIND
from .dns import DnsTarget
from .draft import DraftRule, PolicyDraft

ALL_NAMESPACES: dict[str, Any] = {}


@dataclass(frozen=True)
class ClusterPolicyDraft(PolicyDraft):
    """A ClusterNetworkPolicy to write (cluster-scoped: no namespace, no podSelector)."""

    tier: str = "Admin"
    priority: int = 100
    subject: Any = None
    ingress_rules: tuple[tuple[str, dict[str, Any]], ...] = ()
    """(why, rule) pairs, written in order (the first match decides)."""
    egress_rules: tuple[tuple[str, dict[str, Any]], ...] = ()

    @property
    def id(self) -> str:
        return f"[CNP] {self.name}"

    def rules(self, direction: str) -> tuple[DraftRule, ...]:
        items = self.ingress_rules if direction == "ingress" else self.egress_rules
        return tuple(DraftRule(why) for why, _ in items)

    def manifest(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"tier": self.tier, "priority": self.priority, "subject": copy.deepcopy(self.subject)}
        for direction, items in (("ingress", self.ingress_rules), ("egress", self.egress_rules)):
            if items:
                spec[direction] = [copy.deepcopy(r) for _, r in items]
        return {"apiVersion": CNP_API_VERSION, "kind": CNP_KIND, "metadata": {"name": self.name}, "spec": spec}


def _draft(name: str, tier: str, priority: int, subject: dict[str, Any], header: tuple[str, ...],
           ingress: tuple[tuple[str, dict[str, Any]], ...] = (), egress: tuple[tuple[str, dict[str, Any]], ...] = ()) -> ClusterPolicyDraft:
    return ClusterPolicyDraft("", name, header, {}, "", (), tier=tier, priority=priority, subject=subject,
                              ingress_rules=ingress, egress_rules=egress)


def _ns(name: str) -> dict[str, Any]:
    return {"matchLabels": {"kubernetes.io/metadata.name": name}}


def cluster_guardrails(dns: DnsTarget, monitoring: str | None, prefix: str = "guardrails",
                       priority: int = 100) -> list[ClusterPolicyDraft]:
    """DNS (and monitoring, when given) accepted in the Admin tier; a Baseline default deny. The Admin
    policies get consecutive priorities from ``priority`` (equal priorities would be undefined order)."""
    dns_pods = {"namespaceSelector": _ns(dns.namespace), "podSelector": {"matchLabels": dict([dns.label])}}
    protocols = [{proto: {"destinationPort": {"number": p}}} for p in dns.ports for proto in ("udp", "tcp")]
    where = dns.workload or f"{dns.label[0]}={dns.label[1]} in {dns.namespace}"
    drafts = [
        _draft(f"{prefix}-dns", "Admin", priority, {"namespaces": ALL_NAMESPACES},
               (f"Admin tier: every pod may query the cluster DNS ({where}); no NetworkPolicy can cut it.",),
               egress=((f"Accept DNS to {where}, UDP and TCP (TCP for large answers).",
                        {"name": "dns-egress", "action": "Accept", "to": [{"pods": dns_pods}],
                         "protocols": protocols}),)),
        _draft(f"{prefix}-dns-server", "Admin", priority + 1, {"pods": dns_pods},
               (f"Admin tier: the DNS pods ({where}) accept queries from every pod (the ingress half of the "
                "guarantee: an Accept holds for one direction only).",),
               ingress=(("Accept DNS queries from every namespace.",
                         {"name": "dns-ingress", "action": "Accept", "from": [{"namespaces": ALL_NAMESPACES}],
                          "protocols": protocols}),)),
    ]
    if monitoring:
        drafts += [
            _draft(f"{prefix}-monitoring", "Admin", priority + 2, {"namespaces": ALL_NAMESPACES},
                   (f"Admin tier: every pod accepts scrapes from the {monitoring} namespace.",),
                   ingress=((f"Accept everything from namespace {monitoring} (metrics scrapes).",
                             {"name": "monitoring-ingress", "action": "Accept",
                              "from": [{"namespaces": _ns(monitoring)}]}),)),
            _draft(f"{prefix}-monitoring-egress", "Admin", priority + 3, {"namespaces": _ns(monitoring)},
                   (f"Admin tier: the {monitoring} namespace may reach every pod (the egress half of scraping).",),
                   egress=(("Accept everything to every pod.",
                            {"name": "scrape-egress", "action": "Accept", "to": [{"namespaces": ALL_NAMESPACES}]}),)),
        ]
    drafts.append(_draft(
        f"{prefix}-default-deny", "Baseline", 1000, {"namespaces": ALL_NAMESPACES},
        ("Baseline tier: deny by default. It applies only to pods no NetworkPolicy isolates, so a namespace's own "
         "NetworkPolicies replace it; the Admin-tier Accepts above come first.",),
        ingress=(("Deny ingress from every pod.", {"name": "deny-ingress", "action": "Deny",
                                                   "from": [{"namespaces": ALL_NAMESPACES}]}),),
        egress=(("Deny egress to every pod and every address (networks also match pod IPs).",
                 {"name": "deny-egress", "action": "Deny",
                  "to": [{"namespaces": ALL_NAMESPACES}, {"networks": ["0.0.0.0/0", "::/0"]}]}),)))
    return drafts
