"""``scaffold KIND --format calico``: the Calico form of each scaffold (a projectcalico.org/v3 NetworkPolicy
in the default tier at order 1000, where Calico evaluates Kubernetes NetworkPolicies: tiered-policy page) has
the connectivity of its NetworkPolicy form. Both are added to the demo cluster without its own policies and
the matrices compared pair by pair (the Calico form evaluated through the Calico tiers: docs/calico.md)."""

from __future__ import annotations

import pytest

from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.plugins.manifests import parse_text
from kubectl_microseg.scaffold.calico_form import selector
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
def test_calico_form_has_the_same_connectivity(argv, capsys):
    np_text = _scaffold(capsys, argv, "networkpolicy")
    calico_text = _scaffold(capsys, argv, "calico")
    assert "apiVersion: projectcalico.org/v3" in calico_text and "networking.k8s.io" not in calico_text
    a, b = _matrix(np_text), _matrix(calico_text)
    pairs = {k: v.conns for k, v in a.cells.items()}
    assert pairs and pairs == {k: v.conns for k, v in b.cells.items()}


def test_label_selector_in_calico_language():
    assert selector({}) == "all()"
    assert selector({"matchLabels": {"app": "x"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "t", "operator": "NotIn", "values": ["c"]},
        {"key": "e", "operator": "Exists"}, {"key": "d", "operator": "DoesNotExist"}]}) == \
        "app == 'x' && tier in {'a', 'b'} && t not in {'c'} && has(e) && !has(d)"


def test_cluster_wide_kinds_have_no_calico_form(capsys):
    code, _out, err = run_cli(capsys, "scaffold", "cluster-guardrails", "--demo", "--impact", "none", "--format", "calico")
    assert code == 2 and "no Calico form" in err
