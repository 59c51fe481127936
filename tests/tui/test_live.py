"""A live update through a fake watching source: the cell changes, is highlighted, and the status follows."""

from __future__ import annotations

from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.sources import Event
from kubectl_microseg.tui.app import MicrosegApp
from kubectl_microseg.tui.grid import CellState

from .conftest import SIZE, FakeLiveSource, wait_for, wait_loaded

DENY_BATCH_INGRESS = SourceObject({
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "deny-ingress", "namespace": "batch"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
})


async def test_a_watch_event_changes_the_cell_and_highlights_it():
    source = FakeLiveSource()
    app = MicrosegApp(source)
    pair = ("batch/report-generator", "batch/nightly-etl")
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert app.matrix_screen.status.state == "watching"
        assert app.cell_state(*pair) is CellState.ALL
        source.emit(Event("ADDED", DENY_BATCH_INGRESS))
        await wait_for(pilot, lambda: app.cell_state(*pair) is CellState.DENIED)
        assert pair in app.matrix_screen.grid.changed_cells
        source.emit(Event("DELETED", DENY_BATCH_INGRESS))
        await wait_for(pilot, lambda: app.cell_state(*pair) is CellState.ALL)


async def test_connection_states_are_shown_and_never_silently_stale():
    source = FakeLiveSource()
    app = MicrosegApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        source.emit(Event("STATE", state="reconnecting", detail="connection refused"))
        await wait_for(pilot, lambda: app.matrix_screen.status.state == "reconnecting")
        assert "reconnecting" in str(app.matrix_screen.status.render()) and "connection refused" in str(app.matrix_screen.status.render())
        source.emit(Event("STATE", state="watching"))
        await wait_for(pilot, lambda: app.matrix_screen.status.state == "watching")
        source.stop()  # the watch ends: the data is now stale and the status line says since when
        await wait_for(pilot, lambda: app.matrix_screen.status.state == "stale")
        assert "since" in str(app.matrix_screen.status.render())
        assert app.cell_state("production/frontend", "production/api-server") is CellState.MESH_SOME


async def test_a_live_update_patches_the_grid_and_redraws_only_the_rows_it_changed():
    """One live path, strictly: the update names its cells, the grid model is patched (not rebuilt) and only
    the screen lines of the changed rows are drawn again; the patched grid equals one built from scratch."""
    from kubectl_microseg.tui.grid import GridModel

    source = FakeLiveSource()
    app = MicrosegApp(source)
    pair = ("batch/report-generator", "batch/nightly-etl")
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.pause()
        model = app.matrix_screen.model
        drawn: list[int] = []
        real = app.matrix_screen.grid._row_line

        def spy(ri: int, c0: int, c1: int):
            drawn.append(ri)
            return real(ri, c0, c1)

        app.matrix_screen.grid._row_line = spy  # type: ignore[method-assign]
        source.emit(Event("ADDED", DENY_BATCH_INGRESS))
        await wait_for(pilot, lambda: app.cell_state(*pair) is CellState.DENIED)
        await pilot.pause()
        assert app.matrix_screen.model is model  # patched in place of a rebuild
        changed_rows = {rk for rk, _ in app.matrix_screen.grid.changed_cells}
        assert "batch/report-generator" in changed_rows
        assert drawn and {model.rows[ri].key for ri in drawn} <= changed_rows
        fresh = GridModel.from_matrix(app.session.matrix)
        cols = {c.key: c for c in fresh.cols}
        for fr in fresh.rows:
            row = next(r for r in model.rows if r.key == fr.key)
            for c in model.cols:
                assert model.cell(row, c) == fresh.cell(fr, cols[c.key]), (row.key, c.key)
