"""The matrix's header and cursor rows are legible in every theme: text never takes its background's colour.

Issue 16: ``$foreground 5%`` lost its alpha on the way to a Rich style, so namespace header rows, the
column band and the cursor row were solid foreground-coloured bars with foreground-coloured text. These
tests read the colours of the segments the grid actually draws (not the layout) and require a contrast
ratio (WCAG 2.x relative luminance) that text on a terminal needs.
"""

from __future__ import annotations

import pytest
from rich.color import Color as RichColor

from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.tui.app import MicrosegApp

from .conftest import put_cursor, wait_loaded

TEXT_CONTRAST = 3.0
"""WCAG 2.x minimum for large/bold text; labels and headers must reach it."""
GLYPH_CONTRAST = 1.8
"""Cell glyphs (a denied dot is meant to be quiet, yet it must not vanish)."""


def luminance(c: RichColor) -> float:
    r, g, b = c.get_truecolor()

    def lin(v: int) -> float:
        v = v / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast(a: RichColor, b: RichColor) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def worst(strip, label_w: int) -> tuple[float, float, str]:
    """(lowest label/header text contrast, lowest glyph contrast, the text of the worst segment)."""
    text_min = glyph_min = 99.0
    where = ""
    x = 0
    for seg in strip:
        st = seg.style
        if seg.text.strip() and st is not None and st.color is not None and st.bgcolor is not None:
            ratio = contrast(st.color, st.bgcolor)
            if x < label_w:
                if ratio < text_min:
                    text_min, where = ratio, seg.text
            elif ratio < glyph_min:
                glyph_min = ratio
                where = f"{seg.text!r} {st}"
        x += len(seg.text)
    return text_min, glyph_min, where


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "nord", "solarized-light"])
async def test_header_and_cursor_rows_are_legible(theme):
    app = MicrosegApp(DemoSource())
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_loaded(pilot)
        app.theme = theme
        put_cursor(app, "production/frontend", "production/api-server")
        await pilot.pause()
        grid = app.matrix_screen.grid
        cursor_y = grid.header_h + grid.cursor_row - int(grid.scroll_y)
        header_row = next(i for i, r in enumerate(grid.model.rows) if r.kind == "header")
        lines = {f"header line {y}": y for y in range(grid.header_h)}
        lines["cursor row"] = cursor_y
        lines["namespace header row"] = grid.header_h + header_row - int(grid.scroll_y)
        for name, y in lines.items():
            strip = grid.render_line(y)
            text_min, glyph_min, seg = worst(strip, grid.label_w)
            assert text_min >= TEXT_CONTRAST, f"{theme}: {name}: text {seg!r} has contrast {text_min:.2f}"
            assert glyph_min >= GLYPH_CONTRAST, f"{theme}: {name}: cell glyph {seg} has contrast {glyph_min:.2f}"
            # every segment of the band and of the numbers is text on the header: same rule as labels
            if name.startswith("header"):
                body = [s for s in strip if s.text.strip() and s.style and s.style.color and s.style.bgcolor]
                assert body, f"{name} draws nothing"
                low = min(contrast(s.style.color, s.style.bgcolor) for s in body)
                assert low >= TEXT_CONTRAST, f"{theme}: {name}: header text contrast {low:.2f}"


def test_the_contrast_check_catches_a_solid_bar():
    """The failure the issue saw: light text on a bar of the same light colour fails the check."""
    from rich.segment import Segment
    from rich.style import Style

    bar = [Segment("batch (2)", Style(color="#e0e0e0", bgcolor="#e0e0e0"))]
    assert worst(bar, 24)[0] < TEXT_CONTRAST
