"""The fake API server speaks the wire protocol of the real one (raw HTTP, no client library).

Each expectation below is taken from the Kubernetes API concepts documentation or the API server's
source (see docs/live.md, "How the fake server's protocol was checked").
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

import pytest

from tests.fakeapi import FakeApiServer

from tests.live.helpers import netpol, ns, pod


def request(api: FakeApiServer, method: str, path: str, body: Any = None,
            ctype: str = "application/json") -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    conn.request(method, path, body=data, headers={"Content-Type": ctype} if body is not None else {})
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), json.loads(raw) if raw else None


def watch_lines(api: FakeApiServer, path: str, until: int, timeout: float = 3.0) -> tuple[dict[str, str], list[dict]]:
    """Open a watch and read JSON lines until ``until`` events arrived or the stream ended."""
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=timeout)
    conn.request("GET", path)
    resp = conn.getresponse()
    headers = dict(resp.getheaders())
    events = []
    while len(events) < until:
        line = resp.readline()
        if not line:
            break
        events.append(json.loads(line))
    conn.close()
    return headers, events


def test_list_shape_items_have_no_kind(fake_api: FakeApiServer) -> None:
    fake_api.add(ns("prod"), pod("a", "prod"))
    status, headers, body = request(fake_api, "GET", "/api/v1/namespaces/prod/pods")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert body["kind"] == "PodList" and body["apiVersion"] == "v1"
    assert body["metadata"]["resourceVersion"] == str(fake_api.store.resource_version)
    assert "continue" not in body["metadata"]
    item = body["items"][0]
    assert "kind" not in item and "apiVersion" not in item  # as the real server: items are untyped
    assert item["metadata"]["resourceVersion"] and item["metadata"]["uid"]


def test_paginated_list_is_one_consistent_snapshot(fake_api: FakeApiServer) -> None:
    fake_api.add(*(pod(f"p{i}", "default", labels="x") for i in range(5)))
    _, _, page1 = request(fake_api, "GET", "/api/v1/pods?limit=2")
    token = page1["metadata"]["continue"]
    assert [i["metadata"]["name"] for i in page1["items"]] == ["p0", "p1"]
    assert page1["metadata"]["remainingItemCount"] == 3
    fake_api.delete("v1", "Pod", "p3", "default")  # after the snapshot: pages still show it
    fake_api.add(pod("p9"))
    _, _, page2 = request(fake_api, "GET", f"/api/v1/pods?limit=2&continue={token}")
    _, _, page3 = request(fake_api, "GET", f"/api/v1/pods?limit=2&continue={page2['metadata']['continue']}")
    names = [i["metadata"]["name"] for p in (page2, page3) for i in p["items"]]
    assert names == ["p2", "p3", "p4"]
    assert page1["metadata"]["resourceVersion"] == page2["metadata"]["resourceVersion"] \
        == page3["metadata"]["resourceVersion"]
    assert "continue" not in page3["metadata"]


def test_expired_continue_token_is_410_expired(fake_api: FakeApiServer) -> None:
    fake_api.add(*(pod(f"p{i}") for i in range(3)))
    _, _, page1 = request(fake_api, "GET", "/api/v1/pods?limit=1")
    fake_api.expire_continue_tokens()
    status, _, body = request(fake_api, "GET", f"/api/v1/pods?limit=1&continue={page1['metadata']['continue']}")
    assert status == 410
    assert body["kind"] == "Status" and body["reason"] == "Expired" and body["code"] == 410
    assert "continue parameter is too old" in body["message"]


def test_watch_stream_is_chunked_json_lines_from_resource_version(fake_api: FakeApiServer) -> None:
    fake_api.add(pod("old"))
    rv = fake_api.store.resource_version
    fake_api.add(pod("new"))
    fake_api.modify("v1", "Pod", "new", "default", metadata={"name": "new", "namespace": "default",
                                                             "labels": {"v": "2"}})
    fake_api.delete("v1", "Pod", "old", "default")
    headers, events = watch_lines(fake_api, f"/api/v1/pods?watch=true&resourceVersion={rv}", until=3)
    assert headers["Transfer-Encoding"] == "chunked" and headers["Content-Type"] == "application/json"
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == \
        [("ADDED", "new"), ("MODIFIED", "new"), ("DELETED", "old")]
    assert events[0]["object"]["kind"] == "Pod" and events[0]["object"]["apiVersion"] == "v1"  # typed in watches
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > rv


def test_watch_without_resource_version_starts_with_synthetic_added(fake_api: FakeApiServer) -> None:
    fake_api.add(pod("a"), pod("b"))
    _, events = watch_lines(fake_api, "/api/v1/namespaces/default/pods?watch=1", until=2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "a"), ("ADDED", "b")]


def test_bookmarks_only_when_allowed_and_timeout_ends_stream(fake_api: FakeApiServer) -> None:
    rv = fake_api.store.resource_version
    t0 = time.monotonic()
    _, events = watch_lines(fake_api, f"/api/v1/pods?watch=true&resourceVersion={rv}&allowWatchBookmarks=true"
                            "&timeoutSeconds=1", until=5)
    assert 0.9 <= time.monotonic() - t0 < 3
    assert events == [{"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                                      "metadata": {"resourceVersion": str(rv)}}}]
    _, events = watch_lines(fake_api, f"/api/v1/pods?watch=true&resourceVersion={rv}&timeoutSeconds=1", until=5)
    assert events == []


def test_too_old_resource_version_is_an_error_event_410(fake_api: FakeApiServer) -> None:
    fake_api.add(pod("a"))
    old = fake_api.store.resource_version
    fake_api.add(pod("b"))
    fake_api.compact()
    _, _headers, _ = request(fake_api, "GET", "/version")
    _, events = watch_lines(fake_api, f"/api/v1/pods?watch=true&resourceVersion={old}", until=2)
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith(f"too old resource version: {old} (")


def test_forbidden_status_has_the_real_wording(fake_api: FakeApiServer) -> None:
    fake_api.rbac.deny("list", "networkpolicies", "secret")
    status, _, body = request(fake_api, "GET", "/apis/networking.k8s.io/v1/namespaces/secret/networkpolicies")
    assert status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == ('networkpolicies.networking.k8s.io is forbidden: User "tester" cannot list resource '
                               '"networkpolicies" in API group "networking.k8s.io" in the namespace "secret"')
    assert body["details"] == {"group": "networking.k8s.io", "kind": "networkpolicies"}
    assert request(fake_api, "GET", "/apis/networking.k8s.io/v1/namespaces/other/networkpolicies")[0] == 200
    fake_api.rbac.restrict(("list", "pods", "team"))
    status, _, body = request(fake_api, "GET", "/api/v1/pods")
    assert status == 403 and body["message"].endswith('in API group "" at the cluster scope')
    assert request(fake_api, "GET", "/api/v1/namespaces/team/pods")[0] == 200


def test_injected_faults(fake_api: FakeApiServer) -> None:
    fake_api.faults.fail(429, verb="list", resource="pods", retry_after=3)
    status, headers, body = request(fake_api, "GET", "/api/v1/pods")
    assert status == 429 and headers["Retry-After"] == "3"
    assert body["reason"] == "TooManyRequests" and body["details"]["retryAfterSeconds"] == 3
    assert request(fake_api, "GET", "/api/v1/pods")[0] == 200  # fired once
    fake_api.faults.fail(500, resource="pods", times=2)
    assert [request(fake_api, "GET", "/api/v1/pods")[0] for _ in range(3)] == [500, 500, 200]
    fake_api.faults.delay(0.3, verb="list")
    t0 = time.monotonic()
    request(fake_api, "GET", "/api/v1/pods")
    assert time.monotonic() - t0 >= 0.3


def test_drop_fault_cuts_the_stream_without_terminating_chunk(fake_api: FakeApiServer) -> None:
    fake_api.add(pod("a"), pod("b"))
    fake_api.faults.drop_watch(resource="pods", after_events=1)
    conn = http.client.HTTPConnection("127.0.0.1", fake_api.port, timeout=3)
    conn.request("GET", "/api/v1/pods?watch=true")
    resp = conn.getresponse()
    assert json.loads(resp.readline())["object"]["metadata"]["name"] == "a"
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()


APPLY = "application/apply-patch+yaml"
NP_PATH = "/apis/networking.k8s.io/v1/namespaces/prod/networkpolicies"


def test_server_side_apply_create_dry_run_conflict_force_delete(fake_api: FakeApiServer) -> None:
    body = netpol("deny", "prod")
    status, _, err = request(fake_api, "PATCH", f"{NP_PATH}/deny", body, APPLY)
    assert status == 422 and "fieldManager: Required value" in err["message"]

    status, _, out = request(fake_api, "PATCH", f"{NP_PATH}/deny?fieldManager=microseg&dryRun=All", body, APPLY)
    assert status == 201 and out["metadata"]["name"] == "deny"
    assert fake_api.get("networking.k8s.io/v1", "NetworkPolicy", "deny", "prod") is None  # dry run: not stored

    status, _, out = request(fake_api, "PATCH", f"{NP_PATH}/deny?fieldManager=microseg", body, APPLY)
    assert status == 201
    assert [(m["manager"], m["operation"]) for m in out["metadata"]["managedFields"]] == [("microseg", "Apply")]
    assert out["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"] == \
        {"f:podSelector": {"f:matchLabels": {}}, "f:policyTypes": {}}

    changed = netpol("deny", "prod", app="web")
    changed["spec"]["policyTypes"] = ["Ingress", "Egress"]  # a value "microseg" owns
    status, _, err = request(fake_api, "PATCH", f"{NP_PATH}/deny?fieldManager=other", changed, APPLY)
    assert status == 409 and err["reason"] == "Conflict" and 'conflict with "microseg"' in err["message"]
    status, _, out = request(fake_api, "PATCH", f"{NP_PATH}/deny?fieldManager=other&force=true", changed, APPLY)
    assert status == 200 and out["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert out["spec"]["podSelector"] == {"matchLabels": {"app": "web"}}

    status, _, out = request(fake_api, "DELETE", f"{NP_PATH}/deny?dryRun=All")
    assert status == 200 and fake_api.get("networking.k8s.io/v1", "NetworkPolicy", "deny", "prod") is not None
    assert request(fake_api, "DELETE", f"{NP_PATH}/deny")[0] == 200
    assert request(fake_api, "DELETE", f"{NP_PATH}/deny")[0] == 404
    patches = fake_api.requests_matching(verb="patch", resource="networkpolicies")
    assert [r.query.get("fieldManager") for r in patches] == [None, "microseg", "microseg", "other", "other"]
    assert patches[1].query["dryRun"] == "All" and patches[1].json()["kind"] == "NetworkPolicy"


def test_apply_removes_fields_the_manager_dropped_and_accepts_yaml(fake_api: FakeApiServer) -> None:
    yaml_body = ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: prod}\n"
                 "spec:\n  podSelector: {}\n  ingress: [{}]\n")
    assert request(fake_api, "PATCH", f"{NP_PATH}/p?fieldManager=m", yaml_body, APPLY)[0] == 201
    smaller = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}}\n"
    status, _, out = request(fake_api, "PATCH", f"{NP_PATH}/p?fieldManager=m", smaller, APPLY)
    assert status == 200 and "ingress" not in out["spec"]


def test_rbac_least_privilege_for_apply(fake_api: FakeApiServer) -> None:
    fake_api.rbac.restrict(("patch", "networkpolicies", "prod"))
    status, _, err = request(fake_api, "PATCH", f"{NP_PATH}/x?fieldManager=m", netpol("x", "prod"), APPLY)
    assert status == 403 and "cannot create resource" in err["message"]  # creating by apply needs create
    fake_api.rbac.allow("create", "networkpolicies", "prod")
    assert request(fake_api, "PATCH", f"{NP_PATH}/x?fieldManager=m", netpol("x", "prod"), APPLY)[0] == 201
    assert request(fake_api, "DELETE", f"{NP_PATH}/x")[0] == 403
    assert request(fake_api, "POST", NP_PATH, netpol("y", "prod"))[0] == 201
    assert request(fake_api, "POST", NP_PATH, netpol("y", "prod"))[0] == 409


def test_bearer_token_required_when_configured() -> None:
    with FakeApiServer(token="s3cret") as api:
        status, _, body = request(api, "GET", "/api/v1/pods")
        assert status == 401 and body["reason"] == "Unauthorized"
