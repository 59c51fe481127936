"""The TUI on the demo's Cilium variant (issue 20): an L7-filtered cell has its own glyph and colour, the
legend explains it, the info line lists the requests the L7 rule allows, and toFQDNs names are columns."""

from __future__ import annotations

from kubectl_microseg.tui.app import MicrosegApp
from plugins.manifests import ManifestSource

from .test_snapshots import on_pair

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _restore_cwd():
    here = os.getcwd()
    yield
    os.chdir(here)


def cilium_app() -> MicrosegApp:
    """The demo cluster with its Cilium variant and a toFQDNs rule (tests/tui/data/cilium-fqdn.yaml), by paths
    relative to the repository (they are drawn: the snapshot must not depend on where it is checked out)."""
    os.chdir(REPO)
    return MicrosegApp(ManifestSource(["kubectl_microseg/demo/cluster", "kubectl_microseg/demo/cilium/policies.yaml",
                                       "tests/tui/data/cilium-fqdn.yaml"]))


async def test_l7_cell_glyph_legend_and_info_line() -> None:
    app = cilium_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await on_pair(pilot, "batch/report-generator", "kube-system/coredns")
        view = app.matrix_screen.model.cell(app.matrix_screen.model.rows[app.matrix_screen.grid.cursor_row], app.matrix_screen.model.cols[app.matrix_screen.grid.cursor_col])
        assert view.state.glyph == "◈" and view.l7_requests == ("dns *",)
        info = str(app.query_one("CellInfo").render())
        assert "L7-filtered, only: dns *" in info
        from kubectl_microseg.tui.widgets.legend import Legend
        assert "◈ L7-filtered" in str(app.query_one(Legend).render())
        assert any(c.key == "fqdn:api.stripe.com" for c in app.matrix_screen.model.cols)
        # the api-l7 rule is lifted by the api-tier NetworkPolicy: that cell is a plain allowed one
        other = app.matrix_screen.model.cell(next(r for r in app.matrix_screen.model.rows if r.key == "production/frontend"),
                               next(c for c in app.matrix_screen.model.cols if c.key == "production/api-server"))
        assert other.state.glyph != "◈"


def test_snapshot_l7_cell(snap_compare) -> None:
    """The Cilium demo variant, cursor on an L7-filtered cell (report-generator → CoreDNS, the baseline's dns rule)."""
    async def run_before(pilot):
        await on_pair(pilot, "batch/report-generator", "kube-system/coredns")
    assert snap_compare(cilium_app(), terminal_size=(160, 45), run_before=run_before)


async def test_explain_of_a_fqdn_cell_names_the_tofqdns_rule() -> None:
    # Enter on report-generator → fqdn:api.stripe.com: the explanation says the verdict is uncertain (its
    # addresses are DNS answers at run time); the saas policy has enableDefaultDeny egress off, so the pod's
    # egress is not isolated and everything is allowed
    app = cilium_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await on_pair(pilot, "batch/report-generator", "fqdn:api.stripe.com")
        assert app.session.atom("fqdn:api.stripe.com") is not None
        from kubectl_microseg.engine.explain import explain_pair
        ex = explain_pair(app.session.analyzer, app.session.workload("batch/report-generator"),
                          app.session.atom("fqdn:api.stripe.com"))
        text = " ".join(r.text for r in ex.egress)
        assert ex.uncertain and "DNS answers at run time" in text and "not isolated" in text
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.screen is not app.screen_stack[0]  # the explain screen opened (no crash on a fqdn endpoint)
