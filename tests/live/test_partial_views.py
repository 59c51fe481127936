"""Never a silent wrong answer (issue 15): typos, forbidden lists and unserved APIs, through the CLI.

Every case here once produced a clean-looking answer with exit 0 ("0 endpoints", "0 finding(s)", an empty
table). The permission cases run against tests/fakeapi with RBAC enforced as the API server does:
authorization first (a reader gets 403 even for an API that is not served), then routing (404).
"""

from __future__ import annotations

import json
import signal

import pytest

from kubectl_microseg.cli import main
from tests.fakeapi import FakeApiServer
from tests.fakeapi.fixtures import fake_api, fake_kubeconfig, isolated_kubeconfig  # noqa: F401
from tests.live.helpers import ns, pod

ADMIN = (("list", "clusternetworkpolicies"), ("list", "adminnetworkpolicies"), ("list", "baselineadminnetworkpolicies"),
         ("list", "ciliumnetworkpolicies"), ("list", "ciliumclusterwidenetworkpolicies"), ("list", "ciliumcidrgroups"))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    old = signal.getsignal(signal.SIGPIPE)
    try:
        code = main(list(argv))
    finally:
        signal.signal(signal.SIGPIPE, old)
    out = capsys.readouterr()
    return code, out.out, out.err


# ----------------------------------------------------------------------------------------- typos
@pytest.mark.parametrize("command", ["matrix", "lint", "get", "explain pod frontend"])
def test_a_namespace_typo_is_an_error_with_the_closest_name(command: str, capsys) -> None:
    code, out, err = run(capsys, *command.split(), "--demo", "-n", "prodution")
    assert code == 2, out
    assert 'namespace "prodution" is not in demo cluster (did you mean "production"?)' in err
    assert out == ""


def test_a_selector_that_selects_nothing_is_an_error(capsys) -> None:
    code, out, err = run(capsys, "matrix", "--demo", "-l", "app=nosuch")
    assert code == 2 and "-l app=nosuch selects no workload" in err and out == ""
    code, out, _ = run(capsys, "matrix", "--demo", "-l", "app=frontend")
    assert code == 0 and "production/frontend" in out


def test_a_namespace_without_workloads_is_said_in_the_output(tmp_path, capsys) -> None:
    f = tmp_path / "ns.yaml"
    f.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: empty}\n")
    code, out, _ = run(capsys, "matrix", "-f", str(f), "-n", "empty")
    assert code == 0 and 'WARNING: namespace "empty" has no workloads' in out


# ------------------------------------------------------------------------------------ permissions
@pytest.fixture
def retail(fake_api: FakeApiServer, fake_kubeconfig) -> FakeApiServer:  # noqa: F811
    fake_api.add(ns("retail", team="retail"), ns("kube-system"), ns("shop", team="shop"),
                 pod("web", "retail", "10.0.0.5", app="web"),
                 pod("coredns", "kube-system", "10.0.0.2", **{"k8s-app": "kube-dns"}),
                 pod("cart", "shop", "10.0.0.7", app="cart"),
                 {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                  "metadata": {"name": "web", "namespace": "retail"},
                  "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress", "Egress"],
                           "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "shop"}}}]}],
                           "egress": [{"to": [{"namespaceSelector": {"matchLabels":
                                                                      {"kubernetes.io/metadata.name": "kube-system"}}}],
                                       "ports": [{"protocol": "UDP", "port": 53}]}]}},
                 {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                  "metadata": {"name": "deny", "namespace": "shop"},
                  "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
    return fake_api


@pytest.mark.parametrize("command", ["get", "lint", "matrix", "audit", "explain pod web"])
def test_no_read_rights_at_all_is_exit_3_not_an_empty_cluster(command: str, retail: FakeApiServer, capsys) -> None:
    retail.rbac.restrict(("get", "nothing"))
    code, out, err = run(capsys, *command.split())
    assert code == 3, out + err
    assert "forbidden" in err and "cannot read anything" in err
    assert "0 finding" not in out and "No connections are allowed" not in out


def test_no_read_rights_watch_is_exit_3(retail: FakeApiServer, capsys) -> None:
    retail.rbac.restrict(("get", "nothing"))
    code, _out, err = run(capsys, "matrix", "--watch")
    assert code == 3 and "forbidden" in err


def test_unreadable_policies_make_verdicts_unknown_with_the_reason(retail: FakeApiServer, capsys) -> None:
    retail.rbac.restrict(("list", "namespaces"), ("list", "pods"), ("list", "networkpolicies", "retail"), *ADMIN,
                         *(("list", r) for r in ("deployments", "statefulsets", "daemonsets", "replicasets",
                                                 "replicationcontrollers", "jobs", "cronjobs")))
    code, out, _ = run(capsys, "matrix", "-o", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["partial"] is True
    assert {"namespace": "shop", "reason": "NetworkPolicies in namespace shop could not be read (forbidden)"} in \
        doc["uncertain"]
    shop = [c for c in doc["connections"] if "shop/cart" in (c["from"], c["to"])]
    assert shop and all(c.get("uncertain") and "could not be read (forbidden)" in c["reason"] for c in shop)
    code, out, _ = run(capsys, "matrix", "--no-external")
    # retail/web -> shop/cart is denied by web's egress as far as known, but shop's policies are unknown:
    # the unknown glyph, not the denied one, and the reason on stdout
    assert "WARNING: verdicts touching namespace shop are unknown" in out
    grid = out.split("FROM \\ TO", 1)[1].split("\n\n", 1)[0]
    cart_row = next(line for line in grid.splitlines() if "cart" in line)
    assert "·" not in cart_row and "?" in cart_row


def test_a_one_namespace_user_is_told_the_view_is_partial(retail: FakeApiServer, capsys) -> None:
    retail.rbac.restrict(("list", "*", "retail"), ("get", "namespaces"), *ADMIN)
    code, out, err = run(capsys, "lint", "-n", "retail")
    assert code == 0, err
    assert out.startswith("WARNING: ") and "partial view: only namespace(s) retail could be read" in out
    # no false "matches no namespace" (shop is unreadable, not absent) nor "cannot reach DNS" (kube-system too)
    assert " MS005 [" not in out and " MS007 [" not in out
    assert "(partial view: see the warnings above)" in out
    code, out, _ = run(capsys, "lint", "-n", "retail", "-o", "json")
    assert json.loads(out)["partial"] is True
    code, out, _ = run(capsys, "get", "-n", "retail")
    assert code == 0 and out.startswith("WARNING: ") and "WARNING: partial view" in out
    code, out, _ = run(capsys, "matrix", "-n", "retail")
    assert "WARNING: partial view" in out and "No connections are allowed." not in out


def test_explain_says_forbidden_for_a_pod_it_cannot_read(retail: FakeApiServer, capsys) -> None:
    retail.rbac.restrict(("list", "*", "retail"), ("get", "namespaces"), *ADMIN)
    code, out, err = run(capsys, "explain", "pod", "cart", "-n", "shop")
    assert code == 3, out + err
    assert "forbidden" in err and "no pod or workload named 'cart'" in err


def test_namespace_labels_unknown_make_label_selected_peers_unknown(retail: FakeApiServer, capsys) -> None:
    # everything readable but the Namespace list: retail's policy selects peers by namespace labels
    retail.rbac.restrict(("list", "pods"), ("list", "networkpolicies"), *ADMIN,
                         *(("list", r) for r in ("deployments", "statefulsets", "daemonsets", "replicasets",
                                                 "replicationcontrollers", "jobs", "cronjobs")))
    _code, out, _ = run(capsys, "matrix", "-o", "json")
    doc = json.loads(out)
    assert any(u["namespace"] == "retail" and "namespace labels could not be read" in u["reason"]
               for u in doc["uncertain"])


def test_an_api_that_is_not_served_is_not_a_permission_problem(retail: FakeApiServer, capsys) -> None:
    retail.unserved |= {"clusternetworkpolicies", "adminnetworkpolicies", "baselineadminnetworkpolicies",
                        "ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies", "ciliumcidrgroups",
                        "authorizationpolicies", "peerauthentications"}
    # a reader without rights on the admin policies gets 403 (authorization first); discovery says not served
    retail.rbac.restrict(*(("list", r) for r in ("namespaces", "pods", "networkpolicies", "deployments",
                                                 "statefulsets", "daemonsets", "replicasets",
                                                 "replicationcontrollers", "jobs", "cronjobs")))
    code, out, err = run(capsys, "matrix")
    assert code == 0
    assert "AdminNetworkPolicies" not in out + err and "WARNING" not in out
    # where the API is served, the same 403 is a permission problem and said so
    retail.unserved.clear()
    code, out, err = run(capsys, "matrix")
    assert "AdminNetworkPolicies: cannot list (forbidden)" in out
    assert "AuthorizationPolicies: cannot list in any namespace (forbidden): the service-mesh verdicts" in out


def test_a_namespace_typo_on_a_live_cluster(retail: FakeApiServer, capsys) -> None:
    code, _out, err = run(capsys, "lint", "-n", "retial")
    assert code == 2 and 'namespace "retial" not found' in err and '(did you mean "retail"?)' in err
    # Namespaces not listable: the GET of the named one answers 404
    retail.rbac.restrict(("list", "*", "retial"), ("get", "namespaces"), *ADMIN)
    code, _out, err = run(capsys, "matrix", "-n", "retial")
    assert code == 2 and 'namespace "retial" not found' in err


def test_test_results_on_unknown_verdicts_say_why(retail: FakeApiServer, tmp_path, capsys) -> None:
    retail.rbac.restrict(("list", "namespaces"), ("list", "pods"), ("list", "networkpolicies", "retail"), *ADMIN,
                         *(("list", r) for r in ("deployments", "statefulsets", "daemonsets", "replicasets",
                                                 "replicationcontrollers", "jobs", "cronjobs")))
    flows = tmp_path / "f.yaml"
    flows.write_text("flows:\n  - {from: shop/cart, to: retail/web, port: 80, expect: allow}\n")
    code, out, _ = run(capsys, "test", str(flows), "-o", "json")
    assert code == 0  # the expected allow holds on what could be read; the result says it is unknown
    r = json.loads(out)["results"][0]
    assert r["uncertain"] is True and r["reason"] == "NetworkPolicies in namespace shop could not be read (forbidden)"
    _code, out, _ = run(capsys, "test", str(flows))
    assert "(UNKNOWN: NetworkPolicies in namespace shop could not be read (forbidden))" in out


NOTHING_POLICY = ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: extra, namespace: retail}\n"
                  "spec: {podSelector: {matchLabels: {app: nothing}}, policyTypes: [Ingress]}\n")


def test_simulate_and_apply_on_a_partial_view(retail: FakeApiServer, tmp_path, capsys) -> None:
    retail.rbac.restrict(("list", "*", "retail"), ("get", "namespaces"), *ADMIN)
    f = tmp_path / "p.yaml"
    f.write_text(NOTHING_POLICY)
    code, out, _ = run(capsys, "simulate", "-f", str(f), "-n", "retail")
    assert code == 0 and out.startswith("WARNING: ") and "partial view: only namespace(s) retail" in out
    code, out, _ = run(capsys, "simulate", "-f", str(f), "-n", "retail", "-o", "json")
    assert json.loads(out)["partial"] is True
    # apply cannot show every flow the change cuts: refused (nothing sent) unless --allow-breaking
    code, out, err = run(capsys, "apply", "-f", str(f), "-n", "retail", "--yes")
    assert code == 1 and "Refusing to apply: the view of the cluster is partial" in err
    assert not [r for r in retail.requests if r.method not in ("GET", "HEAD")]


def test_the_html_page_shows_unknown_pairs_and_the_warnings(retail: FakeApiServer, capsys) -> None:
    retail.rbac.restrict(("list", "namespaces"), ("list", "pods"), ("list", "networkpolicies", "retail"), *ADMIN,
                         *(("list", r) for r in ("deployments", "statefulsets", "daemonsets", "replicasets",
                                                 "replicationcontrollers", "jobs", "cronjobs")))
    code, out, _ = run(capsys, "matrix", "-o", "html", "--no-external")
    assert code == 0
    assert "<b>Warning:</b> verdicts touching namespace shop are unknown" in out
    cell = out.split('data-from="retail/web" data-to="shop/cart"', 1)
    assert len(cell) == 2 and "unknown because NetworkPolicies in namespace shop could not be read" in cell[1][:400]
    start = out.rfind("<td", 0, out.index('data-from="retail/web" data-to="shop/cart"'))
    assert 'class="uncertain' in out[start:start + 60]
