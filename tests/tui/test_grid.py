"""The grid model and the session (no Textual): cells, groups, filters, explanations, pods, diffs."""

from __future__ import annotations

import pytest

from kubectl_microseg.engine.matrix import Cell, Endpoint, Matrix
from kubectl_microseg.model.ports import ConnSet
from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.tui.explain_doc import explanation_blocks, plain_text
from kubectl_microseg.tui.grid import CellState, GridModel, cell_view
from kubectl_microseg.tui.session import build_session, changed_pairs, one_line_reason


def ep(ns: str, name: str, **labels: str) -> Endpoint:
    return Endpoint(f"{ns}/{name}", "Deployment", ns, name, tuple(sorted(labels.items())), group=ns)


@pytest.fixture(scope="module")
def demo():
    return build_session(DemoSource().load())


def small_matrix() -> Matrix:
    eps = [ep("a", "web", app="web"), ep("a", "db", app="db"), ep("b", "api", app="api")]
    tcp80 = ConnSet.ports("TCP", 80)
    cells = {("a/web", "a/db"): Cell(ConnSet.all()), ("a/db", "a/web"): Cell(ConnSet.all()),
             ("a/web", "a/web"): Cell(ConnSet.all()), ("a/db", "a/db"): Cell(ConnSet.all()),
             ("b/api", "a/db"): Cell(tcp80), ("a/web", "b/api"): Cell(ConnSet.all(), uncertain=True)}
    return Matrix(eps, cells)


def test_cell_states_and_glyphs_read_without_colour():
    assert cell_view(None).state is CellState.DENIED
    assert cell_view(Cell(ConnSet.all())).state is CellState.ALL
    assert cell_view(Cell(ConnSet.ports("TCP", 80))).state is CellState.SOME
    assert cell_view(Cell(ConnSet.all(), partial=True)).state is CellState.SOME
    assert cell_view(Cell(ConnSet.all(), uncertain=True)).state is CellState.UNCERTAIN
    # a Cilium L7 rule filters some ports (issue 20): a glyph of its own; uncertainty still shows first
    assert cell_view(Cell(ConnSet.ports("TCP", 80), l7=True, l7_requests=("http GET /",))).state is CellState.L7
    assert cell_view(Cell(ConnSet.all(), uncertain=True, l7=True)).state is CellState.UNCERTAIN
    # the Istio mesh's verdict on a pair L4 allows (engine/mesh.py): its own glyphs, as the CLI table draws them
    from kubectl_microseg.engine.mesh import MeshResult, MeshVerdict, MtlsState
    some = MeshResult(MeshVerdict.SOME, MtlsState.MTLS)
    assert cell_view(Cell(ConnSet.all(), mesh=some)).state is CellState.MESH_SOME
    assert cell_view(Cell(ConnSet.all(), mesh=MeshResult(MeshVerdict.DENIED, MtlsState.REFUSED))).state \
        is CellState.MESH_DENIED
    assert cell_view(Cell(ConnSet.all(), mesh=MeshResult(MeshVerdict.ALLOWED, MtlsState.MTLS))).state is CellState.ALL
    assert cell_view(Cell(ConnSet.all(), uncertain=True, mesh=some)).state is CellState.UNCERTAIN
    assert len({s.glyph for s in CellState}) == 7


def test_rows_have_group_headers_and_columns_do_not():
    g = GridModel.from_matrix(small_matrix())
    assert [r.key for r in g.rows] == ["header:a", "a/web", "a/db", "header:b", "b/api"]
    assert [c.key for c in g.cols] == ["a/web", "a/db", "b/api"]
    assert g.cell(g.rows[0], g.cols[0]) is None


def test_collapsed_group_aggregates_its_pairs():
    g = GridModel.from_matrix(small_matrix())
    g.toggle_group("a")
    assert [r.key for r in g.rows] == ["group:a", "header:b", "b/api"]
    aa = g.cell(g.rows[0], g.cols[0])
    assert aa.state is CellState.ALL and aa.allowed_pairs == aa.total_pairs == 4
    ab = g.cell(g.rows[0], g.cols[1])
    assert ab.state is CellState.UNCERTAIN
    g.collapse_all(True)
    ba = g.cell(g.rows[1], g.cols[0])
    assert (ba.state, ba.allowed_pairs, ba.total_pairs) == (CellState.SOME, 1, 2)
    assert ba.conns == ConnSet.ports("TCP", 80)


def test_filter_by_label_selector_and_text_and_axis():
    g = GridModel.from_matrix(small_matrix())
    g.set_filter("app in (web,api)")
    assert [r.key for r in g.rows if r.kind == "endpoint"] == ["a/web", "b/api"]
    assert len(g.cols) == 3
    g.set_filter("db", "columns")
    assert [c.key for c in g.cols] == ["a/db"] and len([r for r in g.rows if r.kind == "endpoint"]) == 3
    with pytest.raises(ValueError):
        g.set_filter("app in (web")
    assert g.filter_text == "db"


def test_visible_matrix_is_what_is_shown(demo):
    g = demo.grid("namespace")
    m = g.visible_matrix()
    assert {e.kind for e in m.endpoints} == {"Namespace"}
    assert ("production", "production") in m.cells


def test_explanation_covers_both_directions_and_policy_yaml(demo):
    text = plain_text(explanation_blocks(demo, "production/frontend", "production/api-server"))
    assert "production/frontend → production/api-server: TCP 8080" in text
    assert "production/api-server → production/frontend: denied" in text
    assert "production/api-tier ingress rule 1" in text
    assert "kind: NetworkPolicy" in text and "name: api-tier" in text
    ex = demo.explain("production/frontend", "production/api-server")
    assert one_line_reason(ex).startswith("egress: production/frontend-tier egress rule 1")


def test_pod_granularity_has_pods_and_class_cells(demo):
    g = demo.grid("pod")
    pods = [r for r in g.rows if r.kind == "endpoint" and r.endpoint.kind == "Pod"]
    assert len(pods) >= 20
    fe = next(r for r in g.rows if r.key.startswith("production/frontend"))
    api = next(c for c in g.cols if c.key.startswith("production/api-server"))
    assert g.cell(fe, api).conns == ConnSet.ports("TCP", 8080)
    assert demo.explain(fe.key, api.key).allowed == ConnSet.ports("TCP", 8080)


def test_changed_pairs_and_compare():
    a = small_matrix()
    b = small_matrix()
    del b.cells[("b/api", "a/db")]
    b.cells[("b/api", "a/web")] = Cell(ConnSet.all())
    assert changed_pairs(a, b) == {("b/api", "a/db"), ("b/api", "a/web")}


def test_a_partial_view_draws_unknown_pairs_as_uncertain_not_denied():
    """Pairs touching a namespace whose policies could not be read are unknown (issue 15's matrix field)."""
    from kubectl_microseg.engine.matrix import Endpoint, Matrix
    from kubectl_microseg.tui.grid import CellState, GridModel

    eps = [Endpoint("a/x", "Deployment", "a", "x", group="a"), Endpoint("b/y", "Deployment", "b", "y", group="b"),
           Endpoint("c/z", "Deployment", "c", "z", group="c")]
    m = Matrix(eps, {}, uncertain_reasons={"b": "networkpolicies in b: forbidden"})
    g = GridModel.from_matrix(m)
    rows = {r.key: r for r in g.rows}
    cols = {c.key: c for c in g.cols}
    assert g.cell(rows["a/x"], cols["b/y"]).state is CellState.UNCERTAIN
    assert g.cell(rows["a/x"], cols["c/z"]).state is CellState.DENIED
    g.collapse_all(True)
    rows = {r.key: r for r in g.rows}
    cols = {c.key: c for c in g.cols}
    assert g.cell(rows["group:a"], cols["group:b"]).state is CellState.UNCERTAIN


def _np(name: str, ns: str, spec: dict):
    from kubectl_microseg.model.objects import SourceObject

    return SourceObject({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                         "metadata": {"name": name, "namespace": ns}, "spec": spec})


@pytest.mark.parametrize("folded", [False, True])
def test_a_patched_grid_equals_one_built_afresh(folded):
    """update_cells keeps its counts per changed pair (the "open to every namespace" risk, the namespace ×
    namespace aggregates): after each live update every cell, folded or not, equals a grid built afresh."""
    from kubectl_microseg.engine.incremental import LiveModel

    model = LiveModel(DemoSource().load().objects)
    grid = GridModel.from_matrix(model.matrix())
    grid.collapse_all(folded)

    def every_cell(g: GridModel) -> dict:
        return {(r.key, c.key): g.cell(r, c) for r in g.rows if r.has_cells for c in g.cols}

    every_cell(grid)  # memoised views and aggregates: the patch must forget exactly what changed
    deny = _np("deny-all", "batch", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    opened = _np("open", "production", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]})
    flips = 0
    for changed, deleted in (([deny], []), ([opened], []), ([], [deny.key()]), ([], [opened.key()])):
        wide = set(grid._wide or ())
        up = model.apply(changed, deleted)
        assert up.pairs
        assert grid.update_cells(model.matrix(), up.pairs) is not None
        flips += wide != grid._wide
        fresh = GridModel.from_matrix(model.matrix())
        fresh.collapse_all(folded)
        assert every_cell(grid) == every_cell(fresh)
    assert flips  # the risk colour of some destination changed on the way
