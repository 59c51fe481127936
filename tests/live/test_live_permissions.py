"""403 handling: least-privilege users get what they may see, with notes on what is missing and what it means."""

from __future__ import annotations

import pytest

from kubectl_microseg.errors import UnreachableError
from kubectl_microseg.plugins.kube import KubeSource
from tests.fakeapi import FakeApiServer, write_kubeconfig
from tests.live.helpers import FAST, netpol, ns, pod


@pytest.fixture
def cluster(fake_api: FakeApiServer) -> FakeApiServer:
    fake_api.add(ns("team"), ns("secret"), ns("other"),
                 pod("a", "team"), pod("b", "secret"), pod("c", "other"),
                 netpol("pa", "team"), netpol("pb", "secret"), netpol("pc", "other"))
    return fake_api


OTHER_KINDS = ("serviceaccounts", "deployments", "statefulsets", "daemonsets", "replicasets", "replicationcontrollers", "jobs",
               "cronjobs", "clusternetworkpolicies", "adminnetworkpolicies", "baselineadminnetworkpolicies",
               "ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies", "ciliumcidrgroups")
ADMIN = (("list", "clusternetworkpolicies"), ("list", "adminnetworkpolicies"), ("list", "baselineadminnetworkpolicies"),
         ("list", "ciliumnetworkpolicies"), ("list", "ciliumclusterwidenetworkpolicies"), ("list", "ciliumcidrgroups"))


def keys(snap, kind):
    return sorted(o.key()[1:] for o in snap.objects if o.kind == kind)


def test_cluster_wide_list_forbidden_falls_back_per_namespace(cluster: FakeApiServer, source: KubeSource) -> None:
    # everything cluster-wide except pods, which only per namespace (a RoleBinding in each)
    cluster.rbac.restrict(("list", "namespaces"), ("list", "networkpolicies"), *(("list", r) for r in OTHER_KINDS),
                          ("list", "pods", "team"), ("list", "pods", "secret"), ("list", "pods", "other"))
    snap = source.load()
    assert keys(snap, "Pod") == [("other", "c"), ("secret", "b"), ("team", "a")]
    assert any(n.startswith("Pods: cannot list across all namespaces (forbidden); listed them in each of 3")
               for n in snap.notes)
    assert not snap.uncertain_namespaces
    per_ns = [r.path for r in cluster.requests_matching(verb="list", resource="pods")]
    assert per_ns == ["/api/v1/pods", "/api/v1/namespaces/other/pods", "/api/v1/namespaces/secret/pods",
                      "/api/v1/namespaces/team/pods"]


def test_unreadable_policies_make_their_namespace_uncertain(cluster: FakeApiServer, source: KubeSource) -> None:
    # policies readable only in two of the three namespaces (RoleBindings); everything else cluster-wide
    cluster.rbac.restrict(("list", "namespaces"), ("list", "pods"), *(("list", r) for r in OTHER_KINDS),
                          ("list", "networkpolicies", "team"), ("list", "networkpolicies", "other"))
    snap = source.load()
    assert keys(snap, "NetworkPolicy") == [("other", "pc"), ("team", "pa")]
    assert snap.uncertain_namespaces == frozenset({"secret"}) and not snap.all_namespaces_uncertain
    note = [n for n in snap.notes if n.startswith("NetworkPolicies: cannot list in namespace(s) secret")]
    assert note and "uncertain" in note[0]


def test_no_readable_policy_at_all_makes_everything_uncertain(cluster: FakeApiServer, source: KubeSource) -> None:
    cluster.rbac.restrict(("list", "pods"), *ADMIN)
    snap = source.load()
    assert keys(snap, "Pod") == [("other", "c"), ("secret", "b"), ("team", "a")]
    # namespaces are known from the pods, so policies were tried in each; all forbidden: nothing is known
    nps = [r.path for r in cluster.requests_matching(verb="list", resource="networkpolicies")]
    assert nps == ["/apis/networking.k8s.io/v1/networkpolicies"] + [
        f"/apis/networking.k8s.io/v1/namespaces/{n}/networkpolicies" for n in ("other", "secret", "team")]
    assert snap.all_namespaces_uncertain
    assert "NetworkPolicies: cannot list in any namespace (forbidden): no policy is known, so every verdict is " \
           "uncertain" in snap.notes
    assert any(n.startswith("Namespaces: cannot list (forbidden): namespace labels are unknown") for n in snap.notes)
    assert any(n.startswith("Deployments: cannot list in any namespace (forbidden)") for n in snap.notes)


def test_namespaced_role_only_sees_its_namespace(cluster: FakeApiServer, isolated_kubeconfig, monkeypatch) -> None:
    path = write_kubeconfig(isolated_kubeconfig / "k", cluster, namespace="team")
    monkeypatch.setenv("KUBECONFIG", str(path))
    cluster.rbac.restrict(("list", "*", "team"), ("watch", "*", "team"), *ADMIN)
    snap = KubeSource(tuning=FAST).load()
    assert sorted(o.key() for o in snap.objects) == [("NetworkPolicy", "team", "pa"), ("Pod", "team", "a")]
    assert not snap.all_namespaces_uncertain and not snap.uncertain_namespaces
    with_n = KubeSource(namespace="team", tuning=FAST).load()
    assert sorted(o.key() for o in with_n.objects) == sorted(o.key() for o in snap.objects)
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(path, cluster)))  # no context namespace: -n decides
    with_n = KubeSource(namespace="team", tuning=FAST).load()
    assert sorted(o.key() for o in with_n.objects) == sorted(o.key() for o in snap.objects)


def test_context_namespace_is_tried_when_nothing_reveals_one(fake_api: FakeApiServer, isolated_kubeconfig,
                                                               monkeypatch) -> None:
    path = write_kubeconfig(isolated_kubeconfig / "k", fake_api, namespace="team")
    monkeypatch.setenv("KUBECONFIG", str(path))
    fake_api.add(pod("a", "team"), netpol("p", "team"))
    fake_api.rbac.restrict(("list", "pods", "team"), *ADMIN)
    snap = KubeSource(tuning=FAST).load()
    assert sorted(o.key() for o in snap.objects) == [("Pod", "team", "a")]
    assert snap.all_namespaces_uncertain  # the one namespace tried for policies was forbidden too
    write_kubeconfig(path, fake_api)  # no context namespace: 'default' is tried, and has nothing
    fake_api.rbac.restrict(("list", "*", "default"), *ADMIN)
    snap = KubeSource(tuning=FAST).load()
    assert snap.objects == [] and not snap.all_namespaces_uncertain and not snap.uncertain_namespaces


def test_unauthorized_is_exit_3(fake_api: FakeApiServer, isolated_kubeconfig, monkeypatch) -> None:
    fake_api.token = "right"
    path = write_kubeconfig(isolated_kubeconfig / "k", fake_api, token="wrong")
    monkeypatch.setenv("KUBECONFIG", str(path))
    with pytest.raises(UnreachableError, match=r"You must be logged in to the server \(Unauthorized\)"):
        KubeSource(tuning=FAST).load()
