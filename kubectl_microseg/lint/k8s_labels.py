"""Provides the label-consistency rules: near-identical label keys (MS011) and a workload whose identity
key differs from the rest of its namespace and of the policies that select there (MS012).

Both are scoped to one namespace (pod labels) or to the namespace labels of the cluster, so workloads
that follow different upstream conventions in different namespaces (``k8s-app`` in kube-system,
``app.kubernetes.io/name`` from Helm charts, ``app`` in a team's own namespace) are never compared.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from collections.abc import Iterator

from ..model.objects import FieldPath, SourceObject
from ..model.selectors import LabelSelector
from ..vocab import DIRECTIONS, Direction
from .context import LintContext, policy_ref, workload_ref
from .finding import Finding, RuleInfo
from .similar import key_variant

MS011 = RuleInfo(
    "MS011", "label-key-variant", "warning",
    "label key that differs from another only by case, separators or one typo",
    "Within one namespace (pod labels and the selectors that target them), or among namespace labels, two "
    "keys differ only by case ('App'/'app'), by separators ('app_name'/'app-name') or by one edit in a name "
    "of 4+ characters ('tier'/'teir'). Selectors written with one key miss the pods labelled with the other. "
    "The rarer key is reported. Keys with different prefixes (kubernetes.io labels next to plain ones) "
    "are not compared.")
MS012 = RuleInfo(
    "MS012", "identity-key-mixed", "info",
    "workload identified by a different label key than its namespace's policies use",
    "Policies of the namespace select pods by one identity key (app, app.kubernetes.io/name, k8s-app or "
    "name) that most workloads there carry, but this workload carries another identity key instead, so "
    "selectors written the namespace's way miss it. Info: it is often deliberate (an upstream chart), "
    "but worth a look when a policy was meant to select it.")

IDENTITY_KEYS = ("app", "app.kubernetes.io/name", "k8s-app", "name")


@dataclass(frozen=True)
class _Use:
    """One use of a label key: on a workload, or in a selector of a policy (or a namespace)."""

    key: str
    ref: str
    source: SourceObject | None
    path: FieldPath = ()


def _selector_keys(sel: LabelSelector | None) -> list[str]:
    return [r.key for r in sel.requirements] if sel is not None else []


def _pod_key_uses(ctx: LintContext) -> dict[str, list[_Use]]:
    """Per namespace: every pod label key of its workloads and every pod-selector key targeting it."""
    out: dict[str, list[_Use]] = {}
    for w in ctx.pod_workloads():
        for k in w.labels:
            out.setdefault(w.namespace, []).append(_Use(k, workload_ref(w), w.source))
    for e in ctx.policies():
        pol = e.policy
        for k in _selector_keys(pol.pod_selector):
            out.setdefault(pol.namespace, []).append(_Use(k, policy_ref(e), e.source, ("spec", "podSelector")))
        for d in DIRECTIONS:
            key = "from" if d == Direction.INGRESS else "to"
            for rule in pol.rules(d):
                for i, peer in enumerate(rule.peers or ()):
                    if peer.namespace_selector is None:
                        for k in _selector_keys(peer.pod_selector):
                            out.setdefault(pol.namespace, []).append(
                                _Use(k, policy_ref(e), e.source, rule.path + (key, i, "podSelector")))
    return out


def _ns_key_uses(ctx: LintContext) -> list[_Use]:
    uses = [_Use(k, f"Namespace {n.name}", n.source) for n in ctx.cluster.namespaces.values() for k in n.labels]
    for e in ctx.policies():
        for d in DIRECTIONS:
            key = "from" if d == Direction.INGRESS else "to"
            for rule in e.policy.rules(d):
                for i, peer in enumerate(rule.peers or ()):
                    for k in _selector_keys(peer.namespace_selector):
                        uses.append(_Use(k, policy_ref(e), e.source, rule.path + (key, i, "namespaceSelector")))
    return uses


def _variants(ctx: LintContext, uses: list[_Use], scope: str) -> Iterator[Finding]:
    counts = Counter(u.key for u in uses)
    keys = sorted(counts)
    reported: set[str] = set()
    for a_key in keys:
        for b_key in keys:
            how = key_variant(a_key, b_key)
            if how is None or (counts[a_key], a_key) >= (counts[b_key], b_key) or a_key in reported:
                continue
            reported.add(a_key)
            u = next(x for x in uses if x.key == a_key)
            yield ctx.finding(
                MS011, f"label key {a_key!r} ({counts[a_key]} use(s)) differs from {b_key!r} ({counts[b_key]} use(s)) "
                       f"only by {how} {scope}: selectors with one key miss objects labelled with the other",
                u.ref, u.source, u.path, fix=f"use {b_key!r} everywhere")


def check_key_variants(ctx: LintContext) -> Iterator[Finding]:
    """MS011 per namespace (pod labels) and over namespace labels."""
    for ns, uses in sorted(_pod_key_uses(ctx).items()):
        yield from _variants(ctx, uses, f"in namespace {ns}")
    yield from _variants(ctx, _ns_key_uses(ctx), "among namespace labels")


def check_identity_keys(ctx: LintContext) -> Iterator[Finding]:
    """MS012: the namespace's policies select by identity key K, most workloads carry K, one does not."""
    policy_keys: dict[str, Counter[str]] = {}
    for e in ctx.policies():
        pol = e.policy
        sels = [pol.pod_selector] + [p.pod_selector for d in DIRECTIONS for r in pol.rules(d)
                                     for p in (r.peers or ()) if p.namespace_selector is None]
        for sel in sels:
            for k in _selector_keys(sel):
                if k in IDENTITY_KEYS:
                    policy_keys.setdefault(pol.namespace, Counter())[k] += 1
    for ns, used in sorted(policy_keys.items()):
        key = used.most_common(1)[0][0]
        wls = [w for w in ctx.pod_workloads() if w.namespace == ns]
        with_key = [w for w in wls if key in w.labels]
        if len(with_key) * 2 <= len(wls):
            continue
        for w in wls:
            other = [k for k in IDENTITY_KEYS if k in w.labels and k != key]
            if key in w.labels or not other:
                continue
            yield ctx.finding(
                MS012, f"{w.id} is labelled {other[0]}={w.labels[other[0]]} but not {key}, the key that "
                       f"{len(with_key)} of {len(wls)} workloads of namespace {ns} and its policies use",
                workload_ref(w), w.source,
                fix=f"add the label {key}: {w.labels[other[0]]} to its pod template, if policies are meant to "
                    "select it the namespace's way")


RULES = ((MS011, check_key_variants), (MS012, check_identity_keys))
