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

from .draft import PolicyDraft

ORDER = 1000


@dataclass(frozen=True)
class CalicoDraft(PolicyDraft):
    """A PolicyDraft whose manifest is a Calico NetworkPolicy."""

    calico: dict | None = None

    def manifest(self) -> dict[str, Any]:
        assert self.calico is not None
        return copy.deepcopy(self.calico)


def _q(v: str) -> str:
    return f"'{v}'" if "'" not in v else f'"{v}"'


def selector(sel: dict) -> str:
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


def _entity(peer: dict | None) -> dict:
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


def _rules(rule: dict, direction: str) -> list[dict]:
    peers = rule.get("from" if direction == "ingress" else "to") or [None]
    by_proto: dict[str | None, list] = {}
    for p in rule.get("ports") or []:
        port = p.get("port")
        entry = None if port is None else (f"{port}:{p['endPort']}" if p.get("endPort") else port)
        by_proto.setdefault(p.get("protocol", "TCP"), []).append(entry)
    protos: list[tuple[str | None, list]] = list(by_proto.items()) or [(None, [])]
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
