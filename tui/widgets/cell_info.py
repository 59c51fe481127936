"""Provides CellInfo: the line under the matrix with the cursor's pair, its ports and a one-line reason."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from kubectl_microseg.render.page import mesh_note

from ..grid import AxisItem, CellState, CellView

STATE_CLASS = {CellState.ALL: "all", CellState.SOME: "some", CellState.DENIED: "denied",
               CellState.UNCERTAIN: "uncertain", CellState.L7: "l7", CellState.MESH_SOME: "mesh_some",
               CellState.MESH_DENIED: "mesh_denied"}


class CellInfo(Static):
    """Two lines: 'from → to  ■ ports (state)' and the reason of each direction."""

    DEFAULT_CSS = """
    CellInfo { height: 2; padding: 0 1; }
    """
    def __init__(self, *, id: str | None = None, group_word: str = "namespace") -> None:
        super().__init__(id=id)
        self.group_word = group_word
        """What a folded group is called ('group' for nftables: addresses, hosts)."""

    def show_cell(self, row: AxisItem, col: AxisItem, view: CellView | None, reason: str) -> None:
        """Describe the cell under the cursor."""
        src = _name(row, self.group_word)
        dst = _name(col, self.group_word)
        t = Text()
        if view is None:
            t.append(f"{src}", style="bold")
            t.append(f"  {self.group_word} header: space folds, enter unfolds", style="dim")
            self.update(t, layout=False)
            return
        t.append(src, style="bold")
        t.append(" → ")
        t.append(dst, style="bold")
        t.append("  ")
        t.append(f"{view.state.glyph} ", style="bold")
        if view.state is CellState.DENIED:
            t.append("denied")
        else:
            t.append(view.conns.describe("all ports"))
            extra = []
            if view.uncertain:
                extra.append("uncertain: some policies could not be read")
            if view.state is CellState.L7:
                extra.append("L7-filtered, only: " + (", ".join(view.l7_requests) or "the listed requests"))
            if view.mesh is not None:  # the Istio layer on top of L4 (engine/mesh.py), as the CLI's NOTE says it
                extra.append("mesh: " + mesh_note(view.mesh))
            if view.total_pairs > 1:
                extra.append(f"{view.allowed_pairs}/{view.total_pairs} pairs")
            elif view.partial:
                extra.append("only some pods")
            if extra:
                t.append(f"  ({'; '.join(extra)})", style="italic")
        t.append("\n")
        t.append(reason or "", style="dim")
        self.set_class(True, "-has-cell")
        for s, cls in STATE_CLASS.items():
            self.set_class(view.state is s, f"-{cls}")
        self.update(t, layout=False)  # fixed height: no layout pass per cursor move

    def show_text(self, text: str) -> None:
        self.update(text)


def _name(item: AxisItem, word: str = "namespace") -> str:
    if item.kind == "endpoint":
        return item.key
    return f"{word} {item.group} ({len(item.members)})"
