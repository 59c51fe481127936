"""Provides the explanation document: both directions of a pair, their reasons and the deciding YAML.

The document is a list of typed blocks (no Textual): the explain screen renders them with Rich, and
``y`` copies :func:`plain_text` of the same blocks, so what is copied is what is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import yaml

from kubectl_microseg.engine.explain import PairExplanation
from kubectl_microseg.engine.k8s import Reason
from kubectl_microseg.model.cluster import PolicyEntry

from .session import Session


@dataclass(frozen=True)
class Block:
    """One piece of an explanation."""

    kind: Literal["title", "verdict", "direction", "reason", "yaml", "code", "note"]
    text: str
    ok: bool | None = None
    """For verdict and reason blocks: allowed (True), denied (False) or neither (None)."""
    origin: str = ""
    """For yaml and code blocks: where the object came from (file, document, line; or the cluster)."""


def short_origin(entry: PolicyEntry) -> str:
    """Where a policy came from, with the packaged demo's directory shortened to 'demo/'."""
    origin = entry.source.origin
    if origin.file and "/kubectl_microseg/demo/" in origin.file.replace("\\", "/"):
        origin = replace(origin, file="demo/" + origin.file.replace("\\", "/").rsplit("/", 1)[-1])
    return origin.describe()


def policy_yaml(entry: PolicyEntry) -> str:
    """The policy as YAML, in the order it was written."""
    return yaml.safe_dump(entry.source.raw, sort_keys=False, default_flow_style=False).rstrip()


def _reason_blocks(reasons: list[Reason]) -> list[Block]:
    out = []
    for r in reasons:
        # a tick only for what allows; a Pass (or a rule not evaluated) decides nothing: neither mark
        ok = None if r.effect in ("pass", "none") else (r.effect == "allow" and bool(r.conns))
        text = r.text or r.short()
        out.append(Block("reason", text, ok))
    return out


def direction_blocks(session: Session, ex: PairExplanation) -> list[Block]:
    """The blocks of one direction (src → dst): verdict, egress reasons, ingress reasons."""
    blocks: list[Block] = []
    verdict = ex.allowed.describe("all ports") if ex.allowed else "denied"
    note = " (uncertain: some policies could not be read)" if ex.uncertain else ""
    blocks.append(Block("verdict", f"{ex.src} → {ex.dst}: {verdict}{note}", bool(ex.allowed)))
    blocks.append(Block("direction", f"egress of {ex.src}: allows {ex.egress_allowed.describe('all ports') if ex.egress_allowed else 'nothing'} to {ex.dst}"))
    blocks.extend(_reason_blocks(ex.egress))
    blocks.append(Block("direction", f"ingress of {ex.dst}: allows {ex.ingress_allowed.describe('all ports') if ex.ingress_allowed else 'nothing'} from {ex.src}"))
    blocks.extend(_reason_blocks(ex.ingress))
    return blocks


def explanation_blocks(session: Session, src: str, dst: str) -> list[Block]:
    """Both directions of a pair and the YAML of every deciding policy."""
    blocks: list[Block] = [Block("title", f"{src} ⇄ {dst}")]
    policies: dict[str, PolicyEntry] = {}
    for a, b in ((src, dst), (dst, src)):
        ex = session.explain(a, b)
        if ex is None:
            blocks.append(Block("note", f"{a} → {b}: nothing to explain (both ends outside the cluster)"))
            continue
        blocks.extend(direction_blocks(session, ex))
        for e in session.deciding_policies(ex):
            policies.setdefault(e.policy.id, e)
    if policies:
        blocks.append(Block("title", "deciding policies"))
        for pid, e in policies.items():
            blocks.append(Block("yaml", policy_yaml(e), origin=f"{pid} · {short_origin(e)}"))
    else:
        blocks.append(Block("note", "no NetworkPolicy decides this pair: neither end is isolated"))
    return blocks


def plain_text(blocks: list[Block]) -> str:
    """The blocks as plain text (what ``y`` copies)."""
    lines: list[str] = []
    for b in blocks:
        if b.kind == "title":
            lines += ["", f"## {b.text}"] if lines else [f"## {b.text}"]
        elif b.kind == "verdict":
            lines += ["", b.text]
        elif b.kind == "direction":
            lines.append(f"  {b.text}")
        elif b.kind == "reason":
            lines.append(f"    {'+' if b.ok else ('~' if b.ok is None else '-')} {b.text}")
        elif b.kind == "yaml":
            lines += ["", f"# {b.origin}", b.text]
        elif b.kind == "code":
            lines += ["", f"# {b.origin}", b.text] if b.origin else ["", b.text]
        else:
            lines += ["", b.text]
    return "\n".join(lines) + "\n"
