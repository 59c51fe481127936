"""Every answer on screen (issue 16): find by name, port query, the simulation drawn on the matrix."""

from __future__ import annotations

from kubectl_microseg.tui.app import MicrosegApp
from kubectl_microseg.plugins.demo import DemoSource

from .conftest import wait_for, wait_loaded

BIG = (160, 45)


async def test_slash_finds_a_workload_by_name_and_n_steps_through_matches():
    app = MicrosegApp(DemoSource())
    async with app.run_test(size=BIG) as pilot:
        await wait_loaded(pilot)
        await pilot.press("z")  # every namespace folded: finding unfolds the one it needs
        await pilot.press("slash", *"postgres", "enter")
        await pilot.pause()
        row, col = app.matrix_screen.grid.current
        assert row.key == "production/postgresql" and col.key == "production/postgresql"
        assert app.matrix_screen.model.filter_text == ""  # a name finds; it does not filter
        await pilot.press("n")
        await pilot.pause()
        assert app.matrix_screen.grid.current[0].key == "staging/postgresql"
        await pilot.press("n")
        await pilot.pause()
        assert app.matrix_screen.grid.current[0].key == "production/postgresql"  # wraps around
        await pilot.press("slash", *"tier=database", "enter")  # a selector still filters
        await pilot.pause()
        assert app.matrix_screen.model.filter_text == "tier=database"
        app.matrix_screen.run_command("find nosuchthing")
        await pilot.pause(0.1)
        assert any("no endpoint matches" in n.message for n in app._notifications)


async def test_port_query_marks_exactly_the_cells_that_allow_the_port():
    app = MicrosegApp(DemoSource())
    async with app.run_test(size=BIG) as pilot:
        await wait_loaded(pilot)
        n = app.matrix_screen.query_port("5432")
        await pilot.pause()
        expected = {k for k, c in app.session.matrix.cells.items() if c.conns.allows("TCP", 5432)}
        assert n == len(expected) > 0
        assert ("production/api-server", "production/postgresql") in expected
        assert ("production/api-server", "production/postgresql") in app.matrix_screen.grid.matched_cells
        assert ("production/frontend", "production/postgresql") not in app.matrix_screen.grid.matched_cells
        assert "5432/tcp" in app.matrix_screen.status.mode_text
        assert app.matrix_screen.query_port("53/udp") > 0
        assert ("production/api-server", "kube-system/coredns") in app.matrix_screen.grid.matched_cells
        assert app.matrix_screen.query_port("70000") == 0
        await pilot.pause()
        assert any("not a port" in m.message for m in app._notifications)
        await pilot.press("escape")
        assert not app.matrix_screen.grid.matched_cells and app.matrix_screen.port_query == ""


async def test_simulation_shows_the_guards_and_is_drawn_on_the_matrix():
    from kubectl_microseg.tui.screens.simulate import SimulateScreen

    app = MicrosegApp(DemoSource())
    async with app.run_test(size=BIG) as pilot:
        await wait_loaded(pilot)
        app.matrix_screen.action_simulate("tests/tui/data/deny-batch.yaml")
        await wait_for(pilot, lambda: getattr(app.screen, "result", None) is not None)
        result = app.screen.result
        assert any(g.startswith("dns-broken:") for g in result.guards), result.guards  # as the CLI says
        summary = str(app.screen.query_one("#sim-summary").render())
        assert "dns-broken" in summary
        await pilot.press("m")
        await pilot.pause()
        assert not isinstance(app.screen, SimulateScreen)
        pair = ("batch/report-generator", "batch/nightly-etl")
        assert app.matrix_screen.grid.overlay.get(pair) == "removed"
        assert len(app.matrix_screen.grid.overlay) == len({(r.src, r.dst) for r in result.rows
                                             if (r.src, r.dst) in app.matrix_screen.grid.overlay})
        app.matrix_screen.grid.cursor_row = next(i for i, r in enumerate(app.matrix_screen.model.rows) if r.key == pair[0])
        app.matrix_screen.grid.cursor_col = next(i for i, c in enumerate(app.matrix_screen.model.cols) if c.key == pair[1])
        await pilot.pause()
        info = str(app.query_one("#cell-info").render())
        assert "simulated: newly denied" in info and "→ denied" in info
        assert "SIMULATION" in app.matrix_screen.status.mode_text
        await pilot.press("z")  # folded: the overlay follows the groups
        await pilot.pause()
        assert app.matrix_screen.grid.overlay.get(("group:batch", "group:batch")) == "removed"
        await pilot.press("escape")
        assert not app.matrix_screen.grid.overlay and app.matrix_screen.simulation is None


async def test_findings_panel_matches_the_cli_and_jumps(tmp_path, monkeypatch, capsys):
    """L lists the same rule IDs, severities and objects as `kubectl microseg lint --demo`."""
    import json

    from kubectl_microseg.cli import main
    from kubectl_microseg.tui.screens.findings import FindingsScreen
    from kubectl_microseg.tui.screens.policy import PolicyScreen

    monkeypatch.chdir(tmp_path)  # no ./.microseg-ignore here: neither side ignores anything
    main(["lint", "--demo", "-o", "json"])
    cli = [(f["rule"], f["severity"], f["object"]) for f in json.loads(capsys.readouterr().out)["findings"]]
    assert cli
    app = MicrosegApp(DemoSource())
    async with app.run_test(size=BIG) as pilot:
        await wait_loaded(pilot)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen) and app.screen.findings is not None)
        tui = [(f.rule, f.severity, f.object) for f in app.screen.findings]
        assert sorted(tui) == sorted(cli)
        i = next(i for i, f in enumerate(app.screen.findings) if f.object.startswith("NetworkPolicy "))
        app.screen.jump(i)
        await pilot.pause()
        assert isinstance(app.screen, PolicyScreen)
        await pilot.press("escape")
        await pilot.pause()
        i = next(i for i, f in enumerate(app.screen.findings) if f.object == "CronJob batch/report-generator")
        app.screen.jump(i)
        await pilot.pause()
        assert app.matrix_screen.grid.current[0].key == "batch/report-generator"


async def test_the_scaffold_wizard_offers_every_cli_kind_and_its_namespace_choice():
    """Every kind of `kubectl microseg scaffold`, the namespace chosen in the wizard, impact as pairs."""
    from kubectl_microseg.scaffold_kinds import KINDS
    from kubectl_microseg.tui.screens.scaffold import ScaffoldScreen

    app = MicrosegApp(DemoSource())
    async with app.run_test(size=BIG) as pilot:
        await wait_loaded(pilot)
        app.matrix_screen.jump_to("batch")
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, ScaffoldScreen) and screen.namespace == "batch"
        kinds = screen.query_one("#scaffold-templates")
        assert [kinds.get_option_at_index(i).id for i in range(kinds.option_count)] == list(KINDS)
        built = []
        for i, kind in enumerate(KINDS):  # each builds YAML with its example options, or says what the CLI says
            kinds.highlighted = i
            await pilot.pause()
            assert screen.kind == kind
            summary = str(screen.query_one("#scaffold-summary").render())
            if "kind: " in screen.yaml_text:
                built.append(kind)
            else:  # e.g. zone: no workload of batch carries the zone's label: the CLI's own message
                assert summary.startswith(f"{kind}: ") and "Traceback" not in summary, (kind, summary)
        assert len(built) >= len(KINDS) - 1, built
        kinds.highlighted = 0  # default-deny: the impact lists the pairs it cuts
        await wait_for(pilot, lambda: screen.kind == "default-deny")
        await wait_for(pilot, lambda: screen.impact is not None)
        assert "batch/report-generator → batch/nightly-etl" in screen.impact.removed
        assert "batch/report-generator → batch/nightly-etl" in str(screen.query_one("#scaffold-summary").render())
        namespaces = screen.query_one("#scaffold-namespaces")
        namespaces.highlighted = next(i for i in range(namespaces.option_count)
                                      if namespaces.get_option_at_index(i).id == "development")
        await pilot.pause()
        assert screen.namespace == "development" and "namespace: development" in screen.yaml_text
        box = screen.query_one("#scaffold-input")
        box.value = "--direction sideways"  # a CLI usage error is a message in the wizard
        await pilot.pause()
        assert "invalid choice" in str(screen.query_one("#scaffold-summary").render())
        assert screen.yaml_text == ""


def test_the_wizard_reads_a_kinds_options_with_the_sessions_mesh_settings():
    """The wizard's options box is read by the kind's own parser (scaffold_kinds.parse_options, no CLI import),
    and `scaffold mesh` there names principals in the session's trust domain (--trust-domain), as the CLI does."""
    import argparse

    import pytest

    from kubectl_microseg.errors import UsageError
    from kubectl_microseg.tui.screens.scaffold import build_drafts
    from kubectl_microseg.tui.session import build_session

    session = build_session(DemoSource().load(), argparse.Namespace(trust_domain="corp.example"))
    drafts, _ = build_drafts(session, "mesh", "production", "'frontend -> api-server:8080'")
    text = "\n".join(str(d.manifest()) for d in drafts)
    assert "corp.example/ns/production/sa/" in text and "cluster.local/ns/" not in text
    with pytest.raises(UsageError, match="unrecognized arguments: --out"):
        build_drafts(session, "allow-dns", "production", "--out somewhere")  # the CLI's output options are not the wizard's
