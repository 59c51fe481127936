"""Provides the matrix renderers: table, wide, json, csv, markdown, mermaid, dot, html and svg.

Each renderer is a pure function ``Matrix -> str``; output is deterministic (endpoint order, sorted
pairs) so it can be diffed and golden-tested.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator

from ..engine.matrix import Cell, Endpoint, Matrix
from .page import Why, mesh_note, render_html, render_svg

GLYPH_ALL = "■"
GLYPH_SOME = "◧"
GLYPH_NONE = "·"
GLYPH_UNCERTAIN = "?"
GLYPH_MESH_DENIED = "✕"
"""L4 allows the pair; the service mesh denies every request (or refuses the connection)."""
GLYPH_MESH_SOME = "◐"
"""L4 allows the pair; the service mesh allows some requests (methods, paths, ...)."""
GLYPH_L7 = "◈"
"""Allowed, and some of its ports pass only the requests a Cilium L7 rule lists (http, dns, kafka)."""


def cell_glyph(cell: Cell | None) -> str:
    """One character that reads without colour: all ports, some ports, denied, uncertain."""
    if cell is None:
        return GLYPH_NONE
    if cell.uncertain:
        return GLYPH_UNCERTAIN
    if cell.mesh is not None and cell.mesh.verdict.value != "allowed":
        return GLYPH_MESH_DENIED if cell.mesh.verdict.value == "denied" else GLYPH_MESH_SOME
    if cell.l7:
        return GLYPH_L7
    return GLYPH_ALL if cell.conns.is_all() else GLYPH_SOME


def _short(e: Endpoint) -> str:
    return e.name if e.name and e.group == e.namespace and e.namespace else e.id


def render_grid(m: Matrix) -> str:
    """The matrix as a grid: rows are sources, columns destinations (numbered), grouped by namespace."""
    eps = m.endpoints
    if not eps:
        return "(no endpoints)\n"
    num = {e.id: i + 1 for i, e in enumerate(eps)}
    width = max(len(str(len(eps))), 1) + 1
    label_w = min(max(len(_short(e)) + 2 for e in eps) + len(str(len(eps))) + 2, 48)
    lines = []
    header = " " * (label_w + 1) + "".join(str(num[e.id]).rjust(width) for e in eps)
    corner = "FROM \\ TO"
    lines.append(f"{corner:<{label_w}} " + header[label_w + 1 :])
    for group, members in m.groups():
        lines.append(group or "-")
        for e in members:
            label = f"{num[e.id]:>{len(str(len(eps)))}} {_short(e)}"
            if len(label) > label_w - 2:
                label = label[: label_w - 3] + "…"
            row = []
            for d in eps:
                cell = m.cells.get((e.id, d.id))
                glyph = GLYPH_UNCERTAIN if cell is None and m.uncertain_reason(e.id, d.id) else cell_glyph(cell)
                row.append(glyph.rjust(width))
            lines.append(f"  {label:<{label_w - 2}} " + "".join(row))
    lines.append("")
    lines.append(f"{GLYPH_ALL} all ports   {GLYPH_SOME} some ports   {GLYPH_NONE} denied   {GLYPH_UNCERTAIN} uncertain"
                 + (" or unknown (could not be read)" if m.uncertain_reasons else ""))
    if any(c.l7 for c in m.cells.values()):
        lines.append(f"{GLYPH_L7} L7-filtered: some ports pass only the requests a Cilium L7 rule lists (explain names them)")
    if any(c.mesh is not None for c in m.cells.values()):
        lines.append(f"{GLYPH_MESH_SOME} L4 allows, the mesh some requests   {GLYPH_MESH_DENIED} L4 allows, the mesh "
                     "denies (L7 or mTLS refused)")
    return "\n".join(lines) + "\n"


def render_connections(m: Matrix, *, wide: bool = False) -> str:
    """Allowed connections, grouped by the source's namespace, with their ports."""
    rows: list[tuple[str, ...]] = []
    by_id = {e.id: e for e in m.endpoints}
    for s, d, cell in m.connections():
        flags = []
        if cell.uncertain:
            flags.append("uncertain")
        if cell.partial:
            flags.append("some pods")
        if cell.l7:
            flags.append("L7-filtered" + (f" ({', '.join(cell.l7_requests)})" if cell.l7_requests else ""))
        if cell.mesh is not None:
            flags.append("mesh: " + mesh_note(cell.mesh))
        ports = cell.conns.describe("all ports")
        row: tuple[str, ...] = (s, d, ports, ", ".join(flags))
        if wide:
            row = row + (by_id[s].kind if s in by_id else "", by_id[d].kind if d in by_id else "")
        rows.append(row)
    if not rows:
        if m.warnings or m.uncertain_reasons:
            return "No connection is known to be allowed: the view is partial (see the warnings above).\n"
        return "No connections are allowed.\n"
    head = ("FROM", "TO", "PORTS", "NOTE") + (("FROM KIND", "TO KIND") if wide else ())
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    out = []
    last_group = None
    for r in [head] + rows:
        if r is not head:
            group = by_id[r[0]].group if r[0] in by_id else ""
            if group != last_group:
                out.append(f"# {group or '-'}")
                last_group = group
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return "\n".join(out) + "\n"


def warning_lines(m: Matrix) -> list[str]:
    """What the view lacks, then which verdicts are unknown and why (printed in the output itself)."""
    return m.warning_lines()


def render_table(m: Matrix) -> str:
    n_pairs = len(m.cells)
    head = f"{m.title}: {len(m.endpoints)} endpoints, {n_pairs} allowed pairs\n"
    if m.layers:
        from ..engine.layers import layers_line

        head += layers_line(m.layers) + "\n"
    head += "\n"
    warnings = warning_lines(m)
    head += "".join(f"WARNING: {w}\n" for w in warnings) + ("\n" if warnings else "")
    return head + render_grid(m) + "\n" + render_connections(m)


def render_wide(m: Matrix) -> str:
    return render_table(m).replace(render_connections(m), render_connections(m, wide=True))


def render_json(m: Matrix) -> str:
    """The contract document, one endpoint or connection per line.

    Items are encoded with json's C encoder (``indent=`` would force the pure-Python one, 5-10x slower
    on large matrices) and laid out one per line, so the output stays readable and diffable.
    """
    doc = m.to_contract(lazy=True)
    lines = ["{", f'"kind": {json.dumps(doc["kind"])},']
    for key in [k for k in doc if k != "kind"]:
        value = doc[key]
        if isinstance(value, (list, Iterator)):
            items = [json.dumps(v, ensure_ascii=False) for v in value]
            body = ",\n  ".join(items)
            lines.append(f'"{key}": [\n  {body}\n],' if items else f'"{key}": [],')
        else:
            lines.append(f'"{key}": {json.dumps(value, ensure_ascii=False)},')
    lines[-1] = lines[-1].rstrip(",")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_csv(m: Matrix) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["from", "from_kind", "to", "to_kind", "ports", "uncertain", "partial"])
    by_id = {e.id: e for e in m.endpoints}
    for s, d, cell in m.connections():
        w.writerow([s, by_id[s].kind if s in by_id else "", d, by_id[d].kind if d in by_id else "",
                    cell.conns.describe(), str(cell.uncertain).lower(), str(cell.partial).lower()])
    return buf.getvalue()


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(m: Matrix) -> str:
    lines = [f"### {m.title}", "", f"{len(m.endpoints)} endpoints, {len(m.cells)} allowed pairs.", ""]
    if m.layers:
        from ..engine.layers import layers_line

        lines += [_md_escape(layers_line(m.layers)) + ".", ""]
    lines += [f"> **Warning:** {_md_escape(w)}" for w in warning_lines(m)]
    lines += [""] if warning_lines(m) else []
    lines += ["| From | To | Ports |", "| --- | --- | --- |"]
    for s, d, cell in m.connections():
        note = " (uncertain)" if cell.uncertain else ""
        lines.append(f"| `{_md_escape(s)}` | `{_md_escape(d)}` | {_md_escape(cell.conns.describe('all'))}{note} |")
    if not m.cells:
        lines.append("| _none_ | | |")
    return "\n".join(lines) + "\n"


def _node_id(eid: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", eid)


def render_mermaid(m: Matrix) -> str:
    """A flowchart like the ones people draw by hand: namespaces as subgraphs, edges labelled with ports."""
    lines = ["flowchart LR"] + [f"    %% WARNING: {w}" for w in warning_lines(m)]
    used = {s for s, _ in m.cells} | {d for _, d in m.cells}
    for group, members in m.groups():
        shown = [e for e in members if e.id in used]
        if not shown:
            continue
        gid = _node_id("g_" + (group or "none"))
        lines.append(f'    subgraph {gid}["{group or "-"}"]')
        for e in shown:
            label = _short(e).replace('"', "'")
            shape = f'(["{label}"])' if e.is_external else f'["{label}"]'
            lines.append(f"        {_node_id(e.id)}{shape}")
        lines.append("    end")
    for s, d, cell in m.connections():
        if s == d:
            continue
        label = cell.conns.describe("all").replace('"', "'")
        arrow = "-.->" if cell.uncertain else "-->"
        lines.append(f'    {_node_id(s)} {arrow}|"{label}"| {_node_id(d)}')
    return "\n".join(lines) + "\n"


def render_dot(m: Matrix) -> str:
    lines = ["digraph connectivity {"] + [f"  // WARNING: {w}" for w in warning_lines(m)] + ["  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for i, (group, members) in enumerate(m.groups()):
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f'    label="{group or "-"}";')
        for e in members:
            shape = ", shape=ellipse" if e.is_external else ""
            lines.append(f'    "{e.id}" [label="{_short(e)}"{shape}];')
        lines.append("  }")
    for s, d, cell in m.connections():
        style = ", style=dashed" if cell.uncertain else ""
        lines.append(f'  "{s}" -> "{d}" [label="{cell.conns.describe("all")}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[Matrix], str]] = {
    "table": render_table,
    "wide": render_wide,
    "json": render_json,
    "csv": render_csv,
    "markdown": render_markdown,
    "mermaid": render_mermaid,
    "dot": render_dot,
    "html": render_html,
    "svg": render_svg,
}
PAGE_FORMATS = ("html", "svg")
"""Formats that can show each pair's deciding rules (``render_page``)."""
FORMATS = tuple(RENDERERS)


def render_matrix(m: Matrix, fmt: str) -> str:
    """Render a Matrix in one of FORMATS."""
    try:
        return RENDERERS[fmt](m)
    except KeyError:
        raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}") from None


def render_page(m: Matrix, fmt: str, why: Why | None) -> str:
    """``html`` or ``svg`` with each pair's deciding rules (``why``) in its hover text."""
    return (render_html if fmt == "html" else render_svg)(m, why)
