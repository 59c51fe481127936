"""The demo's guardrails are ClusterNetworkPolicies, and one explanation shows every layer of the pipeline."""

from __future__ import annotations

from kubectl_microseg import cli


def test_explain_on_the_demo_shows_admin_pass_networkpolicy_and_baseline_in_one_chain(capsys):
    """report-generator -> coredns: the Admin tier passes it, the Baseline tier accepts the egress (no
    NetworkPolicy isolates the CronJob's egress), coredns' NetworkPolicy accepts the ingress on DNS only."""
    assert cli.main(["explain", "pod", "batch/report-generator", "--to", "kube-system/coredns", "--demo"]) == 0
    lines = [ln.strip() for ln in capsys.readouterr().out.splitlines()]
    assert "egress: not isolated by any NetworkPolicy" in lines
    assert ("cluster-wide policies: [CNP] platform-guardrails (Admin tier), [CNP] default-egress (Baseline tier)"
            in lines)
    head = next(i for i, ln in enumerate(lines) if ln.startswith(("ALLOW", "DENY")))
    assert lines[head] == "ALLOW batch/report-generator -> kube-system/coredns  TCP 53, UDP 53"
    chain = [ln for ln in lines[head + 1:] if ln]
    assert "[Admin tier] [CNP] platform-guardrails egress rule 2 'pass-everything-else': Pass" in chain[0]
    assert "[Baseline tier] [CNP] default-egress egress rule 1 'allow-pods-in-cluster': Accept" in chain[1]
    assert chain[2].startswith("ingress kube-system/coredns ingress rule 1") and "-> TCP 53, UDP 53" in chain[2]
    assert len(chain) == 3


def test_the_demo_uses_no_deprecated_admin_policy(capsys):
    assert cli.main(["matrix", "--demo", "-o", "json"]) == 0
    assert "deprecated" not in capsys.readouterr().out
