"""Provides the single-purpose scaffolds: default deny, DNS, namespace isolation, zones, cross-namespace
access and HTTPS to the internet.

Each builder is pure: arguments in, PolicyDrafts out (no I/O, no model reads beyond what is passed).
The shapes follow the well-known patterns (default deny first, then DNS, then explicit allows) with
two deliberate refinements: DNS is opened for TCP as well as UDP, and selecting the DNS pods by label
as well as namespace (a namespace-only peer would open port 53 on every pod of kube-system).
"""

from __future__ import annotations

from typing import Any

from .dns import DnsTarget
from .draft import (
    DraftRule,
    PolicyDraft,
    Selector,
    describe_ports,
    describe_selector,
    dns_label,
    ip_peer,
    match_labels,
    namespace_selector,
    pods_peer,
)

DIRECTIONS = {"ingress": ("Ingress",), "egress": ("Egress",), "both": ("Ingress", "Egress")}
PRIVATE_RANGES: tuple[str, ...] = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")
"""RFC 1918 private ranges plus link-local 169.254.0.0/16, where cloud metadata services answer
(169.254.169.254): an "internet only" rule must not reach them."""
_RANGE_WHY = {"10.0.0.0/8": "RFC 1918", "172.16.0.0/12": "RFC 1918", "192.168.0.0/16": "RFC 1918",
              "169.254.0.0/16": "link-local: cloud metadata service"}


def default_deny(namespace: str, direction: str = "both", name: str | None = None) -> PolicyDraft:
    """Isolate every pod of ``namespace`` in ``direction`` (ingress, egress or both) with no rules."""
    types = DIRECTIONS[direction]
    suffix = "all" if direction == "both" else direction
    what = {"both": "all ingress and egress", "ingress": "all ingress", "egress": "all egress"}[direction]
    header = [f"Default deny: blocks {what} for every pod in namespace {namespace}.",
              "Apply it first, then add the policies that allow each required path; policies are additive,",
              "so every other policy selecting a pod adds to what this one leaves (nothing)."]
    if "Egress" in types:
        header.append("Egress is denied too: pods cannot even resolve names until an allow-dns policy is applied.")
    return PolicyDraft(namespace, name or f"default-deny-{suffix}", tuple(header), {},
                       "empty selector: every pod in the namespace", types,
                       types_note="listed with no rules: nothing is allowed in these directions")


def allow_dns(namespace: str, dns: DnsTarget, name: str | None = None) -> PolicyDraft:
    """Let every pod of ``namespace`` query the cluster DNS (egress only)."""
    header = [f"Allow DNS: every pod in namespace {namespace} may query the cluster DNS.",
              "Needed wherever egress is isolated (e.g. by default-deny-all): without it pods cannot resolve",
              "Service names. Note: this policy alone isolates egress for every pod of the namespace, so apply",
              "it together with the policies that allow the rest of the egress."]
    if dns.note:
        header.append(("Found: " if dns.found else "Fallback: ") + dns.note + ".")
    notes = () if dns.found else (dns.note,)
    return PolicyDraft(namespace, name or "allow-dns", tuple(header), {}, "empty selector: every pod in the namespace",
                       ("Egress",), egress=(dns.rule(),), notes=notes)


def isolate_namespace(namespace: str, dns: DnsTarget | None, name: str | None = None) -> PolicyDraft:
    """Environment isolation: pods of ``namespace`` talk only to each other, plus DNS."""
    header = [f"Environment isolation: pods in namespace {namespace} talk only to pods of the same namespace",
              "(plus DNS); nothing comes in from, or goes out to, other namespaces or the internet."]
    egress = [DraftRule(f"To any pod of namespace {namespace}, any port (a podSelector alone means "
                        "the policy's own namespace).", (pods_peer({}),))]
    notes: tuple[str, ...] = ()
    if dns is not None:
        egress.append(dns.rule())
        if not dns.found:
            notes = (dns.note,)
    else:
        header.append("No DNS rule (--no-dns): pods of this namespace cannot resolve names.")
    ingress = (DraftRule(f"From any pod of namespace {namespace}, any port.", (pods_peer({}),)),)
    return PolicyDraft(namespace, name or f"isolate-{namespace}"[:63].rstrip("-"), tuple(header), {},
                       "empty selector: every pod in the namespace", ("Ingress", "Egress"),
                       ingress, tuple(egress), notes=notes)


ZONE_SCOPES = ("namespace", "labelled-namespaces", "cluster")


def zone(namespace: str, key: str, value: str, dns: DnsTarget | None, scope: str = "namespace",
         name: str | None = None) -> PolicyDraft:
    """A compliance zone by label: members (pods labelled key=value) talk only to members, plus DNS.

    ``scope`` says where members live: ``namespace`` (this namespace only), ``labelled-namespaces``
    (namespaces that carry the same label, as a namespace-level zone boundary), or ``cluster``.
    """
    label = {key: value}
    member_sel = match_labels(label)
    if scope == "namespace":
        peer: dict[str, Any] = pods_peer(member_sel)
        where = f"in namespace {namespace}"
    elif scope == "labelled-namespaces":
        peer = {"namespaceSelector": match_labels(label), "podSelector": member_sel}
        where = f"in namespaces labelled {key}={value}"
    else:
        peer = {"namespaceSelector": {}, "podSelector": member_sel}
        where = "in any namespace (an empty namespaceSelector selects every namespace)"
    header = [f"Compliance zone {key}={value}: members (pods labelled {key}={value}) talk only to members,",
              f"plus DNS. Members counted: pods with the label {where}.",
              "Exceptions (a documented caller, an external API) belong in separate, commented policies."]
    egress = [DraftRule(f"To other members of the zone ({key}={value} {where}), any port.", (peer,))]
    notes: tuple[str, ...] = ()
    if dns is not None:
        egress.append(dns.rule())
        notes = () if dns.found else (dns.note,)
    ingress = (DraftRule(f"From other members of the zone ({key}={value} {where}), any port.", (peer,)),)
    return PolicyDraft(namespace, name or dns_label(f"{value}-zone-isolation"), tuple(header), member_sel,
                       f"the zone's members in {namespace}", ("Ingress", "Egress"), ingress, tuple(egress),
                       notes=notes)


def allow_from_namespace(namespace: str, source_namespace: str, ports: tuple[dict[str, Any], ...],
                         source_selector: Selector | None = None, target_selector: Selector | None = None,
                         name: str | None = None, purpose: str = "") -> list[PolicyDraft]:
    """Let pods of ``source_namespace`` (optionally only those matching ``source_selector``) reach pods
    of ``namespace`` (optionally only ``target_selector``) on ``ports``: an ingress policy only.

    The source side's egress must allow the connection too when the source is egress-isolated; see
    ``egress_to_namespace``.
    """
    src = source_selector or {}
    dst = target_selector or {}
    who = (f"pods [{describe_selector(src)}] of namespace {source_namespace}" if src
           else f"every pod of namespace {source_namespace}")
    why = purpose or f"Access from {source_namespace}"
    header = [f"{why}: {who} may connect to {describe_selector(dst) if dst else 'every pod'} in namespace "
              f"{namespace} on {describe_ports(ports)}.",
              "All other cross-namespace traffic stays as the other policies leave it.",
              "This policy isolates ingress for the pods it selects: make sure their other callers are allowed."]
    peer = {"namespaceSelector": namespace_selector(source_namespace)}
    if src:
        peer["podSelector"] = src
    rule = DraftRule(f"{why}: {who}, {describe_ports(ports)}"
                     + ("" if ports else " (no --ports given: every port)") + ".", (peer,), ports)
    return [PolicyDraft(namespace, name or dns_label(f"allow-from-{source_namespace}"), tuple(header), dst,
                        "empty selector: every pod in the namespace" if not dst else "the pods that accept it",
                        ("Ingress",), ingress=(rule,))]


def egress_to_namespace(source_namespace: str, namespace: str, ports: tuple[dict[str, Any], ...],
                        source_selector: Selector | None, target_selector: Selector | None,
                        dns: DnsTarget | None, name: str | None = None) -> PolicyDraft:
    """The source side of ``allow_from_namespace`` for an egress-isolated source: egress to the target."""
    src = source_selector or {}
    dst = target_selector or {}
    header = [f"The egress side of access from {source_namespace} to {namespace}: the selected pods are already",
              "isolated for egress (a policy there selects them for Egress), so the connection needs this rule too."]
    rules = [DraftRule(f"To {describe_selector(dst) if dst else 'every pod'} in namespace {namespace}, "
                       f"{describe_ports(ports)}.", (pods_peer(dst, namespace, source_namespace),), ports)]
    if dns is not None:
        rules.append(dns.rule())
    return PolicyDraft(source_namespace, name or dns_label(f"allow-to-{namespace}"), tuple(header), src,
                       "the pods that open the connections" if src else "empty selector: every pod in the namespace",
                       ("Egress",), egress=tuple(rules))


def egress_external(namespace: str, pod_selector: Selector, ports: tuple[dict[str, Any], ...],
                    dns: DnsTarget | None, cidr: str = "0.0.0.0/0", excepts: tuple[str, ...] = PRIVATE_RANGES,
                    name: str | None = None) -> PolicyDraft:
    """HTTPS (or ``ports``) to the internet except private ranges, for the selected pods."""
    who = describe_selector(pod_selector)
    header = [f"Egress to the internet: pods [{who}] in namespace {namespace} may open {describe_ports(ports)}",
              f"connections to {cidr} except private ranges, so this rule cannot be used to reach anything",
              "inside the VPC or the cluster (ipBlock matches addresses outside the cluster; pod IPs are",
              "governed by pod selectors).",
              "This policy isolates egress for the pods it selects: everything else they send is denied."]
    excepts_note = ", ".join(f"{c} ({_RANGE_WHY[c]})" if c in _RANGE_WHY else c for c in excepts)
    rules = [DraftRule(f"{describe_ports(ports)} to {cidr}" + (f" except {excepts_note}" if excepts else "") + ".",
                       (ip_peer(cidr, excepts),), ports)]
    notes: tuple[str, ...] = ()
    if dns is not None:
        rules.append(dns.rule("DNS: the external API's name must resolve; this policy isolates egress, so "
                              "DNS is allowed here, UDP and TCP "
                              + ",".join(str(p) for p in dns.ports) + "."))
        notes = () if dns.found else (dns.note,)
    base = next(iter((pod_selector.get("matchLabels") or {}).values()), "") if pod_selector else ""
    return PolicyDraft(namespace, name or dns_label(f"{base}-egress-external" if base else "egress-external"),
                       tuple(header), pod_selector,
                       "every pod in the namespace" if not pod_selector else "the pods that call out",
                       ("Egress",), egress=tuple(rules), notes=notes)

