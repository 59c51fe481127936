"""Snapshot tests (pytest-textual-snapshot) of the main screens on the demo cluster.

The SVGs live in ``__snapshots__/test_snapshots/``; update with ``--update-golden`` (the suite's one switch
for expected output; it turns on syrupy's ``--snapshot-update``) after checking the report.
"""

from __future__ import annotations

import pytest

from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.tui.app import MicrosegApp

from .conftest import wait_loaded

SNAP_SIZE = (160, 45)
SIZES = {"80x24": (80, 24), "160x45": (160, 45), "250x70": (250, 70)}
"""The terminal sizes a new user tried (issue 16); each main screen is drawn at all three."""


def demo() -> MicrosegApp:
    return MicrosegApp(DemoSource())


async def on_pair(pilot, src: str = "production/frontend", dst: str = "production/api-server") -> None:
    await wait_loaded(pilot)
    app = pilot.app
    app.matrix_screen.grid.cursor_row = next(i for i, r in enumerate(app.matrix_screen.model.rows) if r.key == src)
    app.matrix_screen.grid.cursor_col = next(i for i, c in enumerate(app.matrix_screen.model.cols) if c.key == dst)
    await pilot.pause()


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("size", list(SIZES))
def test_matrix(snap_compare, size, theme):
    """The matrix, cursor on frontend → api-server: numbered columns, the cursor's column named, legend,
    ports and reason under it; below 120 columns without the side panel. Light: press t."""
    async def run_before(pilot):
        await on_pair(pilot)
        if theme == "light":
            await pilot.press("t")
    assert snap_compare(demo(), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", ["80x24", "250x70"])
def test_explain_sizes(snap_compare, size):
    """Explain on a small and on a large terminal."""
    async def run_before(pilot):
        await on_pair(pilot)
        await pilot.press("enter")
    assert snap_compare(demo(), terminal_size=SIZES[size], run_before=run_before)


def test_namespace_granularity(snap_compare):
    """Every namespace folded: aggregated cells."""
    async def run_before(pilot):
        await wait_loaded(pilot)
        await pilot.press("g", "g")
    assert snap_compare(demo(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_explain(snap_compare):
    """Enter on a cell: both directions and the deciding policies' YAML."""
    async def run_before(pilot):
        await on_pair(pilot)
        await pilot.press("enter")
    assert snap_compare(demo(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_help(snap_compare):
    async def run_before(pilot):
        await wait_loaded(pilot)
        await pilot.press("question_mark")
    assert snap_compare(demo(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_policy(snap_compare):
    """A policy's YAML and what it selects."""
    async def run_before(pilot):
        await wait_loaded(pilot)
        pilot.app.matrix_screen.on_policy_list_chosen(type("M", (), {"policy_id": "production/api-tier"})())
        await pilot.pause()
    assert snap_compare(demo(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_filtered_by_label(snap_compare):
    """A label filter keeps the matching rows."""
    async def run_before(pilot):
        await wait_loaded(pilot)
        pilot.app.matrix_screen.set_filter("tier in (api,database)")
        await pilot.pause()
    assert snap_compare(demo(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_simulate(snap_compare):
    """d with a file: the newly denied pairs and their causes."""
    async def run_before(pilot):
        await wait_loaded(pilot)
        pilot.app.matrix_screen.action_simulate("tests/tui/data/deny-batch.yaml")
        from .conftest import wait_for
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "result", None) is not None)
        await pilot.pause()
    assert snap_compare(demo(), terminal_size=SNAP_SIZE, run_before=run_before)


def nft_demo(**kw) -> MicrosegApp:
    import argparse

    from kubectl_microseg.tui.nft_session import NftSource

    args = argparse.Namespace(demo=True, **kw)
    return MicrosegApp(NftSource(args), args, live=False)


def test_nft_matrix(snap_compare):
    """tui --nft --demo --inventory: address classes and hosts, cursor on api-server → db-server."""
    async def run_before(pilot):
        await on_pair(pilot, "api-server", "db-server")
    assert snap_compare(nft_demo(inventory=""), terminal_size=SNAP_SIZE, run_before=run_before)


def test_nft_explain(snap_compare):
    """Enter on an nftables cell: the rule trace of each probe packet and the deciding chains."""
    async def run_before(pilot):
        await on_pair(pilot, "mgmt_net", "db-server")
        await pilot.press("enter")
    assert snap_compare(nft_demo(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_scaffold_wizard(snap_compare):
    """s on namespace batch (the one without default deny): the kinds, the YAML and its matrix impact."""
    async def run_before(pilot):
        await wait_loaded(pilot)
        pilot.app.matrix_screen.jump_to("batch")
        await pilot.press("s")
        await pilot.pause()
    assert snap_compare(demo(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_audit_trail(snap_compare, monkeypatch):
    """a on a live cluster after a policy change: who made it and the flows it cut."""
    import copy

    from kubectl_microseg import audit
    from kubectl_microseg.model.objects import SourceObject
    from kubectl_microseg.sources import Event

    from .conftest import FakeLiveSource, wait_for
    from .test_live import DENY_BATCH_INGRESS

    monkeypatch.setattr(audit, "utc_now", lambda: "2026-05-01T10:00:05Z")  # the snapshot must not age
    source = FakeLiveSource()

    async def run_before(pilot):
        await wait_loaded(pilot)
        obj = SourceObject(copy.deepcopy(DENY_BATCH_INGRESS.raw))
        obj.raw["metadata"]["managedFields"] = [{"manager": "kubectl-client-side-apply", "operation": "Update",
                                                 "time": "2026-05-01T10:00:00Z"}]
        source.emit(Event("ADDED", obj))
        await wait_for(pilot, lambda: len(pilot.app.audit_records) == 1)
        await pilot.press("a")
        await pilot.pause()
    assert snap_compare(MicrosegApp(source), terminal_size=SNAP_SIZE, run_before=run_before)


def test_findings(snap_compare, tmp_path, monkeypatch):
    """L: the lint findings with the CLI's IDs and severities, the highlighted one's fix under the table."""
    monkeypatch.chdir(tmp_path)  # no ignore file

    async def run_before(pilot):
        from .conftest import wait_for

        await wait_loaded(pilot)
        await pilot.press("L")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "findings", None) is not None)
        await pilot.pause()
    assert snap_compare(demo(), terminal_size=SNAP_SIZE, run_before=run_before)


@pytest.mark.parametrize("size", ["80x24", "160x45"])
def test_simulation_overlay(snap_compare, size):
    """d, then m: the simulated diff drawn on the matrix (− newly denied), the cause under the cursor."""
    async def run_before(pilot):
        from .conftest import wait_for

        await wait_loaded(pilot)
        pilot.app.matrix_screen.action_simulate("tests/tui/data/deny-batch.yaml")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "result", None) is not None)
        await pilot.press("m")
        await pilot.pause()
        pilot.app.matrix_screen.jump_to("batch", "batch/report-generator")
        await pilot.pause()
    assert snap_compare(demo(), terminal_size=SIZES[size], run_before=run_before)


def test_port_query(snap_compare):
    """:port 5432: the cells that allow PostgreSQL are marked."""
    async def run_before(pilot):
        await on_pair(pilot, "production/api-server", "production/postgresql")
        pilot.app.matrix_screen.query_port("5432")
        await pilot.pause()
    assert snap_compare(demo(), terminal_size=SNAP_SIZE, run_before=run_before)


@pytest.mark.parametrize("where", ["on", "beside"])
def test_staged_marks(snap_compare, where):
    """The Calico demo: the cell whose staged verdict differs from the enforced one is marked (colour and
    underline, legend 'staged ≠ enforced'); on it, the info line names the staged policy (tests/tui/test_staged.py)."""
    from .test_staged import calico_demo

    async def run_before(pilot):
        await on_pair(pilot, "staging/web", "staging/api" if where == "on" else "staging/web")
    assert snap_compare(calico_demo(), terminal_size=SNAP_SIZE, run_before=run_before)
