"""``simulate`` on the command line: output formats and the exit codes a CI job gates on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .helpers import DEFAULT_DENY_BATCH, DEMO, WIDEN_DATABASE, deny_batch_cuts, run, write


@pytest.fixture
def deny_batch(tmp_path: Path) -> Path:
    return write(tmp_path / "deny-batch.yaml", DEFAULT_DENY_BATCH)


def test_breaking_change_exits_1_and_lists_the_cuts(deny_batch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["simulate", "--demo", "-f", str(deny_batch)], capsys)
    assert code == 1
    assert "namespace batch" in out and f"newly denied ({deny_batch_cuts()})" in out
    assert "- batch/report-generator -> kube-system/coredns: TCP 53, UDP 53 (was allowed)" in out
    assert "because batch/default-deny-all now isolates the source for egress" in out
    assert "- anywhere outside the cluster -> batch/nightly-etl: all (was allowed)" in out
    assert "! dns-broken: batch/report-generator can no longer reach DNS" in out
    assert "flow(s) lose connectivity" in err and "become denied" in err


def test_allow_breaking_exits_0(deny_batch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["simulate", "--demo", "-f", str(deny_batch), "--allow-breaking"], capsys)
    assert code == 0 and "newly denied" in out


def test_only_new_flows_exit_0_unless_guards_are_fatal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    widen = write(tmp_path / "widen.yaml", WIDEN_DATABASE)
    code, out, _ = run(["simulate", "--demo", "-f", str(widen)], capsys)
    assert code == 0
    assert "+ batch/report-generator -> production/postgresql: TCP 5432 (was denied)" in out
    assert "because production/database-tier ingress rule 1 now allows TCP 5432" in out
    code, _, _ = run(["simulate", "--demo", "-f", str(widen), "--fail-on-guard"], capsys)
    assert code == 1


def test_json_output(deny_batch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["simulate", "--demo", "-f", str(deny_batch), "-o", "json"], capsys)
    assert code == 1
    doc = json.loads(out)
    assert doc["kind"] == "ConnectivityDiff"
    n = deny_batch_cuts()
    assert doc["summary"]["removed"] == n and doc["summary"]["breaking"] == n
    assert doc["changes"] == [f"add NetworkPolicy batch/default-deny-all ({deny_batch}, document 1)"]
    item = next(p for p in doc["removed"] if p["to"] == "kube-system/coredns")
    assert item["from"] == "batch/report-generator" and item["after"] == [] and item["namespace"] == "batch"
    assert item["newlyDenied"] == [{"protocol": "TCP", "port": 53, "endPort": 53},
                                   {"protocol": "UDP", "port": 53, "endPort": 53}]
    assert item["causes"][0]["policy"] == "batch/default-deny-all" and item["causes"][0]["change"] == "isolates"
    assert [f["kind"] for f in doc["findings"]] == ["dns-broken"]


def test_markdown_output_for_a_pull_request(deny_batch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["simulate", "--demo", "-f", str(deny_batch), "-o", "markdown"], capsys)
    assert code == 1
    assert out.startswith("### Connectivity diff\n")
    assert f":x: **breaks connectivity**: {deny_batch_cuts()} newly denied" in out
    assert "#### Namespace `batch`" in out
    row = "| :no_entry: denied | `batch/report-generator` | `kube-system/coredns` | TCP 53, UDP 53 (was allowed) |"
    assert row in out


def test_delete_and_base_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "cluster"
    shutil.copytree(DEMO, base)
    code, out, _ = run(["simulate", "--base", str(base), "--delete", "production/allow-dns", "-o", "json"], capsys)
    assert code == 1
    doc = json.loads(out)
    assert doc["before"] == f"base: {base}"
    assert {p["to"] for p in doc["removed"]} == {"kube-system/coredns"}
    assert doc["changes"] == ["delete NetworkPolicy production/allow-dns"]


def test_namespace_filter(deny_batch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["simulate", "--demo", "-f", str(deny_batch), "-n", "kube-system", "-o", "json"], capsys)
    doc = json.loads(out)
    assert code == 1
    assert doc["removed"] and all("kube-system/" in p["from"] + p["to"] for p in doc["removed"])


@pytest.mark.parametrize("argv, message", [
    (["simulate", "--demo"], "nothing to simulate"),
    (["simulate", "--demo", "--delete", "production/nope"], "no NetworkPolicy production/nope"),
    (["simulate", "--demo", "--delete", "a/b/c"], "NAMESPACE/NAME"),
    (["simulate", "--demo", "-f", "/no/such/file.yaml"], "/no/such/file.yaml: no such file"),
])
def test_bad_input_exits_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2 and message in err and out == ""


def test_invalid_changed_policy_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path / "bad.yaml", """\
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: x, namespace: batch}
        spec:
          podSelector: {}
          ingress:
            - ports: [{port: 70000}]
        """)
    code, _, err = run(["simulate", "--demo", "-f", str(bad)], capsys)
    assert code == 2 and f"{bad}, document 1, line" in err


def test_expectations_file_guard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flows = write(tmp_path / "flows.yaml", """\
        flows:
          - {from: production/api-server, to: kube-system/coredns, port: 53, protocol: UDP, expect: allow}
          - {from: production/frontend, to: production/api-server, port: 8080, expect: allow}
        """)
    code, out, _ = run(["simulate", "--demo", "--delete", "production/allow-dns", "--expect", str(flows),
                        "-o", "json"], capsys)
    assert code == 1
    cut = [f for f in json.loads(out)["findings"] if f["kind"] == "expectation-cut"]
    assert [f["subject"] for f in cut] == ["production/api-server -> kube-system/coredns UDP/53"]


def test_an_expected_flow_naming_no_workload_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in --expect must not switch the guard off silently: exit 2 as `test` does."""
    flows = write(tmp_path / "flows.yaml", """\
        flows:
          - {from: batch/report-generatr, to: pci/payment-service, port: 8080, expect: deny}
        """)
    code, _, err = run(["simulate", "--demo", "--delete", "production/allow-dns", "--expect", str(flows)], capsys)
    assert code == 2 and "report-generatr" in err and "Traceback" not in err


def test_unreachable_live_base_exits_3(deny_batch: Path, isolated_kubeconfig: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["simulate", "-f", str(deny_batch)], capsys)
    assert code == 3 and "connection to the server" in err


def test_dns_broken_names_coredns_and_its_upstream(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 15: cutting CoreDNS's own egress breaks every name outside the cluster; the guard says so."""
    code, out, _ = run(["simulate", "--demo", "--delete", "kube-system/coredns"], capsys)
    assert code == 1
    assert ("dns-broken: the cluster DNS server kube-system/coredns (CoreDNS) can no longer reach its upstream "
            "resolvers outside the cluster over TCP and UDP port 53") in out
    assert "can no longer reach DNS (CoreDNS: kube-system/coredns)" in out


def test_open_to_cluster_guard_names_the_sensitive_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _code, out, _ = run(["simulate", "--demo", "-f", str(write(tmp_path / "w.yaml", WIDEN_DATABASE))], capsys)
    assert "open-to-cluster: production/postgresql now accepts connections from every pod of every namespace" in out
    assert "sensitive: PostgreSQL (TCP 5432)" in out
