"""The TUI's simulate screen shows service-mesh changes (issue 21): a row per pair whose mesh verdict changes,
attributed to the changed AuthorizationPolicy/PeerAuthentication, and the mesh guards the CLI prints."""

from __future__ import annotations

from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.tui.app import MicrosegApp

from .conftest import wait_for, wait_loaded

LOCK = ("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: lock, namespace: production}\n"
        "spec: {selector: {matchLabels: {app: frontend}}}\n")
"""An ALLOW policy without rules: "allow-nothing" (istio.io, authorization-policy reference)."""


async def test_simulate_screen_lists_mesh_changes_with_their_cause_and_guard(tmp_path):
    path = tmp_path / "lock.yaml"
    path.write_text(LOCK)
    app = MicrosegApp(DemoSource())
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_loaded(pilot)
        app.matrix_screen.action_simulate(str(path))
        await wait_for(pilot, lambda: getattr(app.screen, "result", None) is not None)
        result = app.screen.result
        mesh = [r for r in result.rows if r.kind == "mesh"]
        row = next(r for r in mesh if (r.src, r.dst) == ("ingress-nginx/ingress-nginx-controller", "production/frontend"))
        assert (row.before, row.after) == ("allowed, mTLS mtls", "denied, mTLS mtls")
        assert row.why == "AuthorizationPolicy production/lock added"
        assert not [r for r in result.rows if r.kind != "mesh"]  # L4 unchanged
        assert any(g.startswith("mesh-cut: ingress-nginx/ingress-nginx-controller -> production/frontend")
                   for g in result.guards), result.guards
        summary = str(app.screen.query_one("#sim-summary").render())
        assert f"◐{len(mesh)} mesh verdicts changed" in summary and "mesh-cut" in summary


async def test_mesh_verdicts_on_the_matrix_info_line_and_legend():
    """A pair L4 allows gains the mesh's verdict: ◐ some requests, ✕ denied or refused (as the CLI table), the
    info line says which requests and the mTLS state, the legend names the glyphs."""
    from kubectl_microseg.tui.grid import CellState

    from .conftest import put_cursor

    app = MicrosegApp(DemoSource())
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_loaded(pilot)
        assert app.cell_state("production/frontend", "production/api-server") is CellState.MESH_SOME
        # planted mistake 4: order-service has no sidecar, pci is STRICT: refused
        assert app.cell_state("production/order-service", "pci/payment-service") is CellState.MESH_DENIED
        put_cursor(app, "production/frontend", "production/api-server")
        await pilot.pause()
        info = str(app.query_one("#cell-info").render())
        assert "mesh: some requests (GET,POST /api/v1/*" in info and "mTLS" in info
        put_cursor(app, "production/order-service", "pci/payment-service")
        await pilot.pause()
        assert "mesh: connection refused" in str(app.query_one("#cell-info").render())
        legend = str(app.query_one("Legend").render())
        assert "◐ mesh: some requests" in legend and "✕ mesh: denied" in legend


async def test_a_live_mesh_change_redraws_the_cells_it_changes():
    from kubectl_microseg.model.objects import SourceObject
    from kubectl_microseg.sources import Event
    from kubectl_microseg.tui.grid import CellState

    import yaml

    from .conftest import FakeLiveSource

    source = FakeLiveSource()
    app = MicrosegApp(source)
    pair = ("ingress-nginx/ingress-nginx-controller", "production/frontend")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_loaded(pilot)
        assert app.cell_state(*pair) is CellState.SOME  # L4: some ports; the mesh allows them
        source.emit(Event("ADDED", SourceObject(yaml.safe_load(LOCK))))
        await wait_for(pilot, lambda: app.cell_state(*pair) is CellState.MESH_DENIED)
