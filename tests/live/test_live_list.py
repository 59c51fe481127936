"""Initial load: every kind, pagination with limit/continue, retries, -n, timeouts (real client over HTTP)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from kubectl_microseg.errors import Origin, UnreachableError
from kubectl_microseg.plugins.kube import KubeSource
from tests.fakeapi import FakeApiServer
from tests.live.helpers import FAST, netpol, ns, pod

WORKLOADS = [
    ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"), ("apps/v1", "ReplicaSet"),
    ("v1", "ReplicationController"), ("batch/v1", "Job"), ("batch/v1", "CronJob"),
]


def test_load_reads_every_kind_as_typed_raw_dicts(fake_api: FakeApiServer, source: KubeSource) -> None:
    fake_api.add(ns("prod", team="a"), pod("web-1", "prod", app="web"), netpol("deny", "prod"))
    for api_version, kind in WORKLOADS:
        fake_api.add({"apiVersion": api_version, "kind": kind, "metadata": {"name": "w", "namespace": "prod"},
                      "spec": {}})
    fake_api.add({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "prod"}})
    snap = source.load()
    kinds = sorted(o.kind for o in snap.objects)
    assert kinds == sorted(["Namespace", "Pod", "NetworkPolicy"] + [k for _, k in WORKLOADS])  # no Services
    for o in snap.objects:
        assert o.origin == Origin(cluster="fake")
        assert o.raw["apiVersion"] and "managedFields" not in o.raw["metadata"]
    assert {o.key() for o in snap.objects if o.kind == "Pod"} == {("Pod", "prod", "web-1")}
    assert snap.notes == [] and not snap.uncertain_namespaces and not snap.all_namespaces_uncertain


def test_admin_policies_are_read_where_served(fake_api: FakeApiServer, source: KubeSource) -> None:
    anp = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
           "metadata": {"name": "guard"}, "spec": {"priority": 10, "subject": {"namespaces": {}}}}
    cnp = {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
           "metadata": {"name": "guard2"}, "spec": {"tier": "Admin", "priority": 10, "subject": {"namespaces": {}}}}
    fake_api.add(anp, cnp)
    assert [o.key() for o in source.load().objects] == [("ClusterNetworkPolicy", "", "guard2"),
                                                         ("AdminNetworkPolicy", "", "guard")]
    fake_api.faults.fail(404, resource="clusternetworkpolicies", times=None)  # CRD not installed: quietly none
    fake_api.faults.fail(404, resource="adminnetworkpolicies", times=None)
    fake_api.faults.fail(404, resource="baselineadminnetworkpolicies", times=None)
    snap = source.load()
    assert snap.objects == [] and snap.notes == [] and not snap.all_namespaces_uncertain
    fake_api.faults.clear()
    fake_api.rbac.deny("list", "adminnetworkpolicies")  # installed but unreadable: nothing is certain
    snap = source.load()
    assert snap.all_namespaces_uncertain
    assert any(n.startswith("AdminNetworkPolicies: cannot list (forbidden)") for n in snap.notes)
    lists = fake_api.requests_matching(verb="list")
    assert {r.path for r in lists} >= {"/api/v1/namespaces", "/api/v1/pods", "/apis/apps/v1/deployments",
                                        "/apis/batch/v1/cronjobs", "/apis/networking.k8s.io/v1/networkpolicies"}
    assert all(r.query.get("limit") == "500" for r in lists)
    assert all(r.headers.get("User-Agent", "").startswith("kubectl-microseg/") for r in lists)


def test_pagination_follows_continue_tokens(fake_api: FakeApiServer, source: KubeSource) -> None:
    fake_api.add(*(pod(f"p{i:04d}", f"ns{i % 7}", ip=f"10.1.{i // 250}.{i % 250}") for i in range(1203)))
    t0 = time.monotonic()
    snap = source.load()
    assert time.monotonic() - t0 < 5
    pods = [o for o in snap.objects if o.kind == "Pod"]
    assert len(pods) == len({o.key() for o in pods}) == 1203
    reqs = fake_api.requests_matching(verb="list", resource="pods")
    assert [r.query.get("limit") for r in reqs] == ["500", "500", "500"]
    assert [("continue" in r.query) for r in reqs] == [False, True, True]


def test_expired_continue_token_restarts_the_list(fake_api: FakeApiServer, source: KubeSource) -> None:
    fake_api.add(*(pod(f"p{i:04d}") for i in range(1100)))
    fake_api.faults.on_request(lambda _req: fake_api.expire_continue_tokens(), verb="list", resource="pods",
                               when=lambda q: "continue" in q)
    snap = source.load()
    assert sum(1 for o in snap.objects if o.kind == "Pod") == 1100
    reqs = fake_api.requests_matching(verb="list", resource="pods")
    assert [(r.status, "continue" in r.query) for r in reqs] == \
        [(200, False), (410, True), (200, False), (200, True), (200, True)]


def test_server_errors_and_throttling_are_retried(fake_api: FakeApiServer, source: KubeSource) -> None:
    fake_api.add(pod("a"))
    fake_api.faults.fail(500, verb="list", resource="pods", times=2)
    fake_api.faults.fail(429, verb="list", resource="networkpolicies", retry_after=1)
    t0 = time.monotonic()
    snap = source.load()
    assert time.monotonic() - t0 >= 0.95  # Retry-After: 1 was honoured
    assert [o.name for o in snap.objects if o.kind == "Pod"] == ["a"]
    assert [r.status for r in fake_api.requests_matching(verb="list", resource="pods")] == [500, 500, 200]
    assert [r.status for r in fake_api.requests_matching(verb="list", resource="networkpolicies")] == [429, 200]


def test_persistent_server_error_is_exit_3(fake_api: FakeApiServer, source: KubeSource) -> None:
    fake_api.faults.fail(503, verb="list", resource="deployments", times=None)
    with pytest.raises(UnreachableError, match=r"cannot list Deployments .*\(HTTP 503\)") as info:
        source.load()
    assert info.value.exit_code == 3


def test_namespace_flag_still_reads_the_peers(fake_api: FakeApiServer, fake_kubeconfig) -> None:
    """-n focuses the views; the namespace's peers and their policies are still read (like -f would)."""
    fake_api.add(ns("a"), ns("b"), pod("x", "a"), pod("y", "b"), netpol("p", "b"))
    snap = KubeSource(namespace="a", tuning=FAST).load()
    assert len(snap.objects) == 5
    assert snap.description == "context fake, namespace a"
    fake_api.rbac.restrict(("list", "*", "a"))  # a namespaced role: the -n namespace is what is listed
    snap = KubeSource(namespace="a", tuning=FAST).load()
    assert sorted(o.key() for o in snap.objects) == [("Pod", "a", "x")]
    assert "/api/v1/namespaces/a/pods" in {r.path for r in fake_api.requests_matching(verb="list")}


def test_request_timeout_bounds_a_slow_server(fake_api: FakeApiServer, fake_kubeconfig) -> None:
    fake_api.faults.delay(1.0, verb="list", resource="namespaces", times=None)
    t0 = time.monotonic()
    with pytest.raises(UnreachableError):
        KubeSource(request_timeout="200ms", tuning=FAST).load()
    assert time.monotonic() - t0 < 3
    fake_api.faults.clear()
    # without --request-timeout, one answer slower than the default read timeout is retried
    fake_api.faults.delay(0.5, verb="list", resource="namespaces", times=1)
    assert KubeSource(tuning=replace(FAST, list_timeout=(2.0, 0.3))).load() is not None


def test_request_timeout_is_not_multiplied_by_retries(fake_api: FakeApiServer, fake_kubeconfig) -> None:
    """kubectl: "the length of time to wait before giving up on a single server request". A server that
    never answers cost 60 s with --request-timeout 5s (5 tries, each re-sent once by urllib3, plus back-off);
    now a timed-out request is final (issue 24)."""
    fake_api.faults.delay(30.0, verb="list", times=None)
    t0 = time.monotonic()
    with pytest.raises(UnreachableError):
        KubeSource(request_timeout="1s", tuning=FAST).load()
    assert time.monotonic() - t0 < 1.9
