"""Provides the probe report: one row per cell (model says / network says / likely cause) and its text."""

from __future__ import annotations

from typing import Any

from . import caveats
from .cells import Cell
from .commands import Outcome, Result, read_outcome
from ..vocab import FlowVerdict


def results(cells: list[Cell], outputs: list[Any]) -> list[Result]:
    """Each cell's outcome from what its command printed (``outputs``: exit_code, stdout, stderr, error)."""
    return [Result(Outcome.ERROR, o.error) if o.error and o.exit_code is None
            else read_outcome(c, o.exit_code, o.stdout, o.stderr) for c, o in zip(cells, outputs)]


def build(cells: list[Cell], res: list[Result], cnis: list[caveats.Cni], cluster: Any, *, mode: str,
          notes: list[str], cleanup: list[str]) -> dict[str, Any]:
    """The ``ProbeReport`` document."""
    rows = [row(c, r, cnis, cluster) for c, r in zip(cells, res)]
    agreed = sum(1 for x in rows if x["agree"] is True)
    disagreed = sum(1 for x in rows if x["agree"] is False)
    return {"kind": "ProbeReport", "cni": [str(c) for c in cnis], "results": rows, "agreed": agreed,
            "disagreed": disagreed, "unknown": len(rows) - agreed - disagreed, "notes": notes, "cleanup": cleanup,
            "mode": mode}


def row(cell: Cell, res: Result, cnis: list[caveats.Cni], cluster: Any) -> dict[str, Any]:
    network = res.network
    agree = None if network == FlowVerdict.UNKNOWN else network == cell.model
    causes = caveats.likely_causes(cell, network, cnis, caveats.features(cluster, cell)) if agree is False else []
    return {"from": cell.src.id, "fromEndpoint": cell.src.workload,
            "to": cell.dst_pod.id if cell.dst_pod else cell.address, "toEndpoint": cell.dst,
            "address": cell.address, "protocol": cell.protocol, "port": cell.port, "kind": cell.kind,
            **({"name": cell.name} if cell.name else {}),
            "model": cell.model, "network": network, "outcome": res.outcome, "detail": res.detail,
            "agree": agree, "because": cell.because, "causes": causes,
            **({"uncertain": True} if cell.uncertain else {})}


def text_lines(report: dict[str, Any]) -> list[str]:
    """The report as ``probe`` prints it (the TUI shows the same lines)."""
    out = [f"CNI: {', '.join(report['cni']) or 'none recognised'}; probes via {report['mode']}",
           f"{'':9} {'model':6} {'network':8} cell"]
    for x in report["results"]:
        mark = {True: "AGREE", False: "DISAGREE", None: "UNKNOWN"}[x["agree"]]
        what = f"DNS {x['name']} via {x['toEndpoint']}" if x["kind"] == "dns" else \
            f"{x['to']} {x['protocol']}/{x['port']}"
        out.append(f"{mark:9} {x['model']:6} {x['network']:8} {x['from']} -> {what}  ({x['outcome']}"
                   f"{': ' + x['detail'] if x['detail'] and x['agree'] is not True else ''})")
        if x["agree"] is False:
            for b in x["because"]:
                out.append(f"{'':11}model: {b}")
            for c in x["causes"]:
                out.append(f"{'':11}likely cause: {c}")
    out += [f"note: {n}" for n in report["notes"]]
    out += [f"warning: not cleaned up: {left}" for left in report["cleanup"]]
    out.append(f"{report['agreed']} agree, {report['disagreed']} disagree, {report['unknown']} unknown")
    return out


