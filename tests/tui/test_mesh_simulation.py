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
        app.action_simulate(str(path))
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
