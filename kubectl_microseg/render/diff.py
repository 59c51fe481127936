"""Provides the connectivity diff renderers: readable text, JSON, and Markdown for pull-request comments.

Pure functions ``MatrixDiff -> str``. Differences are grouped by namespace (``PairDiff.group``: the
namespace whose policies made the change), then listed as newly denied, newly allowed and ports changed,
each with the policies and rules responsible. In text and Markdown, the pairs between one workload and
several ranges outside the cluster that changed in the same way are shown on one line ("anywhere outside
the cluster" when the ranges cover every address); JSON always lists every pair.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable, Sequence

from ..engine.diff import MatrixDiff, PairDiff, endpoint_addresses
from ..engine.mesh import change_line
from ..model.addresses import AddressSet

DIFF_FORMATS = ("text", "json", "markdown")
SECTIONS = (("removed", "newly denied"), ("added", "newly allowed"), ("changed", "ports changed"))
OUTSIDE_ALL = "anywhere outside the cluster"
MD_ICONS = {"removed": ":no_entry: denied", "added": ":new: allowed", "changed": ":arrows_counterclockwise: changed"}


@dataclass
class Row:
    """One displayed line: a pair, or a workload and several outside ranges that changed alike."""

    kind: str
    src: str
    dst: str
    pair: PairDiff
    """The first pair of the row (its ports and causes are those of every pair in it)."""
    count: int = 1


def render_diff(diff: MatrixDiff, fmt: str = "text", *, changes: Sequence[str] = (), header: str | None = None,
                warnings: Sequence[str] = ()) -> str:
    """Render a diff; ``changes`` lists what was simulated ('add NetworkPolicy ns/x (file)'); ``warnings``
    say what the base state lacks (a partial view), in the output itself."""
    if fmt == "json":
        doc = diff.to_dict()
        if changes:
            doc["changes"] = list(changes)
        if warnings:
            doc["partial"], doc["warnings"] = True, list(warnings)
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "markdown":
        return "".join(f"> **Warning:** {w}\n\n" for w in warnings) + \
            render_markdown(diff, changes=changes, header=header)
    if fmt == "text":
        return "".join(f"WARNING: {w}\n" for w in warnings) + render_text(diff, changes=changes, header=header)
    raise ValueError(f"unknown diff format {fmt!r}; choose one of {', '.join(DIFF_FORMATS)}")


# ------------------------------------------------------------------------------------------------ rows
def rows(pairs: Iterable[PairDiff]) -> list[Row]:
    """Pairs as display rows, collapsing a workload's outside ranges that changed the same way."""
    out: list[Row] = []
    merged: dict[tuple[Any, ...], tuple[Row, AddressSet]] = {}
    for p in pairs:
        src_ext = p.src_endpoint is not None and p.src_endpoint.is_external
        dst_ext = p.dst_endpoint is not None and p.dst_endpoint.is_external
        if not (src_ext or dst_ext):
            out.append(Row(p.kind, p.src, p.dst, p))
            continue
        wl = p.dst if src_ext else p.src
        key = (p.kind, src_ext, wl, p.before, p.after, tuple(c.short() for c in p.causes))
        ext = p.src_endpoint if src_ext else p.dst_endpoint
        addrs = endpoint_addresses(ext) if ext is not None else AddressSet()
        if key in merged:
            row, acc = merged[key]
            if src_ext:
                row.src += "; " + p.src
            else:
                row.dst += "; " + p.dst
            row.count += 1
            merged[key] = (row, acc | addrs)
        else:
            row = Row(p.kind, p.src, p.dst, p)
            merged[key] = (row, addrs)
            out.append(row)
    for row, acc in merged.values():
        if row.count > 1 and acc == AddressSet.everything():
            if row.pair.src_endpoint is not None and row.pair.src_endpoint.is_external:
                row.src = OUTSIDE_ALL
            else:
                row.dst = OUTSIDE_ALL
    return out


def ports_text(p: PairDiff) -> str:
    """What changed for the pair, in words."""
    if p.kind == "removed":
        return f"{p.before.describe()} (was allowed)"
    if p.kind == "added":
        return f"{p.after.describe()} (was denied)"
    parts = []
    if p.newly_allowed:
        parts.append(f"+{p.newly_allowed.describe()}")
    if p.newly_denied:
        parts.append(f"-{p.newly_denied.describe()}")
    return " ".join(parts) + f" (was {p.before.describe()}, now {p.after.describe()})"


def cause_lines(p: PairDiff) -> list[str]:
    if p.causes:
        return [c.short() for c in p.causes]
    if p.new_endpoint:
        return ["a workload that exists only after the change"]
    if p.gone_endpoint:
        return ["a workload that exists only before the change"]
    return ["the workloads changed (labels, named ports), not the policies"]


# ------------------------------------------------------------------------------------------------ text
def render_text(diff: MatrixDiff, *, changes: Sequence[str] = (), header: str | None = None) -> str:
    lines = [header or f"Connectivity diff: {diff.before_title} -> {diff.after_title}"]
    if changes:
        lines.append("changes:")
        lines.extend(f"  {c}" for c in changes)
    if diff.endpoints_added:
        lines.append("workloads added: " + ", ".join(diff.endpoints_added))
    if diff.endpoints_removed:
        lines.append("workloads removed: " + ", ".join(diff.endpoints_removed))
    groups = diff.by_namespace()
    if not groups:
        lines.append("")
        lines.append("no connectivity changes")
    for ns, pairs in groups.items():
        lines.append("")
        lines.append(f"namespace {ns}" if ns != "external" else "outside the cluster")
        for kind, title in SECTIONS:
            sel = [p for p in pairs if p.kind == kind]
            if not sel:
                continue
            rs = rows(sel)
            lines.append(f"  {title} ({len(sel)}):")
            for r in rs:
                mark = {"removed": "-", "added": "+", "changed": "~"}[kind]
                lines.append(f"    {mark} {r.src} -> {r.dst}: {ports_text(r.pair)}")
                lines.extend(f"        because {c}" for c in cause_lines(r.pair))
    if diff.mesh_changes:
        lines.append("")
        lines.append(f"service mesh ({len(diff.mesh_changes)}):")
        for c in diff.mesh_changes:
            lines.append(f"    {'-' if c['newlyDenied'] else '~'} {change_line(c)}")
            lines.extend(f"        because {x['text']}" for x in c.get("causes", ()))
    if diff.findings:
        lines.append("")
        lines.append("guards:")
        lines.extend(f"  ! {f.kind}: {f.message}" for f in diff.findings)
    lines.append("")
    lines.append(summary_line(diff))
    return "\n".join(lines) + "\n"


def summary_line(diff: MatrixDiff) -> str:
    s = diff.summary()
    return (f"{s['removed']} newly denied, {s['added']} newly allowed, {s['changed']} with ports changed, "
            f"{s['unchanged']} unchanged; {s['findings']} guard finding(s)")


# -------------------------------------------------------------------------------------------- markdown
def _md(text: str) -> str:
    """Escape a table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(diff: MatrixDiff, *, changes: Sequence[str] = (), header: str | None = None) -> str:
    s = diff.summary()
    out = [f"### {header or 'Connectivity diff'}", ""]
    if s["breaking"]:
        verdict = ":x: **breaks connectivity**"
    elif diff.has_differences:
        verdict = ":warning: **changes connectivity**"
    else:
        verdict = ":white_check_mark: **no connectivity change**"
    out.append(f"{verdict}: {s['removed']} newly denied, {s['added']} newly allowed, {s['changed']} with ports "
               f"changed ({_md(diff.before_title)} → {_md(diff.after_title)})")
    out.append("")
    if changes:
        out.append("<details><summary>Changes simulated</summary>")
        out.append("")
        out.extend(f"- `{c}`" for c in changes)
        out.append("")
        out.append("</details>")
        out.append("")
    if diff.findings:
        out.append("#### Guards")
        out.append("")
        out.extend(f"- :warning: **{f.kind}**: {_md(f.message)}" for f in diff.findings)
        out.append("")
    if diff.endpoints_added or diff.endpoints_removed:
        if diff.endpoints_added:
            out.append("Workloads added: " + ", ".join(f"`{e}`" for e in diff.endpoints_added))
        if diff.endpoints_removed:
            out.append("Workloads removed: " + ", ".join(f"`{e}`" for e in diff.endpoints_removed))
        out.append("")
    for ns, pairs in diff.by_namespace().items():
        out.append(f"#### Namespace `{ns}`" if ns != "external" else "#### Outside the cluster")
        out.append("")
        out.append("| | From | To | Ports | Because |")
        out.append("|---|---|---|---|---|")
        for kind, _title in SECTIONS:
            for r in rows([p for p in pairs if p.kind == kind]):
                icon = MD_ICONS[kind]
                because = "<br>".join(_md(c) for c in cause_lines(r.pair))
                out.append(f"| {icon} | `{_md(r.src)}` | `{_md(r.dst)}` | {_md(ports_text(r.pair))} | {because} |")
        out.append("")
    out.append(f"<sub>{_md(summary_line(diff))} · kubectl microseg</sub>")
    return "\n".join(out) + "\n"
