"""Provides the explanation of one evaluation: the trace as text lines or as a JSON-ready dict.

Rendering only: ``evaluate`` already recorded every chain entered, every rule that matched and what
decided (rule handle and text, or the chain policy).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .evaluate import Evaluation, StepKind
from .packet import OTHER_IF, Flow

_MARK = {StepKind.JUMP: "-> ", StepKind.GOTO: "=> ", StepKind.RETURN: "<- ", StepKind.RULE: "~ ",
         StepKind.VERDICT: "* ", StepKind.POLICY: "* "}
_IN_CHAIN = frozenset((StepKind.RULE, StepKind.VERDICT, StepKind.JUMP, StepKind.GOTO, StepKind.RETURN))
"""Steps shown with the chain they happen in."""


def _iface(name: str | None) -> str:
    return "(an interface the ruleset does not name)" if name == OTHER_IF else str(name)


def flow_header(flow: Flow) -> str:
    """'input tcp 10.0.100.7:40000 -> 10.0.0.9:22, ct state new, iif ...'."""
    pkt = flow.packet()
    src = str(ipaddress.ip_address(flow.src))
    sp = f":{pkt.sport}" if pkt.sport is not None else ""
    dp = f":{pkt.dport}" if pkt.dport is not None else ""
    parts = [f"{flow.hook} {flow.protocol} {src}{sp} -> {flow.dst}{dp}", f"ct state {flow.ct_state}"]
    if pkt.iif is not None:
        parts.append(f"iif {_iface(pkt.iif)}")
    if pkt.oif is not None:
        parts.append(f"oif {_iface(pkt.oif)}")
    return ", ".join(parts)


def explain_lines(flow: Flow, ev: Evaluation) -> list[str]:
    """The trace as indented text, then the verdict and what decided it."""
    lines = [flow_header(flow)]
    for st in ev.trace:
        if st.kind == StepKind.HOOK:
            lines.append(f"  {st.text}")
        elif st.kind == StepKind.CHAIN:
            lines.append(f"    {st.text}")
        else:
            where = f"[{st.chain}] " if st.kind in _IN_CHAIN else ""
            lines.append("      " + "  " * st.depth + _MARK.get(st.kind, "") + where + st.text)
    lines.append(f"verdict: {ev.verdict}")
    for b in ev.because():
        lines.append(f"  because {b}")
    for n in ev.notes:
        if n not in ev.because():
            lines.append(f"  note: {n}")
    return lines


def explain_dict(flow: Flow, ev: Evaluation) -> dict[str, Any]:
    """The same as data (``nft explain -o json``)."""
    return {
        "flow": {"hook": flow.hook, "from": flow.src, "to": flow.dst, "protocol": flow.protocol,
                 "port": flow.port, "sport": flow.packet().sport, "ct_state": flow.ct_state},
        "verdict": ev.verdict,
        "because": ev.because(),
        "trace": [{"kind": s.kind, "chain": s.chain, "handle": s.handle, "text": s.text, "depth": s.depth}
                  for s in ev.trace],
        "notes": list(ev.notes),
    }
