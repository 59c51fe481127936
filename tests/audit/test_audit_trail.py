"""AuditTrail and ``audit --watch`` on a fake event source: who changed what, and the connectivity diff."""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path

from kubectl_microseg.audit import AuditTrail, changed_by, describe_who, render_record
from kubectl_microseg.commands import audit as audit_cmd
from kubectl_microseg.io.jsonl import append_jsonl
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.sources import Event
from tests.audit.helpers import API_FROM_WEB, BASE, FakeWatchSource, managed, netpol, pod


def trail() -> AuditTrail:
    return AuditTrail(FakeWatchSource(BASE, []).load())


def ev(type_: str, obj: dict) -> Event:
    return Event(type_, SourceObject(obj))


def pairs(rec, kind: str) -> list[tuple[str, str, object]]:
    return [(p.src, p.dst, p.after.to_contract() if kind != "removed" else p.before.to_contract())
            for p in getattr(rec.diff, kind)]


def test_added_policy_records_writer_and_newly_allowed_flows() -> None:
    t = trail()
    pol = netpol("api", "shop", {"app": "api"}, API_FROM_WEB,
                 managers=[managed("helm", "Update", "2025-03-01T09:00:00Z"), managed("kubectl", "Apply")],
                 annotations={"kubernetes.io/change-cause": "CHG-42 open api to web", "team.example.com/owner": "shop"})
    rec = t.handle(ev("ADDED", pol), now="2025-03-01T10:00:01Z")
    assert rec is not None and rec.type == "ADDED" and rec.object_id == "shop/api"
    assert rec.who["lastWriter"] == {"manager": "kubectl", "operation": "Apply", "time": "2025-03-01T10:00:00Z"}
    assert [w["manager"] for w in rec.who["managers"]] == ["helm", "kubectl"]
    assert rec.who["annotations"] == {"kubernetes.io/change-cause": "CHG-42 open api to web",
                                      "team.example.com/owner": "shop"}
    assert pairs(rec, "added") == [("shop/web", "shop/api", [{"protocol": "TCP", "port": 8080, "endPort": 8080}])]
    assert rec.diff.removed == [] and rec.diff.changed == []
    text = render_record(rec)
    assert "by kubectl (Apply at 2025-03-01T10:00:00Z)" in text and "+ shop/web -> shop/api: TCP 8080" in text
    doc = rec.to_dict()
    assert doc["connectivity"]["summary"]["added"] == 1 and doc["object"]["kind"] == "NetworkPolicy"
    assert doc["connectivity"]["added"][0]["causes"][0]["policy"] == "shop/api"


def test_deleted_policy_says_the_deleter_is_unknown() -> None:
    t = trail()
    pol = netpol("api", "shop", {"app": "api"}, API_FROM_WEB, managers=[managed("kubectl")])
    t.handle(ev("ADDED", pol))
    rec = t.handle(ev("DELETED", pol))
    assert rec is not None and "does not record who deleted" in rec.who["note"]
    assert pairs(rec, "removed") == [("shop/web", "shop/api", [{"protocol": "TCP", "port": 8080, "endPort": 8080}])]
    assert "last written by kubectl" in describe_who(rec.who)


def test_pod_events_update_the_baseline_silently() -> None:
    t = trail()
    assert t.handle(ev("ADDED", pod("web-2", "shop", "10.244.0.3", app="web"))) is None
    rec = t.handle(ev("ADDED", netpol("api", "shop", {"app": "api"}, API_FROM_WEB)))
    assert {src for src, _, _ in pairs(rec, "added")} == {"shop/web", "shop/web-2"}
    assert rec.who["lastWriter"] is None and "no managedFields" in rec.who["note"]


def test_modified_ports_and_metadata_only_changes() -> None:
    t = trail()
    pol = netpol("api", "shop", {"app": "api"}, API_FROM_WEB)
    t.handle(ev("ADDED", pol))
    wider = netpol("api", "shop", {"app": "api"}, [{**API_FROM_WEB[0], "ports": [{"port": 8080}, {"port": 9090}]}],
                   managers=[managed("kubectl-edit", "Update")])
    rec = t.handle(ev("MODIFIED", wider))
    assert [p.kind for p in rec.diff.changed] == ["changed"] and rec.diff.changed[0].newly_allowed.allows("TCP", 9090)
    assert "~ shop/web -> shop/api" in render_record(rec)
    annotated = netpol("api", "shop", {"app": "api"}, wider["spec"]["ingress"], annotations={"microseg.io/why": "x"})
    rec = t.handle(ev("MODIFIED", annotated))
    assert rec is not None and rec.metadata_only and rec.diff is None
    assert "only labels or annotations" in render_record(rec)
    assert t.handle(ev("MODIFIED", annotated)) is None  # a resync with nothing new


def test_unchanged_connectivity_is_said() -> None:
    t = trail()
    rec = t.handle(ev("ADDED", netpol("deny-2", "shop", {})))
    assert rec is not None and not rec.diff.has_differences and "connectivity: unchanged" in render_record(rec)


def test_changed_by_notices_client_side_apply() -> None:
    raw = netpol("p", "shop", {}, managers=[managed("kubectl-client-side-apply", "Update")],
                 annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"})
    assert changed_by(raw, "MODIFIED")["clientSideApply"] is True


def _args(**kw) -> argparse.Namespace:
    base = {"watch": True, "log": None, "output": "text", "count": None, "timeout": 5.0, "filename": None, "demo": False,
                "ipblock_matches_pods": False, "hostnetwork_as_pods": False}
    base.update(kw)
    return argparse.Namespace(**base)


def test_watch_command_prints_and_logs_json_lines(tmp_path, capsys) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_text('{"earlier": true}\n')
    events = [("ADDED", pod("web-2", "shop", "10.244.0.3", app="web")),
              ("ADDED", netpol("api", "shop", {"app": "api"}, API_FROM_WEB, managers=[managed("kubectl")])),
              ("DELETED", netpol("api", "shop", {"app": "api"}, API_FROM_WEB, managers=[managed("kubectl")]))]
    src = FakeWatchSource(BASE, events)
    assert audit_cmd.run(_args(log=str(log)), source=src) == 0
    out = capsys.readouterr().out
    assert "ADDED NetworkPolicy shop/api" in out and "DELETED NetworkPolicy shop/api" in out
    lines = log.read_text().splitlines()
    assert json.loads(lines[0]) == {"earlier": True}
    docs = [json.loads(x) for x in lines[1:]]
    assert [(d["type"], d["connectivity"]["summary"]["added"], d["connectivity"]["summary"]["removed"])
            for d in docs] == [("ADDED", 2, 0), ("DELETED", 0, 2)]
    assert src.stopped


def test_watch_command_json_output_and_count(capsys) -> None:
    events = [("ADDED", netpol(f"p{i}", "shop", {"app": "api"}, API_FROM_WEB)) for i in range(3)]
    assert audit_cmd.run(_args(output="json", count=1), source=FakeWatchSource(BASE, events)) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and json.loads(out[0])["object"]["name"] == "p0"


def test_list_without_watch(capsys) -> None:
    assert audit_cmd.run(_args(watch=False), source=FakeWatchSource(BASE, [])) == 0
    out = capsys.readouterr().out
    assert "NetworkPolicy shop/deny: by kubectl (Apply at 2025-03-01T10:00:00Z)" in out


def test_append_jsonl_is_line_atomic_under_concurrency(tmp_path) -> None:
    path = str(tmp_path / "log.jsonl")
    big = "x" * 200_000

    def writer(n: int) -> None:
        for i in range(20):
            append_jsonl(path, {"writer": n, "i": i, "pad": big})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    docs = [json.loads(line) for line in Path(path).read_text().splitlines()]
    assert len(docs) == 80 and all(d["pad"] == big for d in docs)
