"""Provides Legend: one line under the matrix saying what each glyph and each risk colour means."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from ..grid import CellState, Risk
from .matrix_grid import RISK_CLASS, SIM_GLYPH, MatrixGrid

SHAPES = ((CellState.ALL, "all ports", "all"), (CellState.SOME, "some ports", "some"),
          (CellState.DENIED, "denied", "denied"), (CellState.UNCERTAIN, "uncertain", "uncertain"))
RISK_WORDS = {Risk.INTERNET: "from internet", Risk.EVERY_NAMESPACE: "open to every namespace",
              Risk.DATABASE: "database port"}
SHORT_RISK = {Risk.INTERNET: "internet", Risk.EVERY_NAMESPACE: "all ns", Risk.DATABASE: "db port"}


class Legend(Widget):
    """Glyphs (the shape says the verdict) and colours (the risk), drawn in the matrix's own styles."""

    def __init__(self, *, id: str | None = None, group_word: str = "namespace") -> None:
        super().__init__(id=id)
        self.group_word = group_word
        """What the matrix groups by: 'namespace', or 'group' for host firewalls (hosts, address classes)."""

    def render(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        grids = self.screen.query(MatrixGrid)
        if not grids:
            return t
        grid = grids.first()
        short = self.size.width < 110
        shapes = SHAPES + (((CellState.L7, "L7-filtered", "l7"),) if grid.model is not None and grid.model.has_l7 else ())
        if grid.model is not None and grid.model.has_mesh:  # Istio: L4 allows, the mesh decides less
            shapes += ((CellState.MESH_SOME, "mesh: some requests", "mesh_some"),
                       (CellState.MESH_DENIED, "mesh: denied", "mesh_denied"))
        for state, words, cls in shapes:
            t.append(state.glyph, style=grid._cell_style(cls, ""))
            t.append(f" {words.split()[0] if short else words}  ")
        if grid.overlay:  # a simulation is drawn: its glyphs replace the risk colours in the legend
            t.append("│ simulated: ")
            for kind, words in (("added", "newly allowed"), ("removed", "newly denied"), ("changed", "ports")):
                t.append(SIM_GLYPH[kind], style=grid._cell_style("all", f"sim-{kind}"))
                t.append(f" {words}  ")
            return t
        if grid.staged_cells:  # Calico staged policies would change these cells (engine.staged)
            t.append("│ ")
            t.append(CellState.ALL.glyph, style=grid._cell_style("all", "staged"))
            t.append(" staged differs  " if short else " staged ≠ enforced  ")
        if grid.matched_cells:
            t.append("│ ")
            t.append(CellState.ALL.glyph, style=grid._cell_style("all", "match"))
            t.append(" allows the queried port  ")
        t.append("│ " if short else "│ colour: ")
        for risk, words in RISK_WORDS.items():
            t.append(CellState.ALL.glyph, style=grid._cell_style("all", "", RISK_CLASS[risk]))
            words = words.replace("namespace", self.group_word)
            t.append(f" {SHORT_RISK[risk] if short else words}  ")
        return t
