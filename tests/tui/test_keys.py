"""Pilot tests: every key of the help screen, the command bar, the palette and the side panels."""

from __future__ import annotations

from kubectl_microseg.tui.grid import CellState
from kubectl_microseg.tui.keys import KEYS
from kubectl_microseg.tui.screens.explain import ExplainScreen
from kubectl_microseg.tui.screens.export import ExportScreen
from kubectl_microseg.tui.screens.help import HelpScreen
from kubectl_microseg.tui.screens.matrix import MatrixScreen
from kubectl_microseg.tui.screens.policy import PolicyScreen
from kubectl_microseg.tui.screens.scaffold import ScaffoldScreen
from kubectl_microseg.tui.screens.simulate import SimulateScreen
from kubectl_microseg.tui.widgets.cell_info import CellInfo

from .conftest import SIZE, put_cursor, wait_for, wait_loaded


async def command(pilot, mode: str, text: str) -> None:
    """Open the bar with its key (``slash`` or ``colon``), fill it in and press Enter."""
    await pilot.press(mode)
    pilot.app.query_one("#command-bar").value = text
    await pilot.press("enter")


def info_text(app) -> str:
    return str(app.query_one(CellInfo).render())


async def test_opens_on_the_demo_matrix(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert demo_app.matrix_screen.status.state == "static"
        # L4 allows 8080; the seed's AuthorizationPolicy only some requests (GET/POST /api/v1/*, GET /health, /ready)
        assert demo_app.cell_state("production/frontend", "production/api-server") is CellState.MESH_SOME
        assert demo_app.cell_state("production/api-server", "production/frontend") is CellState.DENIED
        assert demo_app.focused is demo_app.matrix_screen.grid


async def test_arrows_and_vim_keys_move_the_cursor_and_show_ports_and_reason(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        put_cursor(demo_app, "production/frontend", "production/api-server")
        await pilot.pause()
        assert "TCP 8080" in info_text(demo_app) and "frontend-tier egress rule 1" in info_text(demo_app)
        r, c = demo_app.matrix_screen.grid.cursor_row, demo_app.matrix_screen.grid.cursor_col
        await pilot.press("down", "right")
        assert (demo_app.matrix_screen.grid.cursor_row, demo_app.matrix_screen.grid.cursor_col) == (r + 1, c + 1)
        await pilot.press("k", "h", "j", "l", "up", "left")
        assert (demo_app.matrix_screen.grid.cursor_row, demo_app.matrix_screen.grid.cursor_col) == (r, c)
        await pilot.press("end")
        assert demo_app.matrix_screen.grid.cursor_col == len(demo_app.matrix_screen.model.cols) - 1
        await pilot.press("home", "ctrl+end")
        assert demo_app.matrix_screen.grid.cursor_col == 0 and demo_app.matrix_screen.grid.cursor_row == len(demo_app.matrix_screen.model.rows) - 1
        await pilot.press("ctrl+home", "pagedown")
        assert demo_app.matrix_screen.grid.cursor_row > 10
        await pilot.press("pageup")
        assert demo_app.matrix_screen.grid.cursor_row == 0


async def test_brackets_jump_between_namespaces(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("right_square_bracket")
        assert demo_app.matrix_screen.model.rows[demo_app.matrix_screen.grid.cursor_row].key == "header:development"
        await pilot.press("right_square_bracket", "left_square_bracket")
        assert demo_app.matrix_screen.model.rows[demo_app.matrix_screen.grid.cursor_row].key == "header:development"


async def test_space_and_enter_fold_a_namespace_and_z_folds_all(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("space")
        assert demo_app.matrix_screen.model.rows[0].key == "group:batch"
        assert demo_app.matrix_screen.model.cols[0].key == "group:batch"
        await pilot.press("enter")
        assert demo_app.matrix_screen.model.rows[0].key == "header:batch"
        await pilot.press("z")
        assert all(r.kind == "group" for r in demo_app.matrix_screen.model.rows)
        await pilot.press("z")
        assert not demo_app.matrix_screen.model.collapsed


async def test_enter_and_e_open_the_explanation_and_y_copies_it(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        put_cursor(demo_app, "production/frontend", "production/api-server")
        await pilot.press("enter")
        assert isinstance(demo_app.screen, ExplainScreen)
        assert "production/api-server → production/frontend: denied" in demo_app.screen.text
        await pilot.press("y")
        assert "api-tier ingress rule 1" in demo_app.clipboard
        await pilot.press("escape")
        assert not isinstance(demo_app.screen, ExplainScreen)
        await pilot.press("e")
        assert isinstance(demo_app.screen, ExplainScreen)
        await pilot.press("q")
        assert demo_app.is_running and demo_app.screen is demo_app.screen_stack[0]


async def test_y_on_the_matrix_copies_the_cursor_explanation(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        put_cursor(demo_app, "staging/web", "production/postgresql")
        await pilot.press("y")
        assert demo_app.clipboard.startswith("## staging/web ⇄ production/postgresql")
        assert "staging/web → production/postgresql: denied" in demo_app.clipboard


async def test_slash_filters_by_label_and_escape_clears(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("slash")
        assert demo_app.query_one("#command-bar").display
        await pilot.press(*"tier=", "escape")
        assert demo_app.matrix_screen.model.filter_text == ""
        await command(pilot, "slash", "tier=database")
        rows = [r.key for r in demo_app.matrix_screen.model.rows if r.kind == "endpoint"]
        assert rows and all("postgresql" in r for r in rows)
        assert "tier=database" in demo_app.matrix_screen.status.filter_text
        await pilot.press("f")
        assert demo_app.matrix_screen.model.filter_axis == "columns"
        assert all("postgresql" in c.key for c in demo_app.matrix_screen.model.cols)
        await pilot.press("escape")
        assert demo_app.matrix_screen.model.filter_text == ""
        await command(pilot, "slash", "bad in (x")
        assert demo_app.matrix_screen.model.filter_text == ""  # a malformed selector leaves the view as it was
        assert not demo_app.query_one("#command-bar").display


async def test_colon_commands(demo_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await command(pilot, "colon", "pod")
        assert demo_app.matrix_screen.granularity == "pod"
        await command(pilot, "colon", "namespace")
        assert demo_app.matrix_screen.granularity == "namespace"
        await command(pilot, "colon", "workload")
        await command(pilot, "colon", "ns staging")
        assert demo_app.matrix_screen.model.rows[demo_app.matrix_screen.grid.cursor_row].group == "staging"
        await command(pilot, "colon", "export mermaid out.mmd")
        assert (tmp_path / "out.mmd").read_text().startswith("flowchart LR")
        await command(pilot, "colon", "filter app=web")
        assert demo_app.matrix_screen.model.filter_text == "app=web"
        await command(pilot, "colon", "nonsense")
        await command(pilot, "colon", "q")
        await pilot.pause()
        assert not demo_app.is_running


async def test_g_cycles_granularity(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("g")
        assert demo_app.matrix_screen.granularity == "pod"
        assert any(r.endpoint is not None and r.endpoint.kind == "Pod" for r in demo_app.matrix_screen.model.rows)
        await pilot.press("g")
        assert demo_app.matrix_screen.granularity == "namespace" and all(r.kind == "group" for r in demo_app.matrix_screen.model.rows)
        assert demo_app.cell_state("group:staging", "group:staging") is CellState.ALL
        await pilot.press("g")
        assert demo_app.matrix_screen.granularity == "workload"


async def test_x_exports_markdown_and_mermaid(demo_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("x")
        assert isinstance(demo_app.screen, ExportScreen)
        await pilot.press("y")
        assert demo_app.clipboard.startswith("### Effective connectivity")
        await pilot.press("m", "w")  # the save dialog shows the full path; nothing is written yet
        from kubectl_microseg.tui.screens.save import SaveDialog

        assert isinstance(demo_app.screen, SaveDialog)
        target = tmp_path / "microseg-matrix.mmd"
        assert str(target) in str(demo_app.screen.query_one("#save-note").render())
        assert not target.exists()
        await pilot.press("enter")
        await pilot.pause()
        assert target.read_text().startswith("flowchart LR")
        assert isinstance(demo_app.screen, ExportScreen)
        target.write_text("keep me")  # a second save to an existing file: warned first, replaced only on Enter again
        await pilot.press("w")
        assert "exists" in str(demo_app.screen.query_one("#save-note").render())
        await pilot.press("enter")
        await pilot.pause()
        assert target.read_text() == "keep me" and isinstance(demo_app.screen, SaveDialog)
        await pilot.press("enter")
        await pilot.pause()
        assert target.read_text().startswith("flowchart LR")
        await pilot.press("w", "escape")  # cancelled: nothing written
        await pilot.press("escape")
        assert not isinstance(demo_app.screen, ExportScreen)


async def test_d_simulates_a_file(demo_app, tmp_path):
    change = tmp_path / "allow.yaml"
    change.write_text("""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-all, namespace: batch}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
""")
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("d")
        assert isinstance(demo_app.screen, SimulateScreen)
        demo_app.screen.query_one("#sim-input").value = str(change)
        await pilot.press("enter")
        await wait_for(pilot, lambda: demo_app.screen.result is not None)
        counts = demo_app.screen.result.counts()
        assert counts.get("newly denied", 0) > 0
        await pilot.press("y")
        assert "newly denied: batch/" in demo_app.clipboard
        await pilot.press("escape")
        assert not isinstance(demo_app.screen, SimulateScreen)


async def test_s_opens_the_scaffold_wizard(demo_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        demo_app.matrix_screen.jump_to("batch")
        await pilot.press("s")
        assert isinstance(demo_app.screen, ScaffoldScreen)
        assert "default-deny-all" in demo_app.screen.yaml_text
        await pilot.press("down")
        assert "allow-dns" in demo_app.screen.yaml_text
        await pilot.press("y")
        assert "kind: NetworkPolicy" in demo_app.clipboard
        await pilot.press("w", "enter")
        await pilot.pause()
        assert (tmp_path / "scaffold-allow-dns-batch.yaml").exists()
        await pilot.press("escape")
        assert not isinstance(demo_app.screen, ScaffoldScreen)


async def test_question_mark_lists_every_key(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("question_mark")
        assert isinstance(demo_app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(demo_app.screen, HelpScreen)
        grid_keys = {k for b in demo_app.matrix_screen.grid.BINDINGS for k in b.key.split(",")}
    bound = {b.key for b in demo_app.BINDINGS} | {b.key for b in MatrixScreen.BINDINGS} | grid_keys
    for k in KEYS:
        assert k.key in bound or k.key == "ctrl+p", k


async def test_p_policies_and_b_sidebar_and_t_theme(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("p")
        assert demo_app.focused.id == "policy-list"
        await pilot.press("enter")
        assert isinstance(demo_app.screen, PolicyScreen)
        policy = demo_app.screen.policy_id
        await pilot.press("y")
        assert f"name: {policy.split('/')[1]}" in demo_app.clipboard
        await pilot.press("escape", "escape")
        assert demo_app.focused is demo_app.matrix_screen.grid
        sidebar = demo_app.query_one("#sidebar")
        assert sidebar.display  # p showed it, although 110 columns fold it away by default
        await pilot.press("b")
        assert not sidebar.display
        await pilot.press("b")
        assert sidebar.display
        await pilot.press("t")
        assert demo_app.theme == "textual-light"
        await pilot.press("t")
        assert demo_app.theme == "textual-dark"


async def test_selecting_a_label_filters_and_a_tree_node_moves_the_cursor(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        panel = demo_app.query_one("#workload-panel")
        demo_app.query_one("#sidebar").active = "tab-workloads"
        await pilot.pause()
        workloads = panel.query_one("#workloads")
        workloads.highlighted = next(i for i in range(workloads.option_count)
                                     if workloads.get_option_at_index(i).id == "production/frontend")
        await pilot.pause()
        labels = panel.query_one("#labels")
        labels.focus()
        labels.highlighted = next(i for i in range(labels.option_count)
                                  if labels.get_option_at_index(i).id == "tier=frontend")
        await pilot.press("enter")
        assert demo_app.matrix_screen.model.filter_text == "tier=frontend"
        assert [r.key for r in demo_app.matrix_screen.model.rows if r.kind == "endpoint"] == ["production/frontend"]
        await pilot.press("escape")
        demo_app.query_one("#sidebar").active = "tab-namespaces"
        tree = demo_app.query_one("#ns-tree")
        tree.focus()
        node = next(n for n in tree.root.children if n.data == "pci")
        tree.select_node(node)
        await pilot.pause()
        assert demo_app.matrix_screen.model.rows[demo_app.matrix_screen.grid.cursor_row].key == "header:pci"


async def test_command_palette_lists_our_commands(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        titles = [c.title for c in demo_app.get_system_commands(demo_app.screen)]
        assert "Explain the cell" in titles and "Export as mermaid" in titles and "Granularity: pod" in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        demo_app.screen.query_one("Input").value = "granularity: pod"
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: demo_app.matrix_screen.granularity == "pod")


async def test_q_quits(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not demo_app.is_running


async def test_mouse_click_moves_the_cursor(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        grid = demo_app.matrix_screen.grid
        await pilot.click("#grid", offset=(grid.label_w + 1 + 3 * 2, grid.header_h + 2))
        assert (grid.cursor_row, grid.cursor_col) == (2, 2)


async def test_the_side_panel_folds_on_small_terminals_and_b_brings_it_back():
    """Issue 16: at 80×24 a fixed panel left 4 matrix columns; below 120 columns it starts folded."""
    from kubectl_microseg.plugins.demo import DemoSource
    from kubectl_microseg.tui.app import MicrosegApp

    for width, shown in ((80, False), (119, False), (120, True), (160, True)):
        app = MicrosegApp(DemoSource())
        async with app.run_test(size=(width, 24 if width == 80 else 40)) as pilot:
            await wait_loaded(pilot)
            sidebar = app.query_one("#sidebar")
            assert sidebar.display is shown, width
            if width == 80:  # the grid then has the whole width for its cells
                assert app.matrix_screen.grid.size.width == 80
            await pilot.press("b")
            assert sidebar.display is not shown, width


async def test_theme_command_errors_are_messages(demo_app):
    """`:theme nosuch` crashed with a traceback; `:theme` alone said "unknown command"."""
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        before = demo_app.theme
        demo_app.matrix_screen.run_command("theme nosuch")
        await pilot.pause()
        assert demo_app.theme == before and demo_app.is_running
        demo_app.matrix_screen.run_command("theme")
        await pilot.pause()
        texts = [n.message for n in demo_app._notifications]
        assert any("unknown theme 'nosuch'" in t and "textual-light" in t for t in texts), texts
        assert any(t.startswith("which theme?") for t in texts), texts
        assert not any("unknown command" in t for t in texts)
        demo_app.matrix_screen.run_command("theme textual-light")
        await pilot.pause()
        assert demo_app.theme == "textual-light"
