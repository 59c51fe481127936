"""The demo's Calico variant (kubectl_microseg/demo/calico): a security tier, a platform tier, a Calico policy
in the default tier, a staged policy and a planted mistake on top of the demo cluster; its expected flows
were derived by hand (see the file)."""

from __future__ import annotations

import json

from tests.core.util import REPO, run_cli

DEMO = REPO / "kubectl_microseg" / "demo"
POLICIES = str(DEMO / "calico" / "policies.yaml")
FILES = ["-f", str(DEMO / "cluster"), "-f", POLICIES]
EXPECT = str(DEMO / "calico" / "expectations.yaml")


def test_expected_flows_pass(capsys):
    code, out, err = run_cli(capsys, "test", *FILES, EXPECT)
    assert code == 0, out + err
    assert "10 passed, 0 failed" in out


def test_the_calico_policies_change_the_verdicts(capsys):
    # without them the security, platform and default-tier flows come out the other way
    code, out, _ = run_cli(capsys, "test", "-f", str(DEMO / "cluster"), EXPECT)
    assert code == 1
    failed = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 4


def test_the_planted_mistake_is_linted(capsys):
    _code, out, _ = run_cli(capsys, "lint", *FILES, "-o", "json")
    found = [f for f in json.loads(out)["findings"] if f["rule"] == "MS040"]
    assert [f["object"] for f in found] == ["GlobalNetworkPolicy platform.grafana-scrape"]


def test_simulate_staged_shows_the_promotion(capsys):
    code, out, err = run_cli(capsys, "simulate", "--base", str(DEMO / "cluster"), "--base", POLICIES, "--staged",
                             "-o", "json")
    assert code == 1, err  # staging/web loses every port but 8080 to staging/api
    doc = json.loads(out)
    changed = {(p["from"], p["to"]): p for p in doc["changed"]}
    assert changed[("staging/web", "staging/api")]["after"] == [{"protocol": "TCP", "port": 8080, "endPort": 8080}]
