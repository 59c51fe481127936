"""Golden explain outputs of a Calico cluster (tests/golden/calico.yaml): the chain tier -> policy -> rule ->
action per direction (Tier reference, "How policy is evaluated")."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubectl_microseg import cli

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


@pytest.mark.parametrize("argv, golden", [
    # security tier: Deny from dev namespaces decides before the default tier's Kubernetes allow
    (["sandbox/tester", "--to", "shop/db", "--port", "5432"], "calico.explain-deny.txt"),
    # Pass, Pass, then the Kubernetes NetworkPolicy at order 1000 in the default tier; the rest: defaultAction
    (["shop/api", "--to", "shop/db", "--port", "5432"], "calico.explain-pass.txt"),
])
def test_explain_golden(argv, golden, capsys, monkeypatch):
    monkeypatch.chdir(GOLDEN)
    code = cli.main(["explain", "-f", "calico.yaml", "workload", *argv])
    out = capsys.readouterr().out
    assert code == 0
    assert out == (GOLDEN / golden).read_text()
