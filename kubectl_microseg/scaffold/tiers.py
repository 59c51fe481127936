"""Provides the ``tiers`` scaffold: a chain of tiers where each talks only to its neighbours.

Chain grammar (command line and intent files)::

    chain  := group ( "->" group )*
    group  := tier ( "," tier )*             tiers of one group sit side by side (postgresql,redis)
    tier   := ( NAME | KEY=VALUE ) [ ":" ports ]
    ports  := port ( "+" port )*             8080, 8080+9090, 53/udp, 8000-8080, http (a port name)

``frontend -> api:8080 -> postgresql:5432,redis:6379`` reads: the frontend calls the api tier on 8080;
the api tier calls PostgreSQL on 5432 and Redis on 6379. A tier's ports are the ports it *accepts*.

A NAME becomes a label selector. With an explicit label key it is ``KEY=NAME``; otherwise the model is
asked: the first of ``LABEL_KEYS`` for which some pod of the namespace carries the value NAME wins
(so ``api`` finds ``tier=api`` and ``postgresql`` finds ``app=postgresql`` in the demo); with no match,
``tier=NAME`` is used and a note says so.

For every tier one policy selects its pods for Ingress and Egress: ingress only from the previous
group on this tier's ports (the first tier: only from the entry, if one is given), egress only to the
next group on their ports, plus DNS (egress is isolated, so without it nothing resolves).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import UsageError
from ..model.cluster import Cluster
from ..model.selectors import LabelSelector
from .dns import DnsTarget
from .draft import (
    DraftRule,
    PolicyDraft,
    Selector,
    describe_ports,
    describe_selector,
    dns_label,
    match_labels,
    namespace_selector,
    parse_port,
    pods_peer,
)

LABEL_KEYS = ("tier", "app.kubernetes.io/component", "app", "app.kubernetes.io/name", "component", "role", "k8s-app")
DEFAULT_LABEL_KEY = "tier"
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Tier:
    """One tier of the chain."""

    name: str
    """Display name and the base of the policy name ('api', or 'postgresql' for app=postgresql)."""
    ports: tuple[dict[str, Any], ...] = ()
    """The ports the tier accepts from the previous group; () means any port."""
    selector: Selector | None = None
    """Explicit pod selector; None until resolved (``resolve``)."""
    how: str = ""
    """How the selector was chosen, for the comments."""


@dataclass(frozen=True)
class Entry:
    """Who may call the first tier: pods of a namespace (optionally only those matching a selector)."""

    namespace: str
    selector: Selector = field(default_factory=dict)


@dataclass(frozen=True)
class TierIntent:
    """What the user asked for: the chain, its namespace, and options."""

    namespace: str
    groups: tuple[tuple[Tier, ...], ...]
    entry: Entry | None = None
    label_key: str | None = None
    dns: bool = True


def parse_tier(text: str) -> Tier:
    """'api:8080', 'app=postgresql:5432', 'redis', 'dns:53/udp+53/tcp' -> Tier."""
    raw = text.strip()
    head, colon, ports_text = raw.partition(":")
    head = head.strip()
    if not head:
        raise UsageError(f"bad tier {text!r}: a tier needs a name (or KEY=VALUE) before ':'")
    ports = tuple(parse_port(p) for p in ports_text.split("+") if p.strip()) if colon else ()
    if colon and not ports:
        raise UsageError(f"bad tier {text!r}: no port after ':'")
    if "=" in head:
        key, _, value = head.partition("=")
        key, value = key.strip(), value.strip()
        if not key or not value:
            raise UsageError(f"bad tier {text!r}: expected KEY=VALUE")
        return Tier(value, ports, match_labels({key: value}), f"selected by {key}={value} (given)")
    if not _NAME.match(head):
        raise UsageError(f"bad tier name {head!r}: use letters, digits, '-', '_' or '.' (a label value)")
    return Tier(head, ports)


def parse_chain(text: str) -> tuple[tuple[Tier, ...], ...]:
    """A chain text (see the module docstring) -> groups of tiers.

    Raises:
        UsageError: fewer than two groups, an empty group, or a tier that appears twice.
    """
    parts = [p.strip() for p in text.replace("→", "->").split("->")]
    if len(parts) < 2 or any(not p for p in parts):
        raise UsageError(f"bad chain {text!r}: expected at least two tiers joined by '->', "
                         "e.g. 'frontend -> api:8080 -> postgresql:5432,redis:6379'")
    groups = tuple(tuple(parse_tier(t) for t in p.split(",") if t.strip()) for p in parts)
    check_groups(groups)
    return groups


def check_groups(groups: tuple[tuple[Tier, ...], ...]) -> None:
    """Each tier once in the whole chain (a tier in two places has no single set of neighbours)."""
    seen: set[str] = set()
    for g in groups:
        if not g:
            raise UsageError("a chain group is empty")
        for t in g:
            if t.name in seen:
                raise UsageError(f"tier {t.name!r} appears twice in the chain; each tier has one place")
            seen.add(t.name)


def _pod_labels(cluster: Cluster, namespace: str) -> list[tuple[str, dict[str, str]]]:
    return [(w.id, m.label_dict()) for w in cluster.workloads if w.namespace == namespace for m in w.members]


def resolve(intent: TierIntent, cluster: Cluster | None) -> tuple[TierIntent, list[str]]:
    """Give every tier a selector (see the module docstring). Returns the intent and notes."""
    notes: list[str] = []
    pods = _pod_labels(cluster, intent.namespace) if cluster is not None else []
    groups = []
    for g in intent.groups:
        out = []
        for t in g:
            if t.selector is None:
                t = _resolve_one(t, intent, pods, cluster is not None, notes)
            sel = LabelSelector.from_match_labels(t.selector.get("matchLabels", {})) if t.selector else None
            hits = sorted({wid for wid, labels in pods if sel is not None and sel.matches(labels)})
            if cluster is not None and not hits:
                notes.append(f"tier {t.name} ({describe_selector(t.selector or {})}) selects no pod of "
                             f"namespace {intent.namespace} in the model")
            elif cluster is not None and sel is not None:
                declared = {(name, proto) for w in cluster.workloads if w.namespace == intent.namespace
                            for m in w.members if sel.matches(m.label_dict()) for name, proto, _ in m.named_ports}
                for p in t.ports:
                    if isinstance(p.get("port"), str) and (p["port"], p["protocol"]) not in declared:
                        notes.append(f"tier {t.name}: none of its pods declares a {p['protocol']} port named "
                                     f"{p['port']!r}, so the rule admits nothing on it")
            how = t.how + (f"; in the model: {', '.join(hits)}" if hits else "")
            out.append(replace(t, how=how))
        groups.append(tuple(out))
    _check_overlap(groups, pods, notes)
    return replace(intent, groups=tuple(groups)), notes


def _resolve_one(t: Tier, intent: TierIntent, pods: list[tuple[str, dict[str, str]]], have_model: bool,
                 notes: list[str]) -> Tier:
    if intent.label_key:
        return replace(t, selector=match_labels({intent.label_key: t.name}),
                       how=f"selected by {intent.label_key}={t.name} (--label-key)")
    for key in LABEL_KEYS:
        if any(labels.get(key) == t.name for _, labels in pods):
            return replace(t, selector=match_labels({key: t.name}),
                           how=f"selected by {key}={t.name} (label found on the model's pods)")
    if have_model:
        notes.append(f"no pod of namespace {intent.namespace} has a label with the value {t.name!r}; "
                     f"using {DEFAULT_LABEL_KEY}={t.name}")
    return replace(t, selector=match_labels({DEFAULT_LABEL_KEY: t.name}),
                   how=f"selected by {DEFAULT_LABEL_KEY}={t.name} (default label key; not checked against a model)"
                   if not have_model else f"selected by {DEFAULT_LABEL_KEY}={t.name} (no pod in the model has it)")


def _check_overlap(groups: list[tuple[Tier, ...]], pods: list[tuple[str, dict[str, str]]], notes: list[str]) -> None:
    tiers = [t for g in groups for t in g]
    for wid, labels in pods:
        hit = [t.name for t in tiers
               if t.selector and LabelSelector.from_match_labels(t.selector.get("matchLabels", {})).matches(labels)]
        if len(hit) > 1:
            notes.append(f"{wid} belongs to several tiers ({', '.join(hit)}): policies add up, so it gets "
                         "the neighbours of each")


def build(intent: TierIntent, dns: DnsTarget | None) -> list[PolicyDraft]:
    """One policy per tier (the intent must be resolved: every tier has a selector)."""
    groups = intent.groups
    ns = intent.namespace
    chain_text = " -> ".join(", ".join(t.name for t in g) for g in groups)
    drafts = []
    for gi, group in enumerate(groups):
        prev = groups[gi - 1] if gi > 0 else ()
        nxt = groups[gi + 1] if gi + 1 < len(groups) else ()
        for t in group:
            assert t.selector is not None, "resolve() gives every tier a selector"
            ingress, types_notes = _ingress(t, prev, intent), []
            if not ingress:
                types_notes.append("Ingress with no rules: accepts no connections")
            egress = [DraftRule(f"To tier {u.name} ({describe_selector(u.selector or {})}) on "
                                f"{describe_ports(u.ports)}: the next tier in the chain.",
                                (pods_peer(u.selector or {}),), u.ports) for u in nxt]
            notes: tuple[str, ...] = ()
            if intent.dns and dns is not None:
                egress.append(dns.rule())
                notes = () if dns.found else (dns.note,)
            if not egress:
                types_notes.append("Egress with no rules: opens no connections")
            header = [f"Tier {gi + 1} of {len(groups)}: {t.name}, in the chain {chain_text}.",
                      f"Pods: {t.how}.",
                      "Each tier talks only to its neighbours: it accepts connections only from the tier before it",
                      "and opens connections only to the tier after it" + (", plus DNS." if intent.dns else ".")]
            if gi == 0 and intent.entry is None:
                header.append("First tier and no entry given (--entry-namespace): nothing may connect to it.")
            if not nxt:
                header.append("Last tier: it opens no connections of its own" + (" except DNS." if intent.dns else "."))
            drafts.append(PolicyDraft(ns, dns_label(f"{t.name}-tier"), tuple(header), t.selector,
                                      f"the pods of tier {t.name}", ("Ingress", "Egress"), tuple(ingress),
                                      tuple(egress), "; ".join(types_notes), notes))
    return drafts


def _ingress(t: Tier, prev: tuple[Tier, ...], intent: TierIntent) -> list[DraftRule]:
    ports = describe_ports(t.ports)
    if prev:
        names = ", ".join(f"{u.name} ({describe_selector(u.selector or {})})" for u in prev)
        return [DraftRule(f"From tier {names} on {ports}: the previous tier in the chain calls this one.",
                          tuple(pods_peer(u.selector or {}) for u in prev), t.ports)]
    e = intent.entry
    if e is None:
        return []
    if e.namespace == intent.namespace:
        peer: dict[str, Any] = pods_peer(e.selector)
    else:
        peer = {"namespaceSelector": namespace_selector(e.namespace)}
        if e.selector:
            peer["podSelector"] = dict(e.selector)
    who = f"pods [{describe_selector(e.selector)}] of namespace {e.namespace}" if e.selector else \
        f"every pod of namespace {e.namespace}"
    return [DraftRule(f"Entry: {who} on {ports} (the way in to the first tier).", (peer,), t.ports)]
