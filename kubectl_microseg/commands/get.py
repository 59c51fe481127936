"""``kubectl microseg get``: namespaces, workloads and policies, with labels and isolation state."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..cli import command_parser
from ..engine.k8s import Analyzer, iter_bits
from ..load import load_analyzer
from ..vocab import Direction

WHAT = ("all", "namespaces", "ns", "workloads", "pods", "po", "networkpolicies", "netpol", "policies",
        "clusternetworkpolicies", "cnp", "adminnetworkpolicies", "anp", "ciliumnetworkpolicies",
        "ciliumclusterwidenetworkpolicies", "ccnp", "calicopolicies", "globalnetworkpolicies", "gnp", "tiers")
CALICO_WHAT = ("all", "policies", "calicopolicies", "globalnetworkpolicies", "gnp", "tiers")


def register(sub) -> None:
    p = command_parser(sub, "get", "list namespaces, workloads and policies with isolation state",
                       description="List namespaces, workloads (with labels, pods and whether each is isolated for "
                       "ingress/egress and by which policies) and policies (with what they select).")
    p.add_argument("what", nargs="?", default="all", choices=WHAT)
    p.add_argument("-o", "--output", choices=["table", "wide", "json"], default="table")
    p.set_defaults(func=run)


def _isolated_by(a: Analyzer, wid: str, direction: str) -> list[str]:
    out: list[str] = []
    for c in a.workload_classes[wid]:
        out.extend(p.id for p in a.isolating[direction][c] if p.id not in out)
    return out


def collect(a: Analyzer, namespace: str | None) -> dict[str, Any]:
    """The listing as data (the ``-o json`` document)."""
    c = a.cluster
    wl = [w for w in c.workloads if namespace in (None, w.namespace)]
    policies = [e for e in c.policies if namespace in (None, e.policy.namespace)]
    namespaces = [n for n in c.namespaces.values() if namespace in (None, n.name)]
    ns_rows = []
    for n in namespaces:
        pols = [e.policy for e in c.policies if e.policy.namespace == n.name]
        deny = {d.value for p in pols if p.pod_selector.is_empty() for d in Direction
                if p.affects(d) and not p.rules(d)}
        ns_rows.append({"name": n.name, "labels": n.labels, "declared": n.declared, "policies": len(pols),
                        "defaultDeny": sorted(deny)})
    w_rows = []
    for w in wl:
        w_rows.append({"id": w.id, "namespace": w.namespace, "name": w.name, "kind": w.kind, "labels": w.labels,
                       "pods": w.pods, "hostNetwork": w.host_network,
                       "ingressIsolatedBy": _isolated_by(a, w.id, "ingress"),
                       "egressIsolatedBy": _isolated_by(a, w.id, "egress")})
    p_rows = []
    for e in policies:
        pol = e.policy
        selected = sorted({w.id for i in iter_bits(a.policy_selects.get(pol.id, 0)) for w in a.class_workloads[i]})
        p_rows.append({"id": pol.id, "namespace": pol.namespace, "name": pol.name,
                       "podSelector": pol.pod_selector.describe(), "policyTypes": sorted(pol.policy_types),
                       "ingressRules": len(pol.ingress), "egressRules": len(pol.egress), "selects": selected,
                       "source": e.source.origin.describe(e.source.line_of(()))})
    a_rows = []
    for ae in c.admin_policies:
        ap = ae.policy
        selected = sorted({w.id for i in iter_bits(a.admin_selects.get(ap.id, 0)) for w in a.class_workloads[i]})
        a_rows.append({"id": ap.id, "kind": ap.kind, "name": ap.name, "tier": ap.tier.value,
                       "priority": None if ap.kind == "BaselineAdminNetworkPolicy" else ap.priority,
                       "deprecated": ap.deprecated,
                       "ingressRules": len(ap.ingress), "egressRules": len(ap.egress), "selects": selected,
                       "source": ae.source.origin.describe(ae.source.line_of(()))})
    c_rows = []
    for ce in c.cilium:
        cp = ce.policy
        if namespace is not None and cp.namespace not in (None, namespace):
            continue
        bits = a.cilium.selects.get(cp.id, 0) if a.cilium is not None else 0
        selected = sorted({w.id for i in iter_bits(bits) for w in a.class_workloads[i]})
        c_rows.append({"id": cp.id, "kind": cp.kind, "namespace": cp.namespace, "name": cp.name,
                       "hostPolicy": cp.subject is None,
                       "defaultDeny": [d for d, on in zip(("ingress", "egress"), cp.default_deny) if on],
                       "rules": {"ingress": len(cp.ingress), "egress": len(cp.egress),
                                 "ingressDeny": len(cp.ingress_deny), "egressDeny": len(cp.egress_deny)},
                       "selects": selected, "source": ce.source.origin.describe(ce.source.line_of(()))})
    out = {"namespaces": ns_rows, "workloads": w_rows, "policies": p_rows, "adminPolicies": a_rows,
           "ciliumPolicies": c_rows}
    if c.calico:
        out["calicoTiers"], out["calicoPolicies"] = _calico(a, namespace)
    return out


def _calico(a: Analyzer, namespace: str | None) -> tuple[list[dict], list[dict]]:
    """Calico tiers in evaluation order and their policies (order, then name), staged ones marked."""
    objs = a.cluster.calico
    applies = {cp.policy.id: cp.applies for ct in a.calico_tiers for cp in ct.policies if cp.policy is not None}
    tiers = [{"name": t.name, "order": t.order, "defaultAction": t.default_action.value} for t in objs.ordered_tiers()]
    rank = {t["name"]: i for i, t in enumerate(tiers)}
    rows = []
    for pol, src in sorted(objs.policies + objs.staged, key=lambda x: (rank[x[0].tier], x[0].sort_key(), x[0].staged)):
        if namespace is not None and pol.namespace not in (None, namespace):
            continue
        on = applies.get(pol.id, {})
        bits = 0 if pol.staged else on.get(Direction.INGRESS, 0) | on.get(Direction.EGRESS, 0)
        rows.append({"id": pol.id, "kind": pol.kind, "namespace": pol.namespace, "name": pol.name, "tier": pol.tier,
                     "order": pol.order, "selector": str(pol.selector), "types": [t.value for t in pol.types],
                     "ingressRules": len(pol.ingress), "egressRules": len(pol.egress), "staged": pol.staged,
                     "selects": sorted({w.id for i in iter_bits(bits) for w in a.class_workloads[i]}),
                     "notEvaluated": list(pol.unevaluated), "source": src.origin.describe(src.line_of(()))})
    return tiers, rows


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows) + "\n"


def _iso(by: list[str]) -> str:
    return "open" if not by else "isolated (" + ", ".join(p.split("/", 1)[-1] for p in by) + ")"


def run(args: argparse.Namespace) -> int:
    a, snapshot = load_analyzer(args)
    data = collect(a, None if args.all_namespaces else args.namespace)
    if snapshot.warnings:  # a partial view says so in the output itself
        data["partial"], data["warnings"] = True, list(snapshot.warnings)
    if args.output == "json":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0
    wide = args.output == "wide"
    parts = ["".join(f"WARNING: {w}\n" for w in snapshot.warnings)] if snapshot.warnings else []
    what = args.what
    if what in ("all", "namespaces", "ns"):
        rows = [["NAMESPACE", "POLICIES", "DEFAULT DENY", "LABELS"]]
        for n in data["namespaces"]:
            labels = {k: v for k, v in n["labels"].items() if wide or k != "kubernetes.io/metadata.name"}
            rows.append([n["name"], str(n["policies"]), "+".join(n["defaultDeny"]) or "none",
                         ",".join(f"{k}={v}" for k, v in sorted(labels.items()))])
        parts.append(_table(rows))
    if what in ("all", "workloads", "pods", "po"):
        rows = [["WORKLOAD", "KIND", "PODS", "INGRESS", "EGRESS", "LABELS"]]
        for w in data["workloads"]:
            ing = "hostNetwork: n/a" if w["hostNetwork"] else _iso(w["ingressIsolatedBy"])
            eg = "hostNetwork: n/a" if w["hostNetwork"] else _iso(w["egressIsolatedBy"])
            rows.append([w["id"], w["kind"], str(len(w["pods"]) or "-"), ing, eg,
                         ",".join(f"{k}={v}" for k, v in sorted(w["labels"].items()))])
        parts.append(_table(rows))
    if what in ("all", "networkpolicies", "netpol", "policies"):
        rows = [["POLICY", "POD-SELECTOR", "TYPES", "RULES (IN/EG)", "SELECTS"] + (["SOURCE"] if wide else [])]
        for p in data["policies"]:
            sel = ", ".join(s.split("/", 1)[1] for s in p["selects"]) if p["selects"] else "NOTHING"
            rows.append([p["id"], p["podSelector"], "+".join(p["policyTypes"]),
                         f"{p['ingressRules']}/{p['egressRules']}", sel] + ([p["source"]] if wide else []))
        parts.append(_table(rows))
    if what in ("all", "networkpolicies", "netpol", "policies", "clusternetworkpolicies", "cnp", "adminnetworkpolicies",
                "anp") and data["adminPolicies"]:
        rows = [["ADMIN POLICY", "TIER", "PRIORITY", "RULES (IN/EG)", "SUBJECT PODS"] + (["SOURCE"] if wide else [])]
        for p in data["adminPolicies"]:
            prio = "-" if p["priority"] is None else str(p["priority"])
            tier = p["tier"] + (" (v1alpha1, deprecated)" if p["deprecated"] else "")
            rows.append([p["id"], tier, prio, f"{p['ingressRules']}/{p['egressRules']}",
                         str(len(p["selects"])) if p["selects"] else "NOTHING"] + ([p["source"]] if wide else []))
        parts.append(_table(rows))
    if what in ("all", "policies", "ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies", "ccnp") \
            and data["ciliumPolicies"]:
        rows = [["CILIUM POLICY", "DEFAULT DENY", "RULES (IN/EG/IN-DENY/EG-DENY)", "SELECTS"] + (["SOURCE"] if wide else [])]
        for p in data["ciliumPolicies"]:
            r = p["rules"]
            sel = ("host policy: not evaluated" if p["hostPolicy"] else
                   ", ".join(x.split("/", 1)[1] if p["namespace"] else x for x in p["selects"]) if p["selects"]
                   else "NOTHING")
            rows.append([p["id"], "+".join(p["defaultDeny"]) or "none",
                         f"{r['ingress']}/{r['egress']}/{r['ingressDeny']}/{r['egressDeny']}", sel]
                        + ([p["source"]] if wide else []))
        parts.append(_table(rows))
    if what in CALICO_WHAT and data.get("calicoPolicies") is not None:
        if what in ("all", "tiers"):
            rows = [["TIER", "ORDER", "DEFAULT ACTION"]]
            rows += [[t["name"], "none (last)" if t["order"] is None else _num(t["order"]), t["defaultAction"]]
                     for t in data["calicoTiers"]]
            parts.append(_table(rows))
        if what != "tiers":
            rows = [["CALICO POLICY", "TIER", "ORDER", "SELECTOR", "TYPES", "RULES (IN/EG)", "SELECTS"]
                    + (["SOURCE"] if wide else [])]
            for p in data["calicoPolicies"]:
                sel = ("staged: not enforced" if p["staged"] else str(len(p["selects"])) if p["selects"] else "NOTHING")
                rows.append([p["id"], p["tier"], "none" if p["order"] is None else _num(p["order"]), p["selector"],
                             "+".join(p["types"]), f"{p['ingressRules']}/{p['egressRules']}", sel]
                            + ([p["source"]] if wide else []))
            parts.append(_table(rows))
    sys.stdout.write("\n".join(parts))
    return 0
