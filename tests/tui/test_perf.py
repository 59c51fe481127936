"""Frame time of the matrix with 2,000 workloads: only visible cells are rendered.

The matrix is synthetic (20 namespaces × 100 workloads, about 10% of pairs allowed) so the measurement is
about drawing, not analysis. The numbers are printed (``-s``) and bounded generously.
"""

from __future__ import annotations

import time

from textual.app import App, ComposeResult

from kubectl_microseg.engine.matrix import Cell, Endpoint, Matrix
from kubectl_microseg.model.ports import ConnSet
from kubectl_microseg.tui.grid import GridModel
from kubectl_microseg.tui.widgets.matrix_grid import MatrixGrid

N_WORKLOADS = 2000
N_NAMESPACES = 20


def synthetic_matrix(n: int = N_WORKLOADS, namespaces: int = N_NAMESPACES) -> Matrix:
    eps = [Endpoint(f"team-{i % namespaces:02d}/app-{i:04d}", "Deployment", f"team-{i % namespaces:02d}",
                    f"app-{i:04d}", (("app", f"app-{i:04d}"),), group=f"team-{i % namespaces:02d}")
           for i in range(n)]
    eps.sort(key=lambda e: e.id)
    tcp = ConnSet.ports("TCP", 8080)
    cells = {}
    for a in range(n):
        for b in range(a % 10, n, 10):
            cells[(eps[a].id, eps[b].id)] = Cell(ConnSet.all() if (a + b) % 3 else tcp, partial=(a * b) % 7 == 0)
    return Matrix(eps, cells)


class GridApp(App[None]):
    def __init__(self, model: GridModel) -> None:
        super().__init__()
        self.model = model

    def compose(self) -> ComposeResult:
        yield MatrixGrid(self.model, id="grid")


def frame_ms(grid: MatrixGrid) -> float:
    """CPU milliseconds to render every visible line of the grid (what one full repaint costs us).

    CPU time of this process, so other processes on a busy machine do not inflate it.
    """
    t = time.process_time()
    for y in range(grid.scrollable_content_region.height):
        grid.render_line(y)
    return (time.process_time() - t) * 1000


async def test_frame_time_with_2000_workloads():
    m = synthetic_matrix()
    model = GridModel.from_matrix(m)
    app = GridApp(model)
    async with app.run_test(size=(200, 60)) as pilot:
        grid = app.query_one(MatrixGrid)
        await pilot.pause()
        cold = frame_ms(grid)
        warm = frame_ms(grid)
        t = time.process_time()
        moves = 20
        for _ in range(moves):
            await pilot.press("right")
        press_ms = (time.process_time() - t) * 1000 / moves
        grid.cursor_row, grid.cursor_col = 1500, 1700  # far away: scrolls, new cells
        await pilot.pause()
        jump = frame_ms(grid)
        model.collapse_all(True)
        t = time.process_time()
        grid.set_model(model)
        folded = frame_ms(grid)
        fold_ms = (time.process_time() - t) * 1000
        print(f"\n2,000 workloads, {len(m.cells)} allowed pairs, 200×60 terminal: "
              f"cold frame {cold:.1f} ms, warm frame {warm:.1f} ms, after a far jump {jump:.1f} ms, "
              f"cursor move incl. Textual {press_ms:.1f} ms, fold all namespaces {fold_ms:.0f} ms "
              f"(then a frame {folded:.1f} ms)")
        assert warm < 100 and cold < 250 and jump < 250
