"""Least privilege: deploy/rbac.yaml is minimal, and the tool works under exactly those roles against the
fake API server enforcing them; credentials from the kubeconfig never appear in any output, including
debug logging and error messages."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import pytest
import yaml

from kubectl_microseg.cli import main
from tests.fakeapi import FakeApiServer
from tests.fakeapi.fixtures import fake_api, fake_kubeconfig, isolated_kubeconfig  # noqa: F401
from tests.fakeapi.rbac import Rule
from tests.simulate.helpers import DEMO

REPO = Path(__file__).resolve().parents[2]
RBAC = REPO / "deploy" / "rbac.yaml"
VIEW_RESOURCES = {"namespaces", "pods", "deployments", "statefulsets", "daemonsets", "replicasets",
                  "replicationcontrollers", "jobs", "cronjobs", "networkpolicies", "clusternetworkpolicies", "adminnetworkpolicies",
                  "baselineadminnetworkpolicies",
                  "ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies", "ciliumcidrgroups",  # Cilium layer
                  "authorizationpolicies", "peerauthentications",  # Istio mesh layer
                  "serviceaccounts",  # their labels, for Calico's service-account matches
                  "tiers", "globalnetworkpolicies", "globalnetworksets", "networksets",  # Calico tiers
                  "stagedglobalnetworkpolicies", "stagednetworkpolicies", "stagedkubernetesnetworkpolicies"}


def roles() -> dict[str, dict]:
    return {d["metadata"]["name"] + "/" + d["kind"]: d for d in yaml.safe_load_all(RBAC.read_text()) if d}


def role_rules(name: str, namespace: str | None = None) -> list[Rule]:
    role = roles()[f"{name}/ClusterRole"]
    return [Rule(v, r, namespace) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    old = signal.getsignal(signal.SIGPIPE)
    try:
        code = main(list(argv))
    finally:
        signal.signal(signal.SIGPIPE, old)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def demo_cluster(fake_api: FakeApiServer, fake_kubeconfig) -> FakeApiServer:  # noqa: F811
    fake_api.load_yaml(*(p.read_text() for p in sorted(DEMO.glob("*.yaml"))))
    return fake_api


def test_view_role_is_exactly_read_only_on_the_model_kinds() -> None:
    view = roles()["microseg-view/ClusterRole"]
    resources = {r for rule in view["rules"] for r in rule["resources"]}
    assert resources == VIEW_RESOURCES
    assert all(sorted(rule["verbs"]) == ["get", "list", "watch"] for rule in view["rules"])
    assert not any("*" in rule["resources"] + rule["verbs"] + rule["apiGroups"] for rule in view["rules"])
    apply = roles()["microseg-apply/ClusterRole"]
    assert apply["rules"] == [{"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"],
                               "verbs": ["get", "list", "create", "patch"]}]
    assert "secret" not in RBAC.read_text().lower().replace("no secrets", "")


CLUSTER_SCOPED_RBAC = {"ClusterRole", "ClusterRoleBinding"}


def test_rbac_file_applies_on_any_cluster() -> None:
    """Nothing in deploy/rbac.yaml names a namespace (a RoleBinding in `production` failed on clusters without
    one); the per-namespace binding of the apply role is a commented example that parses as a RoleBinding."""
    docs = [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
    assert {d["kind"] for d in docs} <= CLUSTER_SCOPED_RBAC
    assert not any("namespace" in d["metadata"] for d in docs)
    text = RBAC.read_text()
    example = text[text.index("# Example (not applied)"):]
    body = "\n".join(line[2:] for line in example.splitlines() if (line.startswith("# ") and ":" in line)
                     or line.startswith("#   "))
    binding = yaml.safe_load(body[body.index("apiVersion"):])
    assert binding["kind"] == "RoleBinding" and binding["roleRef"]["name"] == "microseg-apply"


def test_views_work_under_the_view_role_alone(demo_cluster: FakeApiServer, capsys) -> None:
    code, full, err = run(capsys, "matrix", "-o", "json")
    assert code == 0, err
    demo_cluster.rbac.restrict(*role_rules("microseg-view"))
    demo_cluster.requests.clear()
    code, restricted, err = run(capsys, "matrix", "-o", "json")
    assert code == 0, err
    assert restricted == full
    assert "uncertain" not in err
    # discovery of a group the cluster does not have (Calico's here) answers 404 to anyone: not a permission
    refused = [r for r in demo_cluster.requests if r.status != 200 and not (r.status == 404 and not r.verb)]
    assert not refused, "the tool asked for something the role does not grant"
    code, _, err = run(capsys, "explain", "workload", "production/api-server", "--from", "production/frontend")
    assert code == 0, err


def test_a_role_missing_one_resource_is_noticed(demo_cluster: FakeApiServer, capsys) -> None:
    """So that the test above can fail: without networkpolicies the views say the data is uncertain."""
    demo_cluster.rbac.restrict(*[r for r in role_rules("microseg-view") if r.resource != "networkpolicies"])
    _code, out, err = run(capsys, "matrix")
    assert "networkpolicies" in (out + err).lower() or "uncertain" in (out + err).lower()


def test_apply_works_under_view_plus_apply_roles(demo_cluster: FakeApiServer, tmp_path: Path, capsys) -> None:
    demo_cluster.rbac.restrict(*role_rules("microseg-view"), *role_rules("microseg-apply", "production"))
    f = tmp_path / "p.yaml"
    f.write_text("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: extra, namespace: production}\n"
                 "spec: {podSelector: {matchLabels: {app: nothing}}, policyTypes: [Ingress]}\n")
    code, out, err = run(capsys, "apply", "-f", str(f), "--yes")
    assert code == 0, err
    assert demo_cluster.get("networking.k8s.io/v1", "NetworkPolicy", "extra", "production") is not None
    # the same outside the namespace the apply role is bound in: refused by the server, reported, nothing half-done
    g = tmp_path / "q.yaml"
    g.write_text(f.read_text().replace("production", "staging"))
    code, out, err = run(capsys, "apply", "-f", str(g), "--yes")
    assert code != 0
    assert "forbidden" in (out + err).lower()
    assert demo_cluster.get("networking.k8s.io/v1", "NetworkPolicy", "extra", "staging") is None


SECRETS = ("s3cr3t-bearer-token", "c2VjcmV0LWNsaWVudC1rZXk", "hunter2-password")


def _kubeconfig_with_secrets(path: Path, server: str, token: bool = True) -> Path:
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
           "clusters": [{"name": "c", "cluster": {"server": server}}],
           "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
           "users": [{"name": "u", "user": {"token": SECRETS[0]} if token else
                      {"username": "admin", "password": SECRETS[2], "client-key-data": SECRETS[1],
                       "client-certificate-data": SECRETS[1]}}]}
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("case", ["ok", "unreachable", "unauthorized", "forbidden", "bad-credentials"])
def test_credentials_never_appear_in_output_or_debug_logs(case: str, fake_api: FakeApiServer,  # noqa: F811
                                                         isolated_kubeconfig: Path, monkeypatch, capsys,  # noqa: F811
                                                         caplog) -> None:
    caplog.set_level(logging.DEBUG)  # every logger (urllib3, kubernetes client, ours) at debug level
    fake_api.token = SECRETS[0] if case != "unauthorized" else "another-token"
    fake_api.load_yaml((DEMO / "production.yaml").read_text())
    if case == "forbidden":
        fake_api.rbac.restrict(("list", "namespaces"))
    server = "http://127.0.0.1:9" if case == "unreachable" else fake_api.url
    cfg = _kubeconfig_with_secrets(isolated_kubeconfig / "kc", server, token=case != "bad-credentials")
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    code, out, err = run(capsys, "matrix", "--request-timeout", "2s")
    text = out + err + caplog.text
    for s in SECRETS:
        assert s not in text, (case, s)
    if case == "ok":
        assert code == 0, err
    elif case == "forbidden":  # degrades: the matrix with warnings (in the output) on what could not be read
        assert code == 0 and "WARNING: Pods: cannot list in any namespace (forbidden)" in out, out
    else:
        assert code in (2, 3) and "Traceback" not in err, (code, err)
