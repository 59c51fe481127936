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


@pytest.mark.parametrize("kinds", [[["default-deny"], ["allow-dns"]], [["default-deny", "--direction", "ingress"]],
                                   [["allow-dns"]]], ids=["deny-with-dns", "deny-ingress", "dns-only"])
def test_cluster_wide_form_has_the_connectivity_of_the_intent(kinds, capsys):
    """``--cluster-wide --format calico`` writes a Tier ordered after Calico's default tier and one
    GlobalNetworkPolicy selecting every pod outside the system namespaces (Tier reference: a tier applies to
    the endpoints its policies select, its end denies unless defaultAction Pass; tiered-policy page: the
    default tier, order 1,000,000, holds the Kubernetes NetworkPolicies). Its matrix equals the intent: the
    NetworkPolicy scaffolds of the same kinds in every non-system namespace (-A)."""
    calico_argv = kinds[0] + ["--cluster-wide"]
    calico_text = _scaffold(capsys, calico_argv, "calico")
    docs = list(parse_text(calico_text, "cluster.yaml"))
    assert [d.kind for d in docs] == ["Tier", "GlobalNetworkPolicy"]
    assert docs[0].raw["spec"] == {"order": 2000000, "defaultAction": "Deny"}
    assert "# DNS" in calico_text or kinds == [["default-deny", "--direction", "ingress"]]
    intent = "".join(_scaffold(capsys, k + ["-A"], "networkpolicy") for k in kinds)
    a, b = _matrix(intent), _matrix(calico_text)
    pairs = {k: v.conns for k, v in a.cells.items()}
    assert pairs == {k: v.conns for k, v in b.cells.items()}
    assert pairs != {k: v.conns for k, v in _matrix("").cells.items()}  # it does deny something


def test_cluster_wide_needs_the_calico_form(capsys):
    code, _, err = run_cli(capsys, "scaffold", "default-deny", "--cluster-wide", "--demo", "--impact", "none")
    assert code == 2 and "--format calico" in err
    code, _, err = run_cli(capsys, "scaffold", "allow-dns", "-A", "--cluster-wide", "--format", "calico", "--demo")
    assert code == 2 and "every namespace" in err


def test_cluster_wide_form_is_previewed_as_a_matrix_diff(capsys):
    code, out, err = run_cli(capsys, "scaffold", "default-deny", "--cluster-wide", "--format", "calico", "--demo")
    assert code == 0 and "kind: GlobalNetworkPolicy" in out
    assert "newly denied pairs: " in err and "newly denied pairs: 0" not in err
    assert "GlobalNetworkPolicy cluster-default.default-deny-allow-dns now isolates" in err
