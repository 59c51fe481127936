"""Provides MatrixGrid: the connectivity matrix drawn with the Line API (only visible cells are rendered).

Rows are sources, columns destinations, both grouped by namespace. Columns are numbered and each row
label carries the number of its column (as the CLI table does); the header's second line names the
cursor's column in full. The row labels and the column header stay in place while the cells scroll.
Each visible line is built from the memoised cells of :class:`~kubectl_microseg.tui.grid.GridModel`, so
a 2,000 × 2,000 matrix costs a screenful of cells per frame.

Colours come from the theme through component classes. Textual drops the alpha of a component's
background when it builds a partial Rich style (``$foreground 5%`` would paint the foreground colour
itself: a solid light bar under light text), so :meth:`MatrixGrid._style` blends every component colour
over the widget's own background first.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.color import Color
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..grid import AxisItem, CellState, CellView, GridModel, Risk

CELL_W = 3
"""Characters per cell column at least (wider when the terminal has room: up to MAX_CELL_W)."""
MAX_CELL_W = 5
GROUP_GLYPH = {True: "▸", False: "▾"}
SIM_GLYPH = {"added": "+", "removed": "−", "changed": "~"}
"""A simulated change drawn in its cell: newly allowed, newly denied, ports changed."""
CONTRAST_TEXT = frozenset({"cursor", "header-cursor", "sim-added", "sim-removed", "sim-changed", "match"})
"""Components whose text is black or white, whichever reads on their (theme accent) background: no theme
colour contrasts with ``$accent`` in both dark and light themes (Textual's ``auto`` colour, done here
because component styles lose it)."""
RISK_CLASS = {Risk.INTERNET: "risk-internet", Risk.EVERY_NAMESPACE: "risk-namespaces",
              Risk.DATABASE: "risk-database"}


class MatrixGrid(ScrollView, can_focus=True):
    """The matrix: a cursor moves over cells; Enter asks for an explanation; Space folds a namespace."""

    COMPONENT_CLASSES = {
        "matrix-grid--all",
        "matrix-grid--some",
        "matrix-grid--denied",
        "matrix-grid--uncertain",
        "matrix-grid--l7",
        "matrix-grid--mesh_some",
        "matrix-grid--mesh_denied",
        "matrix-grid--cursor",
        "matrix-grid--crosshair",
        "matrix-grid--changed",
        "matrix-grid--self",
        "matrix-grid--label",
        "matrix-grid--label-cursor",
        "matrix-grid--group",
        "matrix-grid--band-even",
        "matrix-grid--band-odd",
        "matrix-grid--header",
        "matrix-grid--header-cursor",
        "matrix-grid--risk-internet",
        "matrix-grid--risk-namespaces",
        "matrix-grid--risk-database",
        "matrix-grid--sim-added",
        "matrix-grid--sim-removed",
        "matrix-grid--sim-changed",
        "matrix-grid--match",
        "matrix-grid--staged",
    }

    BINDINGS = [
        Binding("up,k", "cursor(-1, 0)", "Up", show=False),
        Binding("down,j", "cursor(1, 0)", "Down", show=False),
        Binding("left,h", "cursor(0, -1)", "Left", show=False),
        Binding("right,l", "cursor(0, 1)", "Right", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(-1)", "First column", show=False),
        Binding("end", "edge(1)", "Last column", show=False),
        Binding("ctrl+home", "corner(-1)", "First row", show=False),
        Binding("ctrl+end", "corner(1)", "Last row", show=False),
        Binding("left_square_bracket", "jump_group(-1)", "Previous namespace", show=False),
        Binding("right_square_bracket", "jump_group(1)", "Next namespace", show=False),
        Binding("space", "toggle_group", "Fold", show=True),
        Binding("enter", "activate", "Explain", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True, init=False)
    cursor_col: reactive[int] = reactive(0, always_update=True, init=False)

    @dataclass
    class CursorMoved(Message):
        """The cursor is on a new cell (``cell`` is None on a namespace header row)."""

        row: AxisItem
        col: AxisItem
        cell: CellView | None

    @dataclass
    class Activated(Message):
        """Enter on an endpoint cell: the user wants the full explanation."""

        row: AxisItem
        col: AxisItem

    @dataclass
    class GroupToggled(Message):
        """Space or Enter on a namespace header: fold or unfold it."""

        group: str

    def __init__(self, model: GridModel | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model: GridModel | None = None
        self.label_w = 24
        self.header_h = 3
        self.number_w = 1
        """Digits of the largest column number (numbers of 3+ digits are written downwards)."""
        self._col_number: dict[str, int] = {}
        self.cell_w = CELL_W
        """Characters per column now: 3, or up to MAX_CELL_W when the columns fit the width."""
        self._styles: dict[str, Style] | None = None
        self._combo: dict[tuple[str, str, str], Style] = {}
        self._changed: set[tuple[str, str]] = set()
        self._overlay: dict[tuple[str, str], str] = {}
        """(row key, column key) -> 'added', 'removed' or 'changed': a simulation drawn on the matrix."""
        self._match: set[tuple[str, str]] = set()
        """(row key, column key) of the cells a port query matched."""
        self._overlay_pairs: dict[tuple[str, str], str] = {}
        self._match_pairs: set[tuple[str, str]] = set()
        self._staged_pairs: set[tuple[str, str]] = set()
        self._staged: set[tuple[str, str]] = set()
        """(row key, column key) of the cells where Calico's staged policies would change the verdict."""
        self._lines: dict[tuple[int, int, int], list[Segment]] = {}
        """Rendered cell segments of rows away from the cursor, by (row, first column, last column)."""
        self._col_group_start: list[int] = []
        self._group_index: dict[str, int] = {}
        if model is not None:
            self.set_model(model)

    # ------------------------------------------------------------------ model
    def set_model(self, model: GridModel, *, keep_cursor: bool = True) -> None:
        """Show a (new or rebuilt) grid model, keeping the cursor on the same row and column keys."""
        old = self.model
        row_key = col_key = None
        if keep_cursor and old is not None and old.rows and old.cols:
            row_key = old.rows[min(self.cursor_row, len(old.rows) - 1)]
            col_key = old.cols[min(self.cursor_col, len(old.cols) - 1)]
        self.model = model
        self._lines = {}
        self._layout_model()
        if self._overlay_pairs or self._match_pairs or self._staged_pairs:
            self._remap()
        r = c = 0
        if row_key is not None:
            r = _find(model.rows, row_key)
            c = _find(model.cols, col_key)  # type: ignore[arg-type]
        self.set_reactive(MatrixGrid.cursor_row, r)
        self.set_reactive(MatrixGrid.cursor_col, c)
        self.refresh()
        if self.is_mounted:
            self._scroll_to_cursor()
            self._post_cursor()

    def _layout_model(self) -> None:
        m = self.model
        assert m is not None
        self._col_number = {c.key: i + 1 for i, c in enumerate(m.cols)}
        self.number_w = len(str(len(m.cols))) if m.cols else 1
        longest = max((len(r.label) + 4 + self.number_w for r in m.rows), default=12)
        self.label_w = max(16, min(34, longest))
        width = self.scrollable_content_region.width if self.is_mounted else 0
        fit = (width - self.label_w) // len(m.cols) if m.cols and width > self.label_w else CELL_W
        self.cell_w = max(CELL_W, min(MAX_CELL_W, fit))
        self.header_h = 2 + (1 if self.number_w < self.cell_w else self.number_w)
        self._col_group_start = []
        start = 0
        for i, c in enumerate(m.cols):
            if i == 0 or m.cols[i - 1].group != c.group:
                start = i
            self._col_group_start.append(start)
        self._group_index = {g: i for i, g in enumerate(dict.fromkeys(c.group for c in m.cols))}
        self.virtual_size = Size(self.label_w + len(m.cols) * self.cell_w, self.header_h + len(m.rows))

    def on_resize(self, event: events.Resize) -> None:
        """A wider terminal may give the columns more room (or a narrower one take it back)."""
        if self.model is not None:
            before = (self.cell_w, self.header_h)
            self._layout_model()
            if (self.cell_w, self.header_h) != before:
                self._lines = {}
                self.refresh()

    def flash(self, pairs: set[tuple[str, str]]) -> None:
        """Highlight the cells covering these (source id, destination id) pairs until :meth:`unflash`."""
        m = self.model
        if m is None:
            return
        row_of = {mid: r.key for r in m.rows if r.has_cells for mid in r.members}
        col_of = {mid: c.key for c in m.cols for mid in c.members}
        self._changed = {(row_of[s], col_of[d]) for s, d in pairs if s in row_of and d in col_of}
        self._lines = {}
        self.refresh()

    def _cell_keys(self, pairs) -> dict[tuple[str, str], tuple[str, str]]:
        """(source id, destination id) -> the (row key, column key) of the cell drawing it."""
        m = self.model
        assert m is not None
        row_of = {mid: r.key for r in m.rows if r.has_cells for mid in r.members}
        col_of = {mid: c.key for c in m.cols for mid in c.members}
        return {(s, d): (row_of[s], col_of[d]) for s, d in pairs if s in row_of and d in col_of}

    def set_overlay(self, kinds: dict[tuple[str, str], str]) -> None:
        """Draw a simulation: (source id, destination id) -> 'added', 'removed' or 'changed' (empty clears)."""
        self._overlay_pairs = dict(kinds)
        self._remap()

    @property
    def overlay(self) -> dict[tuple[str, str], str]:
        """(row key, column key) -> what the simulation does to that cell."""
        return dict(self._overlay)

    def set_staged(self, pairs: set[tuple[str, str]]) -> None:
        """Mark the cells of these (source id, destination id) pairs: the staged verdict differs from the
        enforced one (engine.staged; empty clears)."""
        self._staged_pairs = set(pairs)
        self._remap()

    @property
    def staged_cells(self) -> set[tuple[str, str]]:
        return set(self._staged)

    def set_match(self, pairs: set[tuple[str, str]]) -> None:
        """Highlight the cells of these (source id, destination id) pairs, e.g. a port query's (empty clears)."""
        self._match_pairs = set(pairs)
        self._remap()

    def _remap(self) -> None:
        """Place the overlay and the matches on the current rows and columns (after folding, filtering, …)."""
        self._overlay, self._match, self._staged = {}, set(), set()
        if self.model is not None:
            kinds = self._overlay_pairs
            for pair, cell in self._cell_keys(kinds).items():
                k = kinds[pair]
                self._overlay[cell] = k if self._overlay.get(cell, k) == k else "changed"
            self._match = set(self._cell_keys(self._match_pairs).values())
            self._staged = set(self._cell_keys(self._staged_pairs).values())
        self._lines = {}
        self.refresh()
        if self.is_mounted:
            for legend in self.screen.query("Legend"):
                legend.refresh()

    @property
    def matched_cells(self) -> set[tuple[str, str]]:
        return set(self._match)

    def redraw_cells(self, keys: set[tuple[str, str]], *, flash: bool = True) -> None:
        """Redraw only the rows holding these (row key, column key) cells (the model already has their new
        values), highlighted until :meth:`unflash` when ``flash``."""
        rows = {rk for rk, _ in keys}
        if flash:  # the previous update's highlight goes, this one's comes
            rows |= {rk for rk, _ in self._changed}
            self._changed = set(keys)
        self._redraw_rows(rows)
        if self.model is not None and self.model.rows and self.model.cols and self.is_mounted:
            here = (self.model.rows[min(self.cursor_row, len(self.model.rows) - 1)].key,
                    self.model.cols[min(self.cursor_col, len(self.model.cols) - 1)].key)
            if here in keys:
                self._post_cursor()  # the info line describes the cell under the cursor

    def _redraw_rows(self, row_keys: set[str]) -> None:
        m = self.model
        if m is None or not row_keys:
            return
        index = {r.key: i for i, r in enumerate(m.rows)}
        rows = {index[k] for k in row_keys if k in index}
        self._lines = {k: v for k, v in self._lines.items() if k[0] not in rows}
        sy = int(self.scroll_y)
        for ri in rows:
            y = self.header_h + ri - sy  # the screen line (the header stays on top; render_line scrolls by hand)
            if self.header_h <= y < self.scrollable_content_region.height:
                self.refresh_line(y + self.scroll_offset.y)

    def unflash(self) -> None:
        if self.model is not None and self._changed:
            rows = {rk for rk, _ in self._changed}
            self._changed = set()
            self._redraw_rows(rows)
            return
        self._changed = set()
        self._lines = {}
        self.refresh()

    @property
    def changed_cells(self) -> set[tuple[str, str]]:
        """(row key, column key) of the highlighted cells."""
        return set(self._changed)

    # ------------------------------------------------------------------ cursor
    @property
    def current(self) -> tuple[AxisItem, AxisItem] | None:
        m = self.model
        if m is None or not m.rows or not m.cols:
            return None
        return m.rows[min(self.cursor_row, len(m.rows) - 1)], m.cols[min(self.cursor_col, len(m.cols) - 1)]

    def validate_cursor_row(self, value: int) -> int:
        n = len(self.model.rows) if self.model else 0
        return max(0, min(value, n - 1))

    def validate_cursor_col(self, value: int) -> int:
        n = len(self.model.cols) if self.model else 0
        return max(0, min(value, n - 1))

    def watch_cursor_row(self) -> None:
        self._cursor_changed()

    def watch_cursor_col(self) -> None:
        self._cursor_changed()

    def _cursor_changed(self) -> None:
        self._scroll_to_cursor()
        self.refresh()
        self._post_cursor()

    def _post_cursor(self) -> None:
        cur = self.current
        if cur is not None and self.model is not None:
            self.post_message(self.CursorMoved(cur[0], cur[1], self.model.cell(*cur)))

    def _scroll_to_cursor(self) -> None:
        body_h = max(1, self.scrollable_content_region.height - self.header_h)
        area_w = max(self.cell_w, self.scrollable_content_region.width - self.label_w)
        sx, sy = int(self.scroll_x), int(self.scroll_y)
        r, c = self.cursor_row, self.cursor_col
        if r < sy:
            sy = r
        elif r >= sy + body_h:
            sy = r - body_h + 1
        px = c * self.cell_w
        if px < sx:
            sx = px
        elif px + self.cell_w > sx + area_w:
            sx = px + self.cell_w - area_w
        self.scroll_to(sx, sy, animate=False, immediate=True)

    def action_cursor(self, drow: int, dcol: int) -> None:
        self.cursor_row += drow
        self.cursor_col += dcol

    def action_page(self, direction: int) -> None:
        self.cursor_row += direction * max(1, self.scrollable_content_region.height - self.header_h - 1)

    def action_edge(self, direction: int) -> None:
        self.cursor_col = 0 if direction < 0 else len(self.model.cols) - 1 if self.model else 0

    def action_corner(self, direction: int) -> None:
        self.cursor_row = 0 if direction < 0 else len(self.model.rows) - 1 if self.model else 0

    def action_jump_group(self, direction: int) -> None:
        """Move the cursor to the previous/next namespace's first row."""
        m = self.model
        if m is None or not m.rows:
            return
        here = m.rows[self.cursor_row].group
        i = self.cursor_row
        if direction > 0:
            while i < len(m.rows) and m.rows[i].group == here:
                i += 1
            self.cursor_row = min(i, len(m.rows) - 1)
        else:
            while i > 0 and m.rows[i - 1].group == here:
                i -= 1
            if i > 0:
                prev = m.rows[i - 1].group
                i -= 1
                while i > 0 and m.rows[i - 1].group == prev:
                    i -= 1
            self.cursor_row = i

    def action_toggle_group(self) -> None:
        cur = self.current
        if cur is not None:
            self.post_message(self.GroupToggled(cur[0].group))

    def action_activate(self) -> None:
        cur = self.current
        if cur is None:
            return
        row, col = cur
        if row.kind in ("header", "group"):
            self.post_message(self.GroupToggled(row.group))
        else:
            self.post_message(self.Activated(row, col))

    async def _on_click(self, event: events.Click) -> None:
        m = self.model
        if m is None:
            return
        x, y = event.x, event.y
        if y < self.header_h:
            return
        row = int(self.scroll_y) + y - self.header_h
        if x < self.label_w:
            if 0 <= row < len(m.rows):
                self.cursor_row = row
                if m.rows[row].kind != "endpoint":
                    self.post_message(self.GroupToggled(m.rows[row].group))
            return
        col = (int(self.scroll_x) + x - self.label_w) // self.cell_w
        if 0 <= row < len(m.rows) and 0 <= col < len(m.cols):
            self.cursor_row, self.cursor_col = row, col
            if event.chain >= 2:
                self.action_activate()

    # ------------------------------------------------------------------ styles
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._combo = {}
        self._lines = {}

    def _style(self, name: str) -> Style:
        if self._styles is None:
            _, background = self.background_colors
            self._styles = {c.split("--", 1)[1]: self._opaque(c, background) for c in self.COMPONENT_CLASSES}
            self._styles["base"] = self.rich_style
        return self._styles[name]

    def _opaque(self, component: str, background: Color) -> Style:
        """A component's partial style with its colours blended over ``background`` (alpha kept)."""
        cs = self.get_component_styles(component)
        bg = background + cs.background if cs.has_rule("background") else None
        fg = None
        if bg is not None and component.split("--", 1)[1] in CONTRAST_TEXT:
            fg = bg + bg.get_contrast_text(0.95)
        elif cs.has_rule("color"):
            under = bg or background
            color = cs.color
            if color.auto:  # $text-muted is 'auto 60%': white or black, whichever reads on `under`
                color = under.get_contrast_text(color.a)
            fg = under + color
        return Style(color=fg.rich_color if fg is not None else None,
                     bgcolor=bg.rich_color if bg is not None else None) + cs.text_style

    def _cell_style(self, state: str, flag: str, risk: str = "") -> Style:
        key = (state, flag, risk)
        st = self._combo.get(key)
        if st is None:
            st = self._style("base") + self._style(state)
            if risk:
                st = st + self._style(risk)
            if flag:
                st = st + self._style(flag)
            self._combo[key] = st
        return st

    def column_number(self, key: str) -> int | None:
        """The number a column (and the row of the same endpoint) carries on screen."""
        return self._col_number.get(key)

    # ------------------------------------------------------------------ rendering
    def render_line(self, y: int) -> Strip:
        m = self.model
        width = self.scrollable_content_region.width
        if m is None or width <= 0:
            return Strip.blank(width, self.rich_style)
        base = self._style("base")
        sx, sy = int(self.scroll_x), int(self.scroll_y)
        area_w = max(0, width - self.label_w)
        c0 = sx // self.cell_w
        c1 = min(len(m.cols), (sx + area_w) // self.cell_w + 1)
        crop_from = sx - c0 * self.cell_w
        if y < self.header_h:
            label, body = self._header_line(y, c0, c1)
        else:
            ri = sy + y - self.header_h
            if ri >= len(m.rows):
                return Strip.blank(width, base)
            label, body = self._row_line(ri, c0, c1)
        body_strip = Strip(body).crop(crop_from, crop_from + area_w)
        return Strip.join([Strip(label), body_strip]).adjust_cell_length(width, base)

    def _label(self, text: str, style: Style) -> list[Segment]:
        w = self.label_w
        if len(text) > w - 1:
            text = text[: w - 2] + "…"
        return [Segment(text.ljust(w - 1) + " ", style)]

    def _row_line(self, ri: int, c0: int, c1: int) -> tuple[list[Segment], list[Segment]]:
        m = self.model
        assert m is not None
        row = m.rows[ri]
        on_row = ri == self.cursor_row
        n = self._col_number.get(row.key)
        num = f"{n:>{self.number_w}}" if n is not None else " " * self.number_w
        if row.kind == "endpoint":
            lstyle = self._style("base") + self._style("label-cursor" if on_row else "label")
            label = self._label(f"{num}  {row.label}", lstyle)
        else:
            gstyle = self._style("base") + self._style("group")
            if on_row:
                gstyle = gstyle + self._style("label-cursor")
            text = f"{GROUP_GLYPH[row.kind == 'group']} {row.label}"
            label = self._label(f"{num} {text}" if row.kind == "group" else text, gstyle)
        if row.kind == "header":
            return label, [Segment(" " * ((c1 - c0) * self.cell_w), self._style("base") + self._style("group"))]
        if not on_row:
            key = (ri, c0, c1)
            base = self._lines.get(key)
            if base is None:
                if len(self._lines) > 4096:
                    self._lines.clear()
                base = self._lines[key] = self._cells(row, c0, c1, -1, False)
            cur_c = self.cursor_col
            if not c0 <= cur_c < c1:
                return label, base
            off = (cur_c - c0) * self.cell_w
            left, _, right = Strip(base).divide([off, off + self.cell_w, (c1 - c0) * self.cell_w])[:3]
            return label, list(left) + self._cells(row, cur_c, cur_c + 1, cur_c, False) + list(right)
        return label, self._cells(row, c0, c1, self.cursor_col, True)

    def _cells(self, row: AxisItem, c0: int, c1: int, cur_c: int, on_row: bool) -> list[Segment]:
        """Segments of the cells c0..c1 of a row (cursor column ``cur_c``, -1 for none)."""
        m = self.model
        assert m is not None
        segs: list[Segment] = []
        run: list[str] = []
        run_style: Style | None = None
        cols = m.cols
        changed = self._changed
        overlay = self._overlay
        match = self._match
        staged = self._staged
        for ci in range(c0, c1):
            col = cols[ci]
            view = m.cell(row, col)
            state = view.state.name.lower() if view is not None else "denied"
            risk = RISK_CLASS.get(view.risk, "") if view is not None else ""
            sim = overlay.get((row.key, col.key)) if overlay else None
            glyph = view.state.glyph if view is not None else CellState.DENIED.glyph
            if sim is not None:
                glyph = SIM_GLYPH[sim]
            if ci == cur_c and on_row:
                flag = "cursor"
            elif sim is not None:
                flag = f"sim-{sim}"
            elif match and (row.key, col.key) in match:
                flag = "match"
            elif changed and (row.key, col.key) in changed:
                flag = "changed"
            elif staged and (row.key, col.key) in staged:
                flag = "staged"
            elif on_row or ci == cur_c:
                flag = "crosshair"
            elif row.key == col.key:
                flag = "self"
            else:
                flag = ""
            st = self._cell_style(state, flag, risk)
            if st is not run_style and run:
                segs.append(Segment("".join(run), run_style))
                run = []
            run_style = st
            run.append(self._glyph_text(glyph))
        if run:
            segs.append(Segment("".join(run), run_style))
        return segs

    def _glyph_text(self, glyph: str) -> str:
        """A glyph centred in a cell of the current width."""
        left = (self.cell_w - 1) // 2
        return " " * left + glyph + " " * (self.cell_w - 1 - left)

    def _header_line(self, y: int, c0: int, c1: int) -> tuple[list[Segment], list[Segment]]:
        """Line 0: the namespace bands; line 1: the cursor's column in full; then the column numbers."""
        m = self.model
        assert m is not None
        base = self._style("base")
        hstyle = base + self._style("header")
        if y == 0:
            label = self._label(" from ╲ to", hstyle)
            segs = []
            for ci in range(c0, c1):
                col = m.cols[ci]
                start = self._col_group_start[ci]
                text = f"▏{col.group}"
                off = (ci - start) * self.cell_w
                chunk = text[off: off + self.cell_w].ljust(self.cell_w)
                band = "band-even" if self._group_index.get(col.group, 0) % 2 == 0 else "band-odd"
                segs.append(Segment(chunk, base + self._style(band)))
            return label, segs
        cur_style = base + self._style("header-cursor")
        if y == 1:
            cur = self.current
            text = ""
            if cur is not None:
                col = cur[1]
                name = col.key if col.kind == "endpoint" else f"{col.group} (folded, {len(col.members)})"
                text = f" to #{self._col_number.get(col.key, '?')}: {name} "
            label = self._label(" ↓ sources", hstyle)
            width = (c1 - c0) * self.cell_w
            start = max(0, min((self.cursor_col - c0) * self.cell_w, width - len(text)))
            segs = [Segment(" " * start, hstyle), Segment(text[:width - start], cur_style),
                    Segment(" " * max(0, width - start - len(text)), hstyle)]
            return label, segs
        k = y - 2
        label = self._label("", hstyle)
        segs = []
        for ci in range(c0, c1):
            number = str(ci + 1)
            if self.number_w < self.cell_w:
                chunk = f"{number:>{self.cell_w - 1}} "
            else:  # more digits than a cell holds: written downwards, one digit per line
                chunk = self._glyph_text(number.rjust(self.number_w)[k])
            segs.append(Segment(chunk, cur_style if ci == self.cursor_col else hstyle))
        return label, segs


def _find(items: list[AxisItem], old: AxisItem) -> int:
    """Index of the item with the same key, else of the first item of the same group, else 0."""
    for i, it in enumerate(items):
        if it.key == old.key:
            return i
    for i, it in enumerate(items):
        if it.group == old.group:
            return i
    return 0
