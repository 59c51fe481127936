"""Provides ``to_cilium``: a scaffolded NetworkPolicy draft in CiliumNetworkPolicy form (``scaffold KIND
--format cilium``), with the same comments and the same connectivity.

The translation keeps the verdicts (tests/scaffold/test_cilium_form.py compares the matrices of both forms):
``podSelector`` -> ``endpointSelector`` (a CNP's applies in its namespace only); a listed direction ->
its rules, a listed direction without rules -> ``[{}]`` ("Ingress Default Deny" in docs.cilium.io's
language reference: the endpoint is default-deny and nothing is allowed); a peer's ``podSelector`` ->
``fromEndpoints``/``toEndpoints`` (limited to the policy's namespace, as in a NetworkPolicy); with a
``namespaceSelector`` its keys become ``io.cilium.k8s.namespace.labels.<key>`` and the peer names
``io.kubernetes.pod.namespace`` (Exists) so that it is not limited to the policy's namespace
(getEndpointSelector); ``ipBlock`` -> ``toCIDRSet``/``fromCIDRSet`` with ``except``; ``ports`` ->
``toPorts`` (protocol defaults to TCP as in a NetworkPolicy, not to Cilium's ANY). An ingress rule to a
workload labelled ``tier: api`` on numeric TCP ports gets an L7 ``http`` rule to narrow (every method
and path until edited).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

from ..model.cilium import API_VERSION, CNP_KIND, NAMESPACE_LABEL, NS_LABELS_PREFIX
from .draft import DraftRule, PolicyDraft

L7_NOTE = ("L7 (Cilium): only these HTTP requests pass; narrow method and path to what the API serves "
           "(the matrix shows the cell as L7-filtered)")


@dataclass(frozen=True)
class CiliumDraft(PolicyDraft):
    """A PolicyDraft whose manifest is a CiliumNetworkPolicy."""

    cnp: dict[str, Any] | None = None

    def manifest(self) -> dict[str, Any]:
        assert self.cnp is not None
        return copy.deepcopy(self.cnp)


def _selector(sel: dict[str, Any], *, ns_sel: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    labels = dict(sel.get("matchLabels") or {})
    exprs = [dict(e) for e in sel.get("matchExpressions") or []]
    if ns_sel is not None:
        for k, v in (ns_sel.get("matchLabels") or {}).items():
            labels[NS_LABELS_PREFIX + k] = v
        for e in ns_sel.get("matchExpressions") or []:
            exprs.append({**e, "key": NS_LABELS_PREFIX + e["key"]})
        exprs.append({"key": NAMESPACE_LABEL, "operator": "Exists"})  # every namespace the selector admits
    if labels:
        out["matchLabels"] = labels
    if exprs:
        out["matchExpressions"] = exprs
    return out


def _rule(rule: dict[str, Any], direction: str, l7: bool) -> dict[str, Any]:
    pre = "from" if direction == "ingress" else "to"
    out: dict[str, Any] = {}
    for peer in rule.get(pre) or []:
        if "ipBlock" in peer:
            cidr = {"cidr": peer["ipBlock"]["cidr"]}
            if peer["ipBlock"].get("except"):
                cidr["except"] = list(peer["ipBlock"]["except"])
            out.setdefault(pre + "CIDRSet", []).append(cidr)
            continue
        ns_sel = peer.get("namespaceSelector")
        out.setdefault(pre + "Endpoints", []).append(_selector(peer.get("podSelector") or {}, ns_sel=ns_sel))
    ports = []
    for p in rule.get("ports") or []:
        entry: dict[str, Any] = {"protocol": p.get("protocol", "TCP")}
        if "port" in p:
            entry["port"] = str(p["port"])
        else:
            entry["port"] = "0"
        if "endPort" in p:
            entry["endPort"] = p["endPort"]
        ports.append(entry)
    if ports:
        tp: dict[str, Any] = {"ports": ports}
        if l7 and all(x["protocol"] == "TCP" and x["port"].isdigit() and x["port"] != "0" for x in ports):
            tp["rules"] = {"http": [{"method": "GET|POST|PUT|PATCH|DELETE", "path": "/.*"}]}
        out["toPorts"] = [tp]
    if not out:
        # a NetworkPolicy rule without from/to and ports matches everything: Cilium's entity "all"
        out[pre + "Entities"] = ["all"]
    # ports only: an L4 rule, which applies to every peer (language reference), as in a NetworkPolicy
    return out


def to_cilium(draft: PolicyDraft) -> CiliumDraft:
    """The draft as a CiliumNetworkPolicy draft (same name, namespace, header and rule comments)."""
    m = draft.manifest()
    spec = m["spec"]
    api_tier = (spec["podSelector"].get("matchLabels") or {}).get("tier") == "api"
    out: dict[str, Any] = {"endpointSelector": _selector(spec["podSelector"])}
    rules: dict[str, tuple[DraftRule, ...]] = {}
    for d in ("ingress", "egress"):
        if d.capitalize() not in spec.get("policyTypes", []):
            continue
        src = spec.get(d) or []
        out[d] = [_rule(r, d, l7=api_tier and d == "ingress") for r in src] or [{}]
        whys = []
        for i, r in enumerate(draft.rules(d)):
            why = r.why + ("\n" + L7_NOTE if "rules" in (out[d][i].get("toPorts") or [{}])[0] else "")
            whys.append(replace(r, why=why))
        rules[d] = tuple(whys)
    cnp = {"apiVersion": API_VERSION, "kind": CNP_KIND, "metadata": {"name": draft.name, "namespace": draft.namespace},
           "spec": out}
    header = draft.header + ("Cilium form (--format cilium): the connectivity of the NetworkPolicy this kind "
                             "scaffolds, as a CiliumNetworkPolicy.",)
    return CiliumDraft(draft.namespace, draft.name, header, draft.pod_selector, "", draft.policy_types,
                       rules.get("ingress", ()), rules.get("egress", ()), "", draft.notes, cnp=cnp)
