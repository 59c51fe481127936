"""``kubectl microseg explain pod NAME``: why a pod can or cannot reach, or be reached by, its peers."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..cli import command_parser, words
from ..engine.explain import (PairExplanation, explain_pair, find_workload, quick_allowed, resolve_peer,
                              resolve_port)
from ..engine.k8s import Analyzer, ExternalAtom, Reason
from ..errors import UnreachableError, UsageError
from ..load import load_analyzer, mesh_analyzer
from ..model.cilium import CiliumEntry
from ..model.cluster import AdminEntry, PolicyEntry, Workload
from ..sources import Snapshot
from ..vocab import DIRECTIONS, Direction


def register(sub) -> None:
    p = command_parser(sub, "explain", "explain why a pod can or cannot reach or be reached",
                       description="Explain a pod's isolation and, for each peer (or the one given with --to/--from), "
                       "the verdict with the exact policy and rule that decided it.")
    p.add_argument("resource", choices=["pod", "po", "pods", "workload"], help="what to explain (pod)")
    p.add_argument("name", help="pod or workload name (or namespace/name)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--to", metavar="TARGET", help="only traffic to TARGET (workload, ns/name or IP address)")
    g.add_argument("--from", dest="from_", metavar="SOURCE", help="only traffic from SOURCE (workload, ns/name or IP)")
    p.add_argument("--port", help="a port number or a named port of the destination")
    p.add_argument("--protocol", default="TCP", type=str.upper, choices=["TCP", "UDP", "SCTP"])
    p.add_argument("-o", "--output", choices=["text", "json"], default="text")
    p.add_argument("--all", action="store_true", dest="all_denied",
                   help="list every denied peer with its reasons (default: a summary by deciding policy)")
    p.set_defaults(func=run)


def _where(analyzer: Analyzer, r: Reason) -> str:
    """'file, document N, line L' of the rule (or policy) behind a reason."""
    entry: PolicyEntry | CiliumEntry | AdminEntry | None
    if r.policy is not None:
        entries: list[PolicyEntry | CiliumEntry] = [*analyzer.cluster.policies, *analyzer.cluster.cilium]
        entry = next((e for e in entries if e.policy is r.policy), None)
        path = r.rule.path if r.rule is not None else ()
    elif r.admin is not None:
        entry = next((e for e in analyzer.cluster.admin_policies if e.policy is r.admin), None)
        path = r.admin_rule.path if r.admin_rule is not None else ()
    else:
        return ""
    if entry is None:
        return ""
    return entry.source.origin.describe(entry.source.line_of(path))


def _isolation(analyzer: Analyzer, w: Workload) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in DIRECTIONS:
        pols: list[str] = []
        for c in analyzer.classes_of(w):
            pols.extend(p.id for p in analyzer.isolating[d][c] if p.id not in pols)
        out[d] = pols
    return out


def _reason_json(analyzer: Analyzer, r: Reason) -> dict[str, Any]:
    policy = r.policy.id if r.policy else (r.admin.id if r.admin else None)
    rule = r.rule.index if r.rule else (r.admin_rule.index if r.admin_rule else None)
    return {"direction": r.direction, "kind": r.kind, "policy": policy, "rule": rule, "ports": r.conns.to_contract() if r.conns else [],
            "text": r.text, "location": _where(analyzer, r) or None}


def _uncertain_why(snapshot: Snapshot | None, e: PairExplanation) -> str:
    reason = snapshot.uncertain_reason(e.src.split("/", 1)[0], e.dst.split("/", 1)[0]) if snapshot else None
    return reason or "some policies could not be read"


def _pair_json(analyzer: Analyzer, e: PairExplanation, proto: str | None, port: int | None,
               snapshot: Snapshot | None = None) -> dict[str, Any]:
    verdict = e.allowed.allows(proto, port) if proto and port is not None else bool(e.allowed)
    return {"from": e.src, "to": e.dst, "verdict": "allow" if verdict else "deny",
            "ports": e.allowed.to_contract() if e.allowed else [], "uncertain": e.uncertain,
            **({"reason": _uncertain_why(snapshot, e)} if e.uncertain else {}),
            "egress": [_reason_json(analyzer, r) for r in e.egress],
            "ingress": [_reason_json(analyzer, r) for r in e.ingress],
            "deciding": [r.short() for r in e.deciding(proto, port)],
            **({"missing": missing_port(e, proto, port)} if proto and port is not None and not verdict else {}),
            **({"mesh": _mesh_json(e.mesh)} if getattr(e, "mesh", None) is not None else {})}


def missing_port(e: PairExplanation, proto: str, port: int) -> list[str]:
    """The missing piece of a denied port, per direction: 'egress allows TCP 8080; TCP 443 is not'."""
    out = []
    for d, allowed in ((Direction.EGRESS, e.egress_allowed), (Direction.INGRESS, e.ingress_allowed)):
        if allowed.allows(proto, port):
            continue
        if allowed:
            out.append(f"port not allowed: {d} allows {allowed.describe('all ports')}; {proto} {port} is not")
        else:
            out.append(f"{d}: nothing is allowed between them (no port)")
    return out


def _mesh_text(r, brief: bool) -> list[str]:
    """The mesh chain under the L4 chain (engine/mesh.py): each object's say, then the mesh verdict."""
    from ..render.page import mesh_note

    lines = [] if brief else [f"    mesh    {s.text}" + (f"  [{s.location}]" if s.location else "") for s in r.steps]
    return lines + [f"    MESH: {mesh_note(r)}"]


def _mesh_json(r) -> dict[str, Any]:
    return {**r.to_contract(), "chain": [{"text": s.text, "object": s.object or None, "location": s.location or None}
                                         for s in r.steps]}


def _pair_text(analyzer: Analyzer, e: PairExplanation, proto: str | None, port: int | None, *, brief: bool,
               snapshot: Snapshot | None = None) -> list[str]:
    ok = e.allowed.allows(proto, port) if proto and port is not None else bool(e.allowed)
    what = f"{proto} {port}" if proto and port is not None else (e.allowed.describe("all ports") if e.allowed else "")
    head = f"{'ALLOW' if ok else 'DENY '} {e.src} -> {e.dst}" + (f"  {what}" if ok or port is not None else "")
    if e.uncertain:
        head += f"  (UNKNOWN: {_uncertain_why(snapshot, e)})"
    lines = [head]
    if not ok and proto and port is not None:
        lines.extend(f"    {m}" for m in missing_port(e, proto, port))
    shown = e.deciding(proto, port) if brief else e.egress + e.ingress
    for r in shown:
        where = _where(analyzer, r)
        lines.append(f"    {r.direction:7} {r.text}" + (f"  [{where}]" if where else ""))
    if ok and getattr(e, "mesh", None) is not None:
        lines.extend(_mesh_text(e.mesh, brief))
    return lines


def _unreadable_pods(snapshot: Snapshot) -> str | None:
    """The warning that says pods may exist where the view cannot read (forbidden), if any."""
    return next((w for w in snapshot.warnings if w.startswith(("Pods:", "partial view:"))), None)


def _resolve(snapshot: Snapshot, find, *a):
    """A name that resolves to nothing in a partial view is "forbidden", not "does not exist" (exit 3)."""
    try:
        return find(*a)
    except UsageError as exc:
        why = _unreadable_pods(snapshot)
        if why is None:
            raise
        raise UnreachableError(f"{words(exc)}, but it may exist where pods cannot be read: {why}") from None


def run(args: argparse.Namespace) -> int:
    analyzer, snapshot = load_analyzer(args)
    ns = None if args.all_namespaces else args.namespace
    w = _resolve(snapshot, find_workload, analyzer, args.name, ns)
    peers: list[tuple[Workload | ExternalAtom, Workload | ExternalAtom]] = []
    if args.to:
        peers.append((w, _resolve(snapshot, resolve_peer, analyzer, args.to, None if "/" in args.to else w.namespace)))
    elif args.from_:
        peers.append((_resolve(snapshot, resolve_peer, analyzer, args.from_,
                               None if "/" in args.from_ else w.namespace), w))
    else:
        others: list[Workload | ExternalAtom] = list(analyzer.cluster.workloads) + list(analyzer.atoms)
        peers.extend((w, o) for o in others)
        peers.extend((o, w) for o in others if o.id != w.id)
    if args.port is not None and not (args.to or args.from_):
        raise UsageError("--port needs --to or --from")
    port = None
    if args.port is not None:
        dst = peers[0][1]
        port = resolve_port(analyzer, dst, args.port, args.protocol)
    proto = args.protocol if port is not None else None
    single = bool(args.to or args.from_)
    full = single or args.output == "json" or args.all_denied
    # reasons are built for allowed pairs (and every pair when asked); denied ones are summarized
    denied = [] if full else [(s, d) for s, d in peers if not quick_allowed(analyzer, s, d)]
    gone = {(id(s), id(d)) for s, d in denied}
    explanations = [explain_pair(analyzer, s, d) for s, d in peers if (id(s), id(d)) not in gone]
    mesh = mesh_analyzer(args, analyzer.cluster)
    if mesh is not None:  # the mesh chain comes after the L4 chain, for pairs L4 allows
        from ..engine.mesh import pair_verdict

        by_id = {p.id: p for pair in peers for p in pair}
        for e in explanations:
            e.mesh = pair_verdict(mesh, by_id[e.src], by_id[e.dst], e.allowed)
    iso = _isolation(analyzer, w)

    if args.output == "json":
        doc = {"kind": "Explanation", "pod": w.id, "workloadKind": w.kind, "pods": w.pods,
               "hostNetwork": w.host_network, "isolation": iso,
               "pairs": [_pair_json(analyzer, e, proto, port, snapshot) for e in explanations]}
        if snapshot.warnings:
            doc["partial"], doc["warnings"] = True, list(snapshot.warnings)
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0

    head = (f"Pod {w.namespace}/{w.only_pod} of {w.kind} {w.id}" if w.only_pod is not None else
            f"{w.kind} {w.id}" + (f" (pods: {', '.join(w.pods)})" if w.pods and w.kind != "Pod" else ""))
    out = [f"WARNING: {x}" for x in snapshot.warnings] + [head,
           f"  labels: {', '.join(f'{k}={v}' for k, v in sorted(w.labels.items())) or '<none>'}"]
    if w.host_network:
        out.append("  hostNetwork: NetworkPolicies do not select or isolate it; its traffic is the node's "
                   "(matched only by ipBlocks containing the node address). --hostnetwork-as-pods changes this.")
    classes = analyzer.classes_of(w)
    for d in DIRECTIONS:
        pols = iso[d]
        denies = [] if analyzer.cilium is None else list(dict.fromkeys(
            cr.policy.id for c in classes for cr in analyzer.cilium.deny[d][c]))
        calico = list(dict.fromkeys(cp.policy.id for ct in analyzer.calico_tiers for cp in ct.policies
                                    if cp.policy is not None and any(cp.applies[d] >> c & 1 for c in classes)))
        state = f"isolated by {', '.join(pols)}" if pols else ("not isolated by any NetworkPolicy" + (
            "" if analyzer.has_admin or denies or calico else ": everything allowed"))
        if denies:  # Cilium deny rules decide before every allow (engine/cilium.py)
            state += f"; Cilium deny rules of {', '.join(denies)}"
        if calico:  # Calico tiers decide too (engine/calico.py): the chain below says how
            state += f"; Calico policies apply: {', '.join(calico)}"
        open_classes = sum(not analyzer.isolating[d][c] for c in classes)
        if pols and open_classes:  # the pods differ: say so rather than call them all isolated
            state = f"isolated for some pods (by {', '.join(pols)}); {open_classes} of {len(classes)} pod classes are not"
        out.append(f"  {d}: {state}")
    mask = sum(1 << c for c in classes)
    tiers = [f"{e.policy.id} ({e.policy.tier.value} tier)" for e in analyzer.cluster.admin_policies
             if analyzer.admin_selects.get(e.policy.id, 0) & mask]
    if tiers:  # they decide before (Admin) or after (Baseline) the NetworkPolicies: see the chain below
        out.append(f"  cluster-wide policies: {', '.join(tiers)}")
    if analyzer.options.ipblock_matches_pods:
        out.append("  note: --ipblock-matches-pods: ipBlock peers also match pod IPs")
    else:
        out.append("  note: ipBlock peers match only addresses outside the cluster (the API's intent); "
                   "some CNIs also match pod IPs: see --ipblock-matches-pods")
    if single:
        out.append("")
        out.extend(_pair_text(analyzer, explanations[0], proto, port, brief=False, snapshot=snapshot))
    else:
        allowed = [e for e in explanations if e.allowed]
        out.append("")
        out.append(f"Can reach / be reached ({len(allowed)}):")
        for e in allowed:
            out.extend(_pair_text(analyzer, e, proto, port, brief=True, snapshot=snapshot))
        listed = [e for e in explanations if not e.allowed]
        out.append("")
        out.append(f"Denied ({len(listed) + len(denied)}):")
        for e in listed:
            out.extend(_pair_text(analyzer, e, proto, port, brief=True, snapshot=snapshot))
        if denied:
            out.extend(_denied_summary(analyzer, w, denied))
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _denied_summary(analyzer: Analyzer, w: Workload, denied: list) -> list[str]:
    """Denied peers grouped by direction (from / to the pod); --all lists each with its reasons."""
    def order(p: Workload | ExternalAtom) -> tuple[bool, str]:
        return (isinstance(p, ExternalAtom), p.id)

    outgoing = [d.id for d in sorted((d for s, d in denied if s is w), key=order)]
    incoming = [s.id for s in sorted((s for s, d in denied if d is w and s is not w), key=order)]
    lines = []
    for label, ids in ((f"{w.id} may not reach", outgoing), (f"may not reach {w.id}", incoming)):
        if ids:
            shown = "; ".join(ids[:8]) + (f"; ... ({len(ids) - 8} more)" if len(ids) > 8 else "")
            lines.append(f"  {label}: {shown}")
    lines.append("  (explain one with --to/--from, or list every denied peer with its reasons: --all)")
    return lines
