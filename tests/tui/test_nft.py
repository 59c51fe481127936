"""The TUI on host firewalls (``tui --nft``): the demo host listings (nft -j JSON, no root needed)."""

from __future__ import annotations

import argparse

import pytest

from kubectl_microseg.cli import main
from kubectl_microseg.tui.app import MicrosegApp
from kubectl_microseg.tui.explain_doc import plain_text
from kubectl_microseg.tui.grid import CellState
from kubectl_microseg.tui.nft_session import NftSource, build_nft_session, read_hosts
from kubectl_microseg.tui.screens.explain import ExplainScreen
from kubectl_microseg.tui.widgets.cell_info import CellInfo
from kubectl_microseg.tui.widgets.namespace_tree import NamespaceTree
from kubectl_microseg.tui.widgets.policy_list import PolicyList
from kubectl_microseg.tui.widgets.workload_list import WorkloadPanel

from .conftest import SIZE, put_cursor, wait_for, wait_loaded


def nft_app(**kw) -> MicrosegApp:
    args = argparse.Namespace(demo=True, **kw)
    return MicrosegApp(NftSource(args), args, live=False)


def test_session_of_the_demo_host_traces_a_cell():
    hosts, description = read_hosts(argparse.Namespace(demo=True))
    s = build_nft_session(hosts, description)
    assert [h.name for h in s.hosts] == ["db-server"]
    assert "rule 6" in s.one_line("api_net", "db-server")  # the accepting rule
    text = plain_text(s.explanation_blocks("api_net", "db-server"))
    assert "input tcp 10.0.10.1:40000 -> 10.0.0.9:5432" in text and "verdict: allow" in text
    assert "verdict: deny" in text and "deciding chains" in text and "policy drop;" in text
    assert "no path" in s.one_line("api_net", "mgmt_net")  # two address classes meet only at a host


async def test_opens_on_the_demo_host_with_address_classes_and_hosts():
    app = nft_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert app.matrix_screen.is_nft and app.matrix_screen.status.state == "static"
        assert list(app.matrix_screen.model.groups) == ["addresses", "hosts"]
        assert app.cell_state("api_net", "db-server") is CellState.SOME
        assert app.cell_state("db-server", "api_net") is CellState.SOME  # NTP out
        assert app.cell_state("everything else (IPv4)", "db-server") is CellState.DENIED
        put_cursor(app, "mgmt_net", "db-server")
        await pilot.pause()
        info = str(app.query_one(CellInfo).render())
        assert "TCP 22" in info and "accepted by db-server" in info


async def test_enter_and_e_show_the_rule_trace_and_y_copies_it():
    app = nft_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        put_cursor(app, "api_net", "db-server")
        await pilot.press("enter")
        assert isinstance(app.screen, ExplainScreen)
        assert "ip saddr 10.0.10.0/24 tcp dport 5432 accept" in app.screen.text
        await pilot.press("escape", "e")
        assert isinstance(app.screen, ExplainScreen)
        await pilot.press("y", "escape")
        assert app.clipboard.startswith("## api_net ⇄ db-server")


async def test_inventory_hosts_granularity_and_side_panels():
    app = nft_app(inventory="")
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert {"db-server", "api-server", "monitoring"} <= {r.key for r in app.matrix_screen.model.rows}
        assert app.cell_state("api-server", "db-server") is CellState.SOME  # out of one, into the other
        assert app.cell_state("db-server", "api-server") is CellState.DENIED
        await pilot.press("g")  # workload → folded groups (no pod level for hosts)
        assert app.matrix_screen.granularity == "namespace" and [r.key for r in app.matrix_screen.model.rows] == ["group:addresses", "group:hosts"]
        assert "groups" in str(app.matrix_screen.status.render())
        await pilot.press("g")
        assert app.matrix_screen.granularity == "workload"
        tree = app.query_one(NamespaceTree)
        leaves = list(tree.root.children[0].children[0].children)
        assert "policy drop" in str(leaves[0].label) and leaves[0].data == "chain:db-server|inet microseg input"
        tree.post_message(NamespaceTree.ChainChosen("api-server|inet microseg output"))
        await wait_for(pilot, lambda: isinstance(app.screen, ExplainScreen))
        assert "the database" in app.screen.text
        await pilot.press("escape")
        chains = app.query_one(PolicyList)
        assert chains.option_count == 6
        app.matrix_screen.on_policy_list_chosen(PolicyList.Chosen("monitoring|inet microseg input"))
        await pilot.pause()
        assert isinstance(app.screen, ExplainScreen)
        await pilot.press("escape")
        tree.post_message(NamespaceTree.Chosen("hosts", "monitoring"))
        await wait_for(pilot, lambda: app.matrix_screen.model.rows[app.matrix_screen.grid.cursor_row].key == "monitoring")
        await pilot.press("z")  # fold both groups; choosing an endpoint unfolds its group, whatever its id
        app.matrix_screen.on_workload_panel_workload_chosen(WorkloadPanel.WorkloadChosen("mgmt_net"))
        await pilot.pause()
        assert app.matrix_screen.model.rows[app.matrix_screen.grid.cursor_row].key == "mgmt_net"
        # no simulate or scaffold screen for host firewalls: the keys are not offered (nor in the footer)
        assert app.matrix_screen.check_action("simulate", ()) is False and app.matrix_screen.check_action("scaffold", ()) is False
        shown = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        assert "simulate" not in shown and "scaffold" not in shown
        await pilot.press("d")
        await pilot.press("s")
        assert not isinstance(app.screen, ExplainScreen)


def test_command_line_options(monkeypatch):
    seen = {}

    def fake_run(self):
        seen["app"] = self
        return 0

    monkeypatch.setattr(MicrosegApp, "run", fake_run)
    assert main(["--demo", "tui", "--nft", "--inventory"]) == 0
    assert isinstance(seen["app"].source, NftSource) and seen["app"].live is False
    assert main(["tui", "--nft", "--ruleset", "a.nft", "--hooks", "sideways"]) == 2
    assert main(["tui", "--ruleset", "a.nft"]) == 2  # --ruleset needs --nft
    assert main(["tui", "--nft", "--inventory"]) == 2  # no FILE without --demo


@pytest.mark.parametrize("rulesets", [["db-server", "api-server"]])
def test_several_rulesets_are_several_hosts(rulesets):
    from kubectl_microseg.demo import HOST_DIR as DEMO_DIR

    hosts, description = read_hosts(argparse.Namespace(ruleset=[str(DEMO_DIR / f"{r}.nft") for r in rulesets]))
    assert [h.name for h in hosts] == rulesets and description == "2 rulesets"
