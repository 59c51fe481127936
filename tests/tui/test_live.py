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
        assert app.status.state == "watching"
        assert app.cell_state(*pair) is CellState.ALL
        source.emit(Event("ADDED", DENY_BATCH_INGRESS))
        await wait_for(pilot, lambda: app.cell_state(*pair) is CellState.DENIED)
        assert pair in app.grid.changed_cells
        source.emit(Event("DELETED", DENY_BATCH_INGRESS))
        await wait_for(pilot, lambda: app.cell_state(*pair) is CellState.ALL)


async def test_connection_states_are_shown_and_never_silently_stale():
    source = FakeLiveSource()
    app = MicrosegApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        source.emit(Event("STATE", state="reconnecting", detail="connection refused"))
        await wait_for(pilot, lambda: app.status.state == "reconnecting")
        assert "reconnecting" in str(app.status.render()) and "connection refused" in str(app.status.render())
        source.emit(Event("STATE", state="watching"))
        await wait_for(pilot, lambda: app.status.state == "watching")
        source.stop()  # the watch ends: the data is now stale and the status line says since when
        await wait_for(pilot, lambda: app.status.state == "stale")
        assert "since" in str(app.status.render())
        assert app.cell_state("production/frontend", "production/api-server") is CellState.SOME
