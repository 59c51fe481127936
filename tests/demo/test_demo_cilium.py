"""The demo's Cilium variant (kubectl_microseg/demo/cilium): a CCNP baseline, a deny rule, an entities rule
and an L7 rule on top of the demo cluster; its expected flows were derived by hand (see the file)."""

from __future__ import annotations

import json

from tests.core.util import REPO, run_cli

DEMO = REPO / "kubectl_microseg" / "demo"
FILES = ["-f", str(DEMO / "cluster"), "-f", str(DEMO / "cilium" / "policies.yaml")]
EXPECT = str(DEMO / "cilium" / "expectations.yaml")


def test_expected_flows_pass(capsys):
    code, out, err = run_cli(capsys, "test", *FILES, EXPECT)
    assert code == 0, out + err
    assert "12 passed, 0 failed" in out


def test_the_cilium_policies_change_the_verdicts(capsys):
    # without them the deny, entities flows come out the other way: the variant is not a no-op
    code, out, _ = run_cli(capsys, "test", "-f", str(DEMO / "cluster"), EXPECT)
    assert code == 1
    failed = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 3
    assert any("production/postgresql" in line for line in failed)
    assert any("203.0.113.10 TCP/443" in line for line in failed)


def test_l7_cells_are_marked(capsys):
    code, out, err = run_cli(capsys, "matrix", *FILES, "-A", "-o", "json")
    assert code == 0, err
    cells = {(c["from"], c["to"]): c for c in json.loads(out)["connections"]}
    # the baseline's dns rule filters DNS where no L4-only rule names port 53: report-generator, which no
    # NetworkPolicy selects (an L7 rule of a policy with enableDefaultDeny off still filters its port)
    assert cells[("batch/report-generator", "kube-system/coredns")].get("l7Filtered") is True
    assert "l7Filtered" not in cells[("staging/web", "kube-system/coredns")]  # staging names UDP/TCP 53
    # docs.cilium.io, Layer 7 Policies: "If a layer 4 rule is specified in the policy, and a similar layer 4
    # rule with layer 7 rules is also specified, then the layer 7 portions of the latter rule will have no
    # effect": production/api-tier (NetworkPolicy) names port http for the frontend, production/allow-dns
    # names port 53, so the api-l7 and dns rules let every request through there
    assert "l7Filtered" not in cells[("production/frontend", "production/api-server")]
    assert "l7Filtered" not in cells[("production/frontend", "kube-system/coredns")]
    assert "l7Filtered" not in cells[("monitoring/prometheus", "production/api-server")]


def test_simulate_adding_the_cilium_policies_names_the_rules(capsys):
    code, out, err = run_cli(capsys, "simulate", "--demo", "-f", str(DEMO / "cilium" / "policies.yaml"))
    assert code == 1, err  # flows become denied
    assert "add CiliumClusterwideNetworkPolicy baseline-dns" in out
    assert "because cnp:production/no-scrape-of-data-tier ingress rule 1 'ingressDeny' now denies TCP 8080,9090" in out
    assert "because cnp:production/frontend-to-world egress rule 1 now allows TCP 443" in out
