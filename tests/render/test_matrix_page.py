"""``matrix -o html`` and ``-o svg``: a self-contained page (and image) of the grid, with each pair's ports
and deciding rules on hover; rendered in headless Chromium (Debian's ``chromium``, installed by
scripts/setup.sh) to check that the page's script really shows a cell's details.

The deciding rules are the explain engine's (``explain pod A --to B``): the test compares the page's text
with ``explain_pair(...).deciding()`` for the same pairs rather than with hand-written strings.
"""

from __future__ import annotations

import contextlib
import html
import io
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kubectl_microseg import cli
from kubectl_microseg.engine.matrix import Cell, Endpoint, Matrix
from kubectl_microseg.model.ports import ConnSet
from kubectl_microseg.render.page import render_html, render_svg

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(list(argv))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def demo_page() -> str:
    code, page = run("--demo", "matrix", "-o", "html")
    assert code == 0
    return page


def cells(page: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(from, to) -> (css classes, hover text) of every grid cell."""
    found = re.findall(r'<td class="([^"]*)" tabindex="0" data-r="\d+" data-c="\d+" data-from="([^"]*)" '
                       r'data-to="([^"]*)" title="([^"]*)"></td>', page)
    return {(html.unescape(f), html.unescape(t)): (c, html.unescape(text)) for c, f, t, text in found}


def test_the_page_is_self_contained(demo_page: str):
    """Opened from a CI artifact, offline: nothing is fetched from elsewhere."""
    assert demo_page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(link|img|iframe)\b|<script[^>]+src=|@import|url\(", demo_page)
    assert not re.search(r"(src|href)=\"(https?:)?//", demo_page)


def test_every_pair_is_a_cell_coloured_by_the_matrix(demo_page: str):
    _code, json_out = run("--demo", "matrix", "-o", "json")
    import json

    doc = json.loads(json_out)
    ids = [e["id"] for e in doc["endpoints"]]
    allowed = {(c["from"], c["to"]): c["ports"] for c in doc["connections"]}
    mesh = {(c["from"], c["to"]): c["mesh"]["verdict"] for c in doc["connections"] if "mesh" in c}
    grid = cells(demo_page)
    assert set(grid) == {(s, d) for s in ids for d in ids}
    for pair, (classes, text) in grid.items():
        kind = classes.split()[0]
        if pair not in allowed:
            assert kind == "none" and "\ndenied" in text, pair
        else:
            if mesh.get(pair, "allowed") != "allowed":  # the service-mesh layer (docs/mesh.md) limits it
                assert kind == ("meshdeny" if mesh[pair] == "denied" else "meshsome"), pair
            else:
                assert kind == ("all" if allowed[pair] == "all" else "some"), pair
            assert "\nallowed: " in text
        if pair[0] == pair[1]:
            assert "self" in classes.split()


def test_hover_text_names_the_deciding_rules_of_the_explain_engine(demo_page: str):
    from kubectl_microseg.engine.explain import explain_pair, find_workload
    from kubectl_microseg.load import load_analyzer

    args = cli.build_parser(["--demo", "matrix"]).parse_args(["--demo", "matrix"])
    analyzer, _ = load_analyzer(args)
    grid = cells(demo_page)
    for src, dst in [("production/frontend", "production/api-server"),  # allowed: both rules
                     ("monitoring/grafana", "monitoring/prometheus"),  # planted mistake 2: denied
                     ("batch/report-generator", "production/postgresql")]:
        rules = [r.short() for r in explain_pair(analyzer, find_workload(analyzer, src, None),
                                                 find_workload(analyzer, dst, None)).deciding()]
        assert rules
        text = grid[(src, dst)][1]
        assert text.splitlines()[0] == f"{src} -> {dst}"
        body = [x for x in text.splitlines()[2:] if not x.startswith("mesh: ")]  # the mesh verdict's line
        assert body == ["because:"] + [f"  {r}" for r in rules]
    assert grid[("production/frontend", "production/api-server")][1].splitlines()[1] == "allowed: TCP 8080"
    assert "production/api-tier ingress rule 1" in grid[("production/frontend", "production/api-server")][1]
    assert "mesh: some requests (GET,POST /api/v1/*; GET /health,/ready), mTLS" in \
        grid[("production/frontend", "production/api-server")][1]


def test_ids_are_escaped_and_flags_shown():
    odd = Endpoint('ns/<b>"x"', "Deployment", "ns", '<b>"x"', group="ns")
    ext = Endpoint("0.0.0.0/0", "External", cidrs=("0.0.0.0/0",), group="external")
    m = Matrix([odd, ext], {(odd.id, ext.id): Cell(ConnSet.all(), uncertain=True, partial=True)}, title="t <1>")
    page = render_html(m, {(odd.id, ext.id): ["a <rule>"]})
    assert "<b>" not in page.replace("<body>", "") and "&lt;b&gt;" in page
    classes, text = cells(page)[(odd.id, ext.id)]
    assert classes.split()[:2] == ["uncertain", "partial"]
    assert "(uncertain, only some pods)" in text and "  a <rule>" in text
    assert "no NetworkPolicy applies" in cells(page)[(ext.id, ext.id)][1]
    svg = ET.fromstring(render_svg(m, {(odd.id, ext.id): ["a <rule>"]}))
    ns = "{http://www.w3.org/2000/svg}"
    rects = [r for r in svg.iter(f"{ns}rect") if r.find(f"{ns}title") is not None]
    assert len(rects) == 4
    assert any("a <rule>" in r.find(f"{ns}title").text for r in rects)


def test_svg_is_one_well_formed_image_with_a_tooltip_per_cell():
    code, svg = run("--demo", "matrix", "-o", "svg")
    assert code == 0
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    rects = [r for r in root.iter(f"{ns}rect") if r.find(f"{ns}title") is not None]
    n = svg.count(" text-anchor=\"end\">")
    assert n == 25 and len(rects) == n * n
    titles = [r.find(f"{ns}title").text for r in rects]
    assert any(t.startswith("production/frontend -> production/api-server\nallowed: TCP 8080") for t in titles)


def test_a_page_cannot_follow_changes():
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert cli.main(["--demo", "matrix", "-o", "html", "--watch"]) == 2
    assert err.getvalue() == "error: -o html writes one page; it cannot follow changes (--watch)\n"


def test_empty_matrix():
    assert "(no endpoints)" in render_html(Matrix([]))
    ET.fromstring(render_svg(Matrix([])))


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup.sh installs it)")
def test_chromium_shows_a_cells_deciding_rule(demo_page: str, tmp_path: Path):
    """In a real browser the page's script fills the detail panel for the selected cell (the hash selects it
    through the same function as hovering), and the page renders to a screenshot."""
    page = tmp_path / "matrix.html"
    page.write_text(demo_page, encoding="utf-8")
    url = f"{page.as_uri()}#from=production/frontend&to=production/api-server"
    common = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=90, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    detail = re.search(r'<div id="detail">(.*?)</div>', dom.stdout, re.S)
    assert detail, dom.stdout[-1000:]
    assert html.unescape(detail.group(1)) == cells(demo_page)[("production/frontend", "production/api-server")][1]
    assert re.search(r'<td class="[^"]*\bsel\b[^"]*"[^>]*data-from="production/frontend" data-to="production/api-server"',
                     dom.stdout), "the cell is marked selected"
    shot = tmp_path / "matrix.png"
    done = subprocess.run([*common, "--window-size=1400,1000", f"--screenshot={shot}", url],
                          capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    assert _png_size(shot) == (1400, 1000)
    assert shot.stat().st_size > 20_000, "a blank page compresses to almost nothing"
