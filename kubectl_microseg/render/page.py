"""Provides the matrix as a picture: a self-contained HTML page (``-o html``) and an SVG image (``-o svg``).

Both are pure functions of a Matrix and, optionally, the rules that decide each pair (``why``: the
command computes them with the explain engine). Rows are sources, columns destinations, grouped as in
the text grid; a cell's colour says what it allows (all ports, some ports, denied, uncertain). Hovering a
cell (or focusing it with the keyboard) shows the pair, its ports and the deciding rules; in the SVG the
same text is each cell's ``<title>``, which browsers show as a tooltip. Nothing is loaded from elsewhere:
the page works from a CI artifact, offline.
"""

from __future__ import annotations

import html

from ..engine.matrix import Cell, Endpoint, Matrix

Why = dict[tuple[str, str], list[str]]

LEGEND = (("all", "all ports"), ("some", "some ports"), ("none", "denied"), ("uncertain", "uncertain"))
COLOURS = {"all": "#1b7f3b", "some": "#8fd19e", "none": "#eef0f2", "uncertain": "#f0b429",
           "meshdeny": "#cf222e", "meshsome": "#8250df"}
MESH_LEGEND = (("meshsome", "L4 allows, the mesh some requests"), ("meshdeny", "L4 allows, the mesh denies"))
"""Shown when a cell has a service-mesh verdict (engine/mesh.py)."""


def legend(m: Matrix) -> tuple[tuple[str, str], ...]:
    return LEGEND + (MESH_LEGEND if any(c.mesh is not None for c in m.cells.values()) else ())


def cell_class(cell: Cell | None, unknown: bool = False) -> str:
    """``all``, ``some``, ``none`` or ``uncertain`` (the legend's keys); ``unknown``: an absent pair whose
    verdict could not be read (``Matrix.uncertain_reason``) is uncertain, not denied."""
    if cell is None:
        return "uncertain" if unknown else "none"
    if cell.uncertain:
        return "uncertain"
    if cell.mesh is not None and cell.mesh.verdict.value != "allowed":
        return "meshdeny" if cell.mesh.verdict.value == "denied" else "meshsome"
    return "all" if cell.conns.is_all() else "some"


def mesh_note(r) -> str:
    """'denied at L7, mTLS refused' / 'some requests (GET /health), mTLS': a mesh verdict in words."""
    if r.mtls.value == "refused":
        return "connection refused (the server requires mTLS; the client has no sidecar)"
    what = {"allowed": "allowed", "denied": "denied at L7", "some-requests": "some requests"}[r.verdict.value]
    if r.allowed_requests:
        what += f" ({'; '.join(r.allowed_requests)})"
    tls = {"mtls": "mTLS", "plaintext": "plaintext", "mixed": "mTLS on some ports"}[r.mtls.value]
    return f"{what}, {tls}" + (", uncertain" if r.uncertain else "")


def cell_text(m: Matrix, src: Endpoint, dst: Endpoint, why: Why | None) -> str:
    """What a hover shows: the pair, the verdict with its ports, and the deciding rules."""
    cell = m.cells.get((src.id, dst.id))
    verdict = "denied" if cell is None else "allowed: " + cell.conns.describe("all ports")
    flags = [f for f, on in (("uncertain", cell and cell.uncertain), ("only some pods", cell and cell.partial)) if on]
    lines = [f"{src.id} -> {dst.id}", verdict + (f" ({', '.join(flags)})" if flags else "")]
    if cell is not None and cell.mesh is not None:
        lines.append("mesh: " + mesh_note(cell.mesh))
    reason = m.uncertain_reason(src.id, dst.id)
    if reason:
        lines[1] = ("unknown: " if cell is None else "") + lines[1] + f"; unknown because {reason}"
    rules = (why or {}).get((src.id, dst.id))
    if rules:
        lines += ["because:"] + [f"  {r}" for r in rules]
    elif src.is_external and dst.is_external:
        lines.append("(between two outside ranges: no NetworkPolicy applies)")
    return "\n".join(lines)


def _label(e: Endpoint) -> str:
    return e.name if e.name and e.namespace and (e.group or e.namespace) == e.namespace else e.id


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px;color:#1f2328;background:#fff}
h1{font-size:18px;margin:0 0 4px} p.sub{margin:0 0 12px;color:#57606a}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px;border:1px solid #d0d7de}
.wrap{display:flex;gap:16px;align-items:flex-start}
table{border-collapse:collapse}
th{font-weight:normal;white-space:nowrap;font-size:12px}
th.col{height:150px;vertical-align:bottom;padding:0}
th.col div{writing-mode:vertical-rl;transform:rotate(180deg);padding:2px 0;max-height:150px;overflow:hidden}
th.row{text-align:right;padding:0 6px;max-width:260px;overflow:hidden;text-overflow:ellipsis}
th.grp{text-align:left;font-weight:600;padding:6px 4px 2px;color:#57606a}
td{width:16px;height:16px;padding:0;border:1px solid #fff;cursor:pointer}
td.all{background:#1b7f3b} td.some{background:#8fd19e} td.none{background:#eef0f2} td.uncertain{background:#f0b429}
td.meshdeny{background:#cf222e} td.meshsome{background:#8250df}
td.partial{background-image:radial-gradient(#fff 28%,transparent 30%)}
td.self{outline:1px dashed #8c959f;outline-offset:-3px}
td.gs{border-left:2px solid #8c959f}
td:hover,td.sel{outline:2px solid #0969da;outline-offset:-2px}
.hl{background-color:#ddf4ff}
#detail{position:sticky;top:16px;min-width:320px;max-width:520px;border:1px solid #d0d7de;border-radius:6px;padding:10px;
white-space:pre-wrap;font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa}
"""

_JS = """
(function(){
  var detail=document.getElementById('detail'), sel=null;
  function show(td){
    if(sel){sel.classList.remove('sel');}
    sel=td; td.classList.add('sel');
    detail.textContent=td.getAttribute('title');
    document.querySelectorAll('.hl').forEach(function(e){e.classList.remove('hl');});
    var r=document.getElementById('r'+td.getAttribute('data-r')), c=document.getElementById('c'+td.getAttribute('data-c'));
    if(r){r.classList.add('hl');} if(c){c.classList.add('hl');}
  }
  document.querySelectorAll('td[title]').forEach(function(td){
    td.addEventListener('mouseenter',function(){show(td);});
    td.addEventListener('focus',function(){show(td);});
  });
  // #from=ID&to=ID selects a cell (a link to one pair)
  var q=new URLSearchParams(location.hash.slice(1)), f=q.get('from'), t=q.get('to');
  if(f&&t){document.querySelectorAll('td[title]').forEach(function(td){
    if(td.getAttribute('data-from')===f&&td.getAttribute('data-to')===t){show(td);td.scrollIntoView({block:'nearest'});}
  });}
})();
"""


def render_html(m: Matrix, why: Why | None = None) -> str:
    """One self-contained HTML page: title, legend, the grid with hover details, and a detail panel."""
    esc = html.escape
    eps = m.endpoints
    index = {e.id: i for i, e in enumerate(eps)}
    group_start = {members[0].id for _, members in m.groups(unnamed="-")}
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{esc(m.title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{esc(m.title)}</h1>",
           *(f'<p class="warning"><b>Warning:</b> {esc(w)}</p>' for w in m.warning_lines()),
           f'<p class="sub">{len(eps)} endpoints, {len(m.cells)} allowed pairs. Rows are sources, columns '
           "destinations. Hover a cell (or tab to it) for its ports and the rule that decides it."
           + ("" if why else " (Deciding rules are not part of this view.)") + "</p>",
           '<p class="legend">' + "".join(f'<span><i style="background:{COLOURS[k]}"></i>{esc(t)}</span>'
                                          for k, t in legend(m))
           + '<span><i style="background:#8fd19e;background-image:radial-gradient(#fff 28%,transparent 30%)">'
           "</i>only some pods</span></p>"]
    if not eps:
        out.append("<p>(no endpoints)</p></body></html>\n")
        return "\n".join(out)
    out.append('<div class="wrap"><table><thead><tr><th></th>')
    for e in eps:
        gs = " gs" if e.id in group_start else ""
        out.append(f'<th class="col{gs}" id="c{index[e.id]}" title="{esc(e.id)}"><div>{esc(_label(e))}</div></th>')
    out.append("</tr></thead><tbody>")
    for group, members in m.groups(unnamed="-"):
        out.append(f'<tr><th class="grp" colspan="{len(eps) + 1}">{esc(group)}</th></tr>')
        for src in members:
            out.append(f'<tr><th class="row" id="r{index[src.id]}" title="{esc(src.id)}">{esc(_label(src))}</th>')
            for dst in eps:
                cell = m.cells.get((src.id, dst.id))
                classes = [cell_class(cell, bool(m.uncertain_reason(src.id, dst.id)))]
                if cell is not None and cell.partial:
                    classes.append("partial")
                if src.id == dst.id:
                    classes.append("self")
                if dst.id in group_start:
                    classes.append("gs")
                text = cell_text(m, src, dst, why)
                out.append(f'<td class="{" ".join(classes)}" tabindex="0" data-r="{index[src.id]}" '
                           f'data-c="{index[dst.id]}" data-from="{esc(src.id)}" data-to="{esc(dst.id)}" '
                           f'title="{esc(text)}"></td>')
            out.append("</tr>")
    out.append("</tbody></table>")
    out.append('<div id="detail">Hover a cell.</div></div>')
    if m.notes:
        out.append("<ul>" + "".join(f"<li>note: {esc(n)}</li>" for n in m.notes) + "</ul>")
    out.append(f"<script>{_JS}</script></body></html>\n")
    return "\n".join(out)


def _cut(text: str, n: int = 36) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def render_svg(m: Matrix, why: Why | None = None) -> str:
    """The grid as one SVG image; each cell's ``<title>`` is its hover text (labels cut to 36 characters,
    the full id in their own ``<title>``)."""
    esc = html.escape
    eps = m.endpoints
    size, font = 16, 12
    label_w = head_h = 12 + 7 * max((len(_cut(_label(e))) for e in eps), default=4)  # the longest label
    rows: list[tuple[str, Endpoint | str]] = []
    for group, members in m.groups(unnamed="-"):
        rows.append(("group", group))
        rows.extend(("row", e) for e in members)
    top = 60 + head_h
    width = max(label_w + size * len(eps) + 8, 560)
    height = top + size * len(rows) + 8
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="{font}">',
           f"<title>{esc(m.title)}</title>",
           f'<rect width="{width}" height="{height}" fill="#fff"/>',
           f'<text x="4" y="16" font-size="14" font-weight="bold">{esc(m.title)}</text>',
           f'<text x="4" y="32" fill="#57606a">{len(eps)} endpoints, {len(m.cells)} allowed pairs; rows are sources, '
           "columns destinations; hover a cell for its ports and rules</text>"]
    x = 4
    for key, text in legend(m):
        out.append(f'<rect x="{x}" y="40" width="12" height="12" fill="{COLOURS[key]}" stroke="#d0d7de"/>'
                   f'<text x="{x + 16}" y="50">{esc(text)}</text>')
        x += 24 + 7 * len(text)
    for j, e in enumerate(eps):
        x = label_w + j * size + size - 4
        out.append(f'<text transform="translate({x},{top - 4}) rotate(-90)">{esc(_cut(_label(e)))}'
                   f"<title>{esc(e.id)}</title></text>")
    y = top
    for kind, item in rows:
        if kind == "group":
            out.append(f'<text x="4" y="{y + size - 4}" font-weight="bold" fill="#57606a">{esc(str(item))}</text>')
            y += size
            continue
        src = item
        assert isinstance(src, Endpoint)
        out.append(f'<text x="{label_w - 6}" y="{y + size - 4}" text-anchor="end">{esc(_cut(_label(src)))}'
                   f"<title>{esc(src.id)}</title></text>")
        for j, dst in enumerate(eps):
            fill = COLOURS[cell_class(m.cells.get((src.id, dst.id)), bool(m.uncertain_reason(src.id, dst.id)))]
            out.append(f'<rect x="{label_w + j * size}" y="{y}" width="{size - 1}" height="{size - 1}" fill="{fill}">'
                       f"<title>{esc(cell_text(m, src, dst, why))}</title></rect>")
        y += size
    out.append("</svg>\n")
    return "\n".join(out)
