"""Provides the explanation document: both directions of a pair, their reasons and the deciding YAML.

The document is a list of typed blocks (no Textual): the explain screen renders them with Rich, and
``y`` copies :func:`plain_text` of the same blocks, so what is copied is what is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from kubectl_microseg.engine.explain import PairExplanation
from kubectl_microseg.engine.k8s import Reason
from kubectl_microseg.model.cluster import PolicyEntry
from kubectl_microseg.vocab import Effect

if TYPE_CHECKING:
    from .session import KubeSession


@dataclass(frozen=True)
class Block:
    """One piece of an explanation."""

    kind: Literal["title", "verdict", "direction", "reason", "yaml", "code", "note"]
    text: str
    ok: bool | None = None
    """For verdict and reason blocks: allowed (True), denied (False) or neither (None)."""
    origin: str = ""
    """For yaml and code blocks: where the object came from (file, document, line; or the cluster)."""
    highlight: tuple[int, ...] = ()
    """For yaml blocks: 1-based lines of the deciding rules (drawn highlighted)."""
    note: str = ""
    """For yaml blocks: what the highlighted lines are ('egress rule 1, lines 12-18')."""


def short_origin(entry: PolicyEntry) -> str:
    """Where a policy came from, with the packaged demo's directory shortened to 'demo/'."""
    origin = entry.source.origin
    if origin.file and "/kubectl_microseg/demo/" in origin.file.replace("\\", "/"):
        origin = replace(origin, file="demo/" + origin.file.replace("\\", "/").rsplit("/", 1)[-1])
    return origin.describe()


def policy_yaml(entry: PolicyEntry) -> str:
    """The policy as YAML, in the order it was written."""
    return yaml.safe_dump(entry.source.raw, sort_keys=False, default_flow_style=False).rstrip()


def source_text(entry: PolicyEntry) -> str | None:
    """The policy's document exactly as written in its file, comments included (None: not from a file).

    The comments above the document (after the previous one's ``---``) belong to it: they say why.
    """
    origin = entry.source.origin
    if not origin.file or origin.document is None or origin.item is not None:
        return None
    path = Path(origin.file)
    if not path.is_absolute() and not path.exists():  # the packaged demo names its files 'demo/...'
        import kubectl_microseg

        path = Path(kubectl_microseg.__file__).resolve().parent / origin.file
    try:
        text = path.read_text(encoding="utf-8")
        nodes = list(yaml.compose_all(text))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    docs = [n for n in nodes if n is not None]
    if origin.document > len(docs):
        return None
    lines = text.splitlines()
    node = docs[origin.document - 1]
    start = docs[origin.document - 2].end_mark.line if origin.document > 1 else 0
    while start < node.start_mark.line and (lines[start].strip() in ("", "---") or
                                            lines[start].startswith(("---", "..."))):
        start += 1
    end = node.end_mark.line + (1 if node.end_mark.column else 0)
    return "\n".join(lines[start:end]).rstrip()


def rule_lines(text: str, path: tuple[Any, ...]) -> tuple[int, int] | None:
    """1-based first and last line of the node at ``path`` (('spec', 'ingress', 0)) in a YAML document."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    for step in path:
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            node = next((v for k, v in node.value if getattr(k, "value", None) == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            return None
        if node is None:
            return None
    if node is None:
        return None
    lines = text.splitlines()
    end = node.end_mark
    last = end.line  # 0-based; the mark sits where the next token starts: back up over what is not ours
    if last >= len(lines) or not lines[last][:end.column].strip():
        last -= 1
    while last > node.start_mark.line and (not lines[last].strip() or lines[last].lstrip().startswith("#")):
        last -= 1  # the next rule's comment and blank lines belong to it
    return node.start_mark.line + 1, last + 1


def policy_block(entry: PolicyEntry, rules: list[tuple[Any, ...]], origin: str) -> Block:
    """A policy's YAML (as written when the file is at hand) with its deciding rules highlighted."""
    text = source_text(entry)
    written = text is not None
    if text is None:
        text = policy_yaml(entry)
    lines: list[int] = []
    notes = []
    for path in rules:
        span = rule_lines(text, path)
        if span is None:
            continue
        lines.extend(range(span[0], span[1] + 1))
        notes.append(f"{path[-2]} rule {path[-1] + 1}: lines {span[0]}-{span[1]}")
    where = "as written" if written else "as stored (comments are not kept by the API server)"
    note = f"▶ deciding: {'; '.join(notes)} · {where}" if notes else f"{where}"
    return Block("yaml", text, origin=origin, highlight=tuple(lines), note=note)


def _reason_blocks(reasons: list[Reason]) -> list[Block]:
    out = []
    for r in reasons:
        # a tick only for what allows; a Pass (or a rule not evaluated) decides nothing: neither mark
        ok = None if r.effect in (Effect.PASS, Effect.NONE) else (r.effect == Effect.ALLOW and bool(r.conns))
        text = r.text or r.short()
        out.append(Block("reason", text, ok))
    return out


def direction_blocks(session: KubeSession, ex: PairExplanation) -> list[Block]:
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


def explanation_blocks(session: KubeSession, src: str, dst: str) -> list[Block]:
    """Both directions of a pair and the YAML of every deciding policy."""
    blocks: list[Block] = [Block("title", f"{src} ⇄ {dst}")]
    policies: dict[str, PolicyEntry] = {}
    rules: dict[str, list[tuple[Any, ...]]] = {}
    for a, b in ((src, dst), (dst, src)):
        ex = session.explain(a, b)
        if ex is None:
            blocks.append(Block("note", f"{a} → {b}: nothing to explain (both ends outside the cluster)"))
            continue
        blocks.extend(direction_blocks(session, ex))
        for e in session.deciding_policies(ex):
            policies.setdefault(e.policy.id, e)
        for r in ex.egress + ex.ingress:
            if r.policy is not None and r.rule is not None and r.rule.path not in rules.get(r.policy.id, []):
                rules.setdefault(r.policy.id, []).append(r.rule.path)
            elif r.admin is not None and r.admin_rule is not None and r.conns \
                    and r.admin_rule.path not in rules.get(r.admin.id, []):  # a cluster-wide rule that decided
                rules.setdefault(r.admin.id, []).append(r.admin_rule.path)
    if policies:
        blocks.append(Block("title", "deciding policies"))
        for pid, e in policies.items():
            blocks.append(policy_block(e, rules.get(pid, []), f"{pid} · {short_origin(e)}"))
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
            lines += ["", f"# {b.origin}"] + ([f"# {b.note}"] if b.note else []) + [b.text]
        elif b.kind == "code":
            lines += ["", f"# {b.origin}", b.text] if b.origin else ["", b.text]
        else:
            lines += ["", b.text]
    return "\n".join(lines) + "\n"
