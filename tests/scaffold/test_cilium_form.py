"""``scaffold KIND --format cilium``: the CiliumNetworkPolicy form of each scaffold has the connectivity of
its NetworkPolicy form. Both are added to the demo cluster without its own policies and the matrices
compared pair by pair (the Cilium form evaluated by the Cilium layer: docs/cilium.md)."""

from __future__ import annotations

import pytest

from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.plugins.manifests import parse_text
from tests.core.util import run_cli

POLICY_KINDS = {"NetworkPolicy", "ClusterNetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy"}

CASES = [
    ["tiers", "-n", "production", "frontend -> api:8080 -> database:5432"],
    ["default-deny", "-n", "staging"],
    ["isolate-namespace", "-n", "staging"],
    ["egress-external", "-n", "production", "-l", "app=frontend", "--ports", "443", "--except", "10.0.0.0/8"],
    ["allow-from-namespace", "-n", "production", "monitoring", "--ports", "9090"],
]


def _scaffold(capsys, argv: list[str], fmt: str) -> str:
    code, out, err = run_cli(capsys, "scaffold", *argv, "--demo", "--impact", "none", "--format", fmt)
    assert code == 0, err
    return out


def _matrix(extra: str):
    base = [o for o in DemoSource().load().objects if o.kind not in POLICY_KINDS]
    return Analyzer(build_cluster(base + parse_text(extra, "scaffold.yaml"))).matrix()


@pytest.mark.parametrize("argv", CASES, ids=lambda a: a[0])
def test_cilium_form_has_the_same_connectivity(argv, capsys):
    np_text = _scaffold(capsys, argv, "networkpolicy")
    cnp_text = _scaffold(capsys, argv, "cilium")
    assert "kind: CiliumNetworkPolicy" in cnp_text and "kind: NetworkPolicy" not in cnp_text
    a, b = _matrix(np_text), _matrix(cnp_text)
    pairs = {k: v.conns for k, v in a.cells.items()}
    assert pairs and pairs == {k: v.conns for k, v in b.cells.items()}


def test_api_tier_gets_an_l7_rule(capsys):
    text = _scaffold(capsys, CASES[0], "cilium")
    assert "http:" in text and "L7 (Cilium)" in text
    m = _matrix(text)
    assert m.cells[("production/frontend", "production/api-server")].l7


def test_cluster_wide_kinds_have_no_cilium_form(capsys):
    code, _out, err = run_cli(capsys, "scaffold", "cluster-guardrails", "--demo", "--impact", "none", "--format", "cilium")
    assert code == 2 and "no Cilium form" in err
