"""The matrix marks the cells where Calico's staged policies would change the verdict (docs/tui.md).

Calico reference (stagednetworkpolicy): a staged policy enforces nothing; its staged verdict is that of the
cluster with it promoted (engine/staged.py, as ``simulate --staged``). The demo's Calico variant stages
``staging/web-to-api-8080``, which would narrow staging/web → staging/api from every port to TCP 8080.
"""

from __future__ import annotations

from pathlib import Path

from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.plugins.manifests import ManifestSource
from kubectl_microseg.tui.app import MicrosegApp
from kubectl_microseg.tui.widgets.cell_info import CellInfo
from kubectl_microseg.tui.widgets.legend import Legend

from .conftest import put_cursor, wait_loaded

DEMO = Path(__file__).resolve().parents[2] / "kubectl_microseg" / "demo"
SIZE = (160, 45)


def calico_demo() -> MicrosegApp:
    # shown as demo/... whatever the checkout's path, so that the snapshots are the same on every machine
    return MicrosegApp(ManifestSource([str(DEMO / "cluster"), str(DEMO / "calico" / "policies.yaml")],
                                      display_root=str(DEMO), display_prefix="demo/"))


async def test_staged_cells_are_marked_with_their_policy():
    app = calico_demo()
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert app.matrix_screen.grid.staged_cells == {("staging/web", "staging/api")}
        put_cursor(app, "staging/web", "staging/api")
        await pilot.pause()
        info = str(app.query_one(CellInfo).render())
        assert "staged: NetworkPolicy staging/web-to-api-8080 would change the ports: TCP 8080" in info
        assert "(enforced: all ports)" in info
        assert "staged" in str(app.query_one(Legend).render())
        put_cursor(app, "staging/api", "staging/web")  # an unmarked cell says nothing about staging
        await pilot.pause()
        assert "staged:" not in str(app.query_one(CellInfo).render())


async def test_no_staged_policies_no_marks():
    app = MicrosegApp(DemoSource())
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert not app.matrix_screen.grid.staged_cells and app.session.staged == {}
        assert "staged" not in str(app.query_one(Legend).render())


def test_live_updates_keep_the_staged_marks_current():
    """On the live path (tui/session.live_session) the staged differences follow the changes: promoting
    web-to-api-8080 by hand enforces it, so the staged and enforced verdicts agree and the mark goes."""
    import argparse
    import threading

    from kubectl_microseg.engine.incremental import LiveModel
    from kubectl_microseg.model.calico import promote_staged
    from kubectl_microseg.tui.session import live_session

    snap = ManifestSource([str(DEMO / "cluster"), str(DEMO / "calico" / "policies.yaml")]).load()
    model = LiveModel(snap.objects)
    pod = next(o for o in snap.objects if o.kind == "Deployment")
    session, _, _ = live_session(model, snap, argparse.Namespace(), threading.Lock(), [pod])
    assert set(session.staged) == {("staging/web", "staging/api")}
    enforced, _ = promote_staged([o for o in snap.objects if o.kind == "StagedNetworkPolicy"])
    session, _, _ = live_session(model, snap, argparse.Namespace(), threading.Lock(), enforced)
    assert session.staged == {}
