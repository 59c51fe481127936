"""Watch after list: events, bookmarks, 410 re-list, dropped streams, errors, stale state, prompt stop."""

from __future__ import annotations

import time

from kubectl_microseg.live import LiveState
from kubectl_microseg.plugins.kube import KubeSource
from kubectl_microseg.plugins.kube.kinds import CALICO_KINDS, KINDS
from tests.fakeapi import FakeApiServer
from tests.live.helpers import netpol, ns, pod

SERVED = [k for k in KINDS if k not in CALICO_KINDS]
"""The kinds the fake API server serves by default (Calico's CRDs are not installed)."""


def test_watch_starts_from_the_list_resource_version_with_bookmarks(fake_api: FakeApiServer, source: KubeSource,
                                                                     watching) -> None:
    fake_api.add(ns("prod"), pod("a", "prod"))
    source.load()
    list_rv = {r.resource: None for r in fake_api.requests_matching(verb="list") if r.status == 200}
    rv = str(fake_api.store.resource_version)
    watching()
    watches = fake_api.requests_matching(verb="watch")
    assert {r.resource for r in watches} == set(list_rv) and len(watches) == len(SERVED) == 19
    for r in watches:
        assert r.query["resourceVersion"] == rv
        assert r.query["allowWatchBookmarks"] == "true" and r.query["timeoutSeconds"] == "5"


def test_events_reach_the_object_set(fake_api: FakeApiServer, source: KubeSource, watching) -> None:
    fake_api.add(ns("prod"), pod("a", "prod", app="web"))
    live = LiveState(source.load())
    events = watching()
    fake_api.add(pod("b", "prod", app="db"), netpol("deny", "prod"))
    fake_api.modify("v1", "Pod", "a", "prod", mutate=lambda o: o["metadata"]["labels"].update(app="api"))
    fake_api.modify("v1", "Pod", "a", "prod", mutate=lambda o: o["status"].update(conditions=[{"type": "Ready"}]))
    fake_api.delete("v1", "Pod", "b", "prod")
    assert events.wait_for(lambda evs: sum(e.obj is not None for e in evs) == 5)
    changes = [live.apply(e) for e in list(events.events)]
    relevant = [c for c in changes if c.relevant]
    assert len(relevant) == 4  # the status-only update of pod a changes nothing the analysis uses
    assert sorted(live.objects) == [("Namespace", "", "prod"), ("NetworkPolicy", "prod", "deny"),
                                    ("Pod", "prod", "a")]
    assert live.objects[("Pod", "prod", "a")].raw["metadata"]["labels"] == {"app": "api"}
    assert live.objects[("Pod", "prod", "a")].origin.cluster == "fake"
    assert live.state == "watching"


def test_bookmarks_advance_the_resource_version(fake_api: FakeApiServer, source: KubeSource, watching) -> None:
    source.load()
    events = watching()
    fake_api.add(ns("elsewhere"))  # moves the global resourceVersion; the pod watch sees nothing
    fake_api.send_bookmarks()
    time.sleep(0.2)
    bookmark_rv = str(fake_api.store.resource_version)
    fake_api.drop_connections()
    assert fake_api.wait_for_watches(len(SERVED))
    assert events.wait_for(lambda evs: evs[-1].state == "watching")
    rewatch = list(fake_api.requests_matching(verb="watch", resource="pods"))[-1]
    assert rewatch.query["resourceVersion"] == bookmark_rv
    assert not [e for e in events.events if e.obj is not None and e.obj.kind == "Pod"]


def test_410_gone_relists_and_emits_the_difference(fake_api: FakeApiServer, source: KubeSource, watching) -> None:
    fake_api.add(pod("keep"), pod("gone"), pod("changed", app="v1"))
    source.load()
    events = watching()
    fake_api.faults.drop_watch(resource="pods", after_events=0)  # pod watch goes away ...
    fake_api.drop_connections()
    fake_api.delete("v1", "Pod", "gone", "default")  # ... changes happen meanwhile ...
    fake_api.add(pod("new"))
    fake_api.modify("v1", "Pod", "changed", "default", mutate=lambda o: o["metadata"]["labels"].update(app="v2"))
    fake_api.compact()  # ... and the history is compacted: resuming gets 410
    assert events.wait_for(lambda evs: len([e for e in evs if e.obj is not None]) >= 3)
    assert sorted(events.objects()) == [("ADDED", ("Pod", "default", "new")),
                                        ("DELETED", ("Pod", "default", "gone")),
                                        ("MODIFIED", ("Pod", "default", "changed"))]
    assert "relisting" in events.states()
    assert events.wait_for(lambda evs: evs[-1].state == "watching")
    statuses = [r.status for r in fake_api.requests_matching(verb="list", resource="pods")]
    assert len(statuses) == 2  # the initial list and the re-list
    fake_api.add(pod("after"))
    assert events.wait_for(lambda evs: ("ADDED", ("Pod", "default", "after")) in events.objects())


def test_dropped_stream_resumes_without_losing_or_repeating_events(fake_api: FakeApiServer, source: KubeSource,
                                                                    watching) -> None:
    source.load()
    events = watching()
    fake_api.faults.drop_watch(resource="pods", after_events=1)
    for i in range(3):
        fake_api.add(pod(f"p{i}"))
    assert events.wait_for(lambda evs: len(events.objects()) >= 3)
    time.sleep(0.2)
    assert events.objects() == [("ADDED", ("Pod", "default", f"p{i}")) for i in range(3)]
    assert "reconnecting" in events.states() and events.states()[-1] == "watching"
    assert "relisting" not in events.states()


def test_server_errors_back_off_and_honour_retry_after(fake_api: FakeApiServer, source: KubeSource,
                                                        watching) -> None:
    source.load()
    events = watching()
    fake_api.faults.fail(500, verb="watch", resource="pods", times=2)
    fake_api.faults.fail(429, verb="watch", resource="jobs", retry_after=1)
    t0 = time.monotonic()
    fake_api.drop_connections()
    assert events.wait_for(lambda evs: any("HTTP 500" in e.detail for e in evs))
    assert events.wait_for(lambda evs: evs[-1].state == "watching" and time.monotonic() - t0 > 0.5, timeout=4), \
        [(e.state, e.detail) for e in events.events]
    jobs = list(fake_api.requests_matching(verb="watch", resource="jobs"))
    assert [r.status for r in jobs][-2:] == [429, 200]
    assert time.monotonic() - t0 >= 0.95  # the jobs watch waited Retry-After: 1
    fake_api.add(pod("x"))
    assert events.wait_for(lambda evs: ("ADDED", ("Pod", "default", "x")) in events.objects())


def test_lost_server_turns_stale_then_recovers_state(fake_api: FakeApiServer, source: KubeSource, watching) -> None:
    source.load()
    events = watching()
    fake_api.faults.fail(503, verb="watch", times=None)
    fake_api.drop_connections()
    assert events.wait_for(lambda evs: evs[-1].state == "stale", timeout=3)
    assert events.states()[:2] == ["watching", "reconnecting"]
    fake_api.faults.clear()
    assert events.wait_for(lambda evs: evs[-1].state == "watching", timeout=3)


def test_normal_stream_end_rewatches_silently(fake_api: FakeApiServer, fake_kubeconfig) -> None:
    from dataclasses import replace

    from tests.live.helpers import FAST, EventCollector
    src = KubeSource(tuning=replace(FAST, watch_timeout=1))
    src.load()
    events = EventCollector(src)
    time.sleep(1.6)  # every stream ends once (timeoutSeconds=1) and is re-opened
    fake_api.add(pod("late"))
    assert events.wait_for(lambda evs: ("ADDED", ("Pod", "default", "late")) in events.objects())
    assert events.states() == ["watching"], [e.detail for e in events.events if e.type == "STATE"]
    assert len(fake_api.requests_matching(verb="watch", resource="pods")) >= 2
    events.stop()
    src.close()


def test_watch_forbidden_falls_back_to_polling(fake_api: FakeApiServer, source: KubeSource) -> None:
    from tests.live.helpers import EventCollector
    fake_api.rbac.deny("watch", "networkpolicies")
    source.load()
    events = EventCollector(source)
    assert events.wait_for(lambda evs: any(e.state == "stale" and "cannot watch" in e.detail for e in evs))
    fake_api.add(netpol("p"))
    assert events.wait_for(lambda evs: ("ADDED", ("NetworkPolicy", "default", "p")) in events.objects(), timeout=3)
    events.stop()


def test_stop_is_prompt_and_closes_every_stream(fake_api: FakeApiServer, source: KubeSource) -> None:
    from tests.live.helpers import EventCollector
    source.load()
    events = EventCollector(source)
    assert events.wait_for(lambda evs: any(e.state == "watching" for e in evs))
    assert fake_api.open_watches() == len(SERVED)
    assert events.stop() < 0.5
    deadline = time.monotonic() + 2
    while fake_api.open_watches() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_api.open_watches() == 0
