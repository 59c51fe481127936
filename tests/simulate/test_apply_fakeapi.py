"""``apply`` against the fake API server: diff, confirmation, dry run first, server-side apply, failures.

The fake server (tests/fakeapi) speaks the real REST protocol, including server-side apply with
``dryRun=All`` and ``fieldManager``, and records every request: the assertions are on those requests.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from kubectl_microseg.plugins.kube.apply import PolicyApplier, apply_body
from kubectl_microseg.plugins.kube.config import connect
from tests.fakeapi import FakeApiServer, RecordedRequest

from .helpers import DEFAULT_DENY_BATCH, DEMO, WIDEN_DATABASE, deny_batch_cuts, run, write

NETPOL = ("networking.k8s.io/v1", "NetworkPolicy")

TWO_MORE = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: batch}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
          podSelector: {matchLabels: {k8s-app: kube-dns}}
      ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: report-egress, namespace: batch}
spec:
  podSelector: {matchLabels: {app: report-generator}}
  policyTypes: [Egress]
  egress:
    - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]
      ports: [{protocol: TCP, port: 443}]
"""


class Terminal(io.StringIO):
    """A stdin that is a terminal, with the user's answer already typed."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def cluster(fake_api: FakeApiServer, fake_kubeconfig: Path) -> FakeApiServer:
    """The fake API server holding the demo cluster (and a kubeconfig pointing at it)."""
    for f in sorted(DEMO.glob("*.yaml")):
        fake_api.load_yaml(f.read_text())
    fake_api.requests.clear()
    return fake_api


@pytest.fixture
def deny_batch(tmp_path: Path) -> Path:
    return write(tmp_path / "deny-batch.yaml", DEFAULT_DENY_BATCH)


def writes(api: FakeApiServer) -> list[RecordedRequest]:
    """Every request that could change something (anything but get/list/watch)."""
    return [r for r in api.requests if r.method not in ("GET", "HEAD")]


def test_yes_dry_runs_then_applies_with_the_field_manager(cluster: FakeApiServer, deny_batch: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["apply", "-f", str(deny_batch), "--allow-breaking", "--yes"], capsys)
    assert code == 0, err
    assert f"newly denied ({deny_batch_cuts()})" in out                                      # the diff is shown first
    assert out.index("Connectivity diff") < out.index("server-side dry run:") < out.index("apply:")
    assert "NetworkPolicy batch/default-deny-all created (dry run)" in out
    assert "  NetworkPolicy batch/default-deny-all created\n" in out
    w = writes(cluster)
    assert [(r.method, r.query.get("dryRun")) for r in w] == [("PATCH", "All"), ("PATCH", None)]
    for r in w:
        assert r.path == "/apis/networking.k8s.io/v1/namespaces/batch/networkpolicies/default-deny-all"
        assert r.query["fieldManager"] == "kubectl-microseg"
        assert r.headers["Content-Type"].startswith("application/apply-patch+yaml")
        assert r.json()["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    stored = cluster.get(*NETPOL, "default-deny-all", "batch")
    assert stored is not None
    assert [m["manager"] for m in stored["metadata"]["managedFields"]] == ["kubectl-microseg"]


def test_reapplying_is_idempotent(cluster: FakeApiServer, deny_batch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["apply", "-f", str(deny_batch), "--allow-breaking", "--yes"], capsys)[0] == 0
    first = cluster.get(*NETPOL, "default-deny-all", "batch")
    code, out, _ = run(["apply", "-f", str(deny_batch), "--allow-breaking", "--yes"], capsys)
    assert code == 0
    assert "no connectivity changes" in out
    assert "NetworkPolicy batch/default-deny-all unchanged (dry run)" in out
    assert "  NetworkPolicy batch/default-deny-all unchanged\n" in out
    again = cluster.get(*NETPOL, "default-deny-all", "batch")
    assert again["spec"] == first["spec"]
    assert [m["manager"] for m in again["metadata"]["managedFields"]] == ["kubectl-microseg"]


def test_changing_an_existing_policy_is_configured(cluster: FakeApiServer, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    widen = write(tmp_path / "widen.yaml", WIDEN_DATABASE)
    code, out, _ = run(["apply", "-f", str(widen), "--allow-breaking", "--yes"], capsys)
    assert code == 0
    assert "+ batch/report-generator -> production/postgresql: TCP 5432 (was denied)" in out
    assert "NetworkPolicy production/database-tier configured" in out
    stored = cluster.get(*NETPOL, "database-tier", "production")
    assert stored["spec"]["ingress"][0]["from"] == [{"namespaceSelector": {}}]


def test_nothing_is_sent_when_the_user_declines(cluster: FakeApiServer, deny_batch: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    code, out, err = run(["apply", "-f", str(deny_batch), "--allow-breaking"], capsys)
    assert code == 1
    assert f"newly denied ({deny_batch_cuts()})" in out                                      # the user saw the diff
    assert "Apply 1 NetworkPolicy object(s) to context fake" in err and "[y/N]" in err
    assert "Not applied: no change was sent to the cluster." in err
    assert writes(cluster) == []
    assert cluster.get(*NETPOL, "default-deny-all", "batch") is None


def test_yes_on_the_terminal_applies(cluster: FakeApiServer, deny_batch: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    code, _, _ = run(["apply", "-f", str(deny_batch), "--allow-breaking"], capsys)
    assert code == 0
    assert [r.query.get("dryRun") for r in writes(cluster)] == ["All", None]


def test_no_terminal_and_no_yes_refuses(cluster: FakeApiServer, deny_batch: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))                    # piped input is not a confirmation
    code, _, err = run(["apply", "-f", str(deny_batch), "--allow-breaking"], capsys)
    assert code == 2
    assert "refusing to apply without confirmation" in err and "--yes" in err
    assert writes(cluster) == []


def test_failure_halfway_reports_exactly_what_was_applied(cluster: FakeApiServer, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    files = write(tmp_path / "batch.yaml", DEFAULT_DENY_BATCH + "---\n" + TWO_MORE)
    # the dry runs and the first real apply pass; the second real apply gets a 500
    real_applies = []

    def second_real_apply(query: dict[str, str]) -> bool:
        if query.get("dryRun"):
            return False
        real_applies.append(query)
        return len(real_applies) == 2

    cluster.faults.fail(500, verb="patch", resource="networkpolicies", when=second_real_apply)
    code, out, err = run(["apply", "-f", str(files), "--allow-breaking", "--yes"], capsys)
    assert code == 3                                                        # the server failed: exit 3
    w = writes(cluster)
    assert [(r.path.rsplit("/", 1)[1], r.query.get("dryRun"), r.status) for r in w] == [
        ("default-deny-all", "All", 201), ("allow-dns", "All", 201), ("report-egress", "All", 201),
        ("default-deny-all", None, 201), ("allow-dns", None, 500)]
    assert "  NetworkPolicy batch/default-deny-all created\n" in out
    assert "error: applying NetworkPolicy batch/allow-dns:" in err and "HTTP 500" in err
    assert "Stopped. Applied before the failure: NetworkPolicy batch/default-deny-all (created)." in err
    assert "Not applied: NetworkPolicy batch/allow-dns (failed), NetworkPolicy batch/report-egress." in err
    assert cluster.get(*NETPOL, "default-deny-all", "batch") is not None
    assert cluster.get(*NETPOL, "allow-dns", "batch") is None
    assert cluster.get(*NETPOL, "report-egress", "batch") is None


def test_a_failed_dry_run_applies_nothing(cluster: FakeApiServer, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    files = write(tmp_path / "two.yaml", WIDEN_DATABASE + "---\n" + DEFAULT_DENY_BATCH)
    cluster.rbac.deny("patch", "networkpolicies", namespace="batch")
    code, out, err = run(["apply", "-f", str(files), "--allow-breaking", "--yes"], capsys)
    assert code == 2                                                        # a refusal by the server: exit 2
    assert "server-side dry run of NetworkPolicy batch/default-deny-all" in err and "forbidden" in err
    assert "Nothing was applied" in err and "kubectl auth can-i" in err
    w = writes(cluster)
    assert [r.query.get("dryRun") for r in w] == ["All", "All"]             # dry runs only, no real apply
    assert "apply:" not in out
    assert cluster.get(*NETPOL, "database-tier", "production")["spec"]["ingress"][0]["from"] != [
        {"namespaceSelector": {}}]


def test_dry_run_flag_changes_nothing_and_needs_no_confirmation(cluster: FakeApiServer, deny_batch: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, _ = run(["apply", "-f", str(deny_batch), "--allow-breaking", "--dry-run"], capsys)
    assert code == 0 and "Dry run only: nothing was changed." in out
    assert [r.query.get("dryRun") for r in writes(cluster)] == ["All"]
    assert cluster.get(*NETPOL, "default-deny-all", "batch") is None


def test_conflict_with_another_manager_needs_force(cluster: FakeApiServer, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    widen = write(tmp_path / "widen.yaml", WIDEN_DATABASE)
    # someone else (field manager platform-team) applied database-tier with another selector
    theirs = yaml.safe_load(WIDEN_DATABASE.replace("namespaceSelector: {}", "namespaceSelector: {matchLabels: {a: b}}"))
    PolicyApplier(connect(), field_manager="platform-team").apply(apply_body(theirs, "production"), dry_run=False)
    code, _, err = run(["apply", "-f", str(widen), "--allow-breaking", "--yes"], capsys)
    assert code == 2 and "HTTP 409" in err and "--force-conflicts" in err and "Nothing was applied" in err
    code, out, _ = run(["apply", "-f", str(widen), "--allow-breaking", "--yes", "--force-conflicts"], capsys)
    assert code == 0 and "NetworkPolicy production/database-tier configured" in out
    assert [r.query.get("force") for r in writes(cluster)[-2:]] == ["true", "true"]


@pytest.mark.parametrize("extra, message", [
    (["--demo"], "apply changes a live cluster"),
    (["--base", "somewhere"], "cannot use --base"),
])
def test_refuses_without_a_live_cluster(extra: list[str], message: str, deny_batch: Path, isolated_kubeconfig: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["apply", "-f", str(deny_batch), "--yes", *extra], capsys)
    assert code == 2 and message in err


def test_no_kubeconfig_exits_3(deny_batch: Path, isolated_kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["apply", "-f", str(deny_batch), "--yes"], capsys)
    assert code == 3 and "connection to the server" in err


def test_only_network_policies_are_applied(cluster: FakeApiServer, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path / "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
    code, _, err = run(["apply", "-f", str(f), "--yes"], capsys)
    assert code == 2 and "apply only applies NetworkPolicies, not Namespace x" in err
    assert cluster.requests == []                                           # refused before contacting the cluster


@pytest.mark.parametrize("change, why", [
    ("deny_batch", "flow(s) lose connectivity"),                   # newly denied flows (and a dns-broken guard)
    ("widen", "guard finding(s) (open-to-cluster)"),               # the database opened to every namespace
])
def test_yes_does_not_accept_a_breaking_change(change: str, why: str, cluster: FakeApiServer, deny_batch: Path,
                                               tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = deny_batch if change == "deny_batch" else write(tmp_path / "widen.yaml", WIDEN_DATABASE)
    code, out, err = run(["apply", "-f", str(f), "--yes"], capsys)
    assert code == 1, err
    assert "Refusing to apply: " in err and why in err and "--allow-breaking" in err
    assert "Connectivity diff" in out                                            # the reason is shown first
    assert writes(cluster) == []                                                 # nothing sent, not even a dry run
