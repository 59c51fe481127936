"""The audit trail in the TUI: policy changes from the live watch, who made them and the connectivity diff."""

from __future__ import annotations

import copy

from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.sources import Event
from kubectl_microseg.tui.app import MicrosegApp
from kubectl_microseg.tui.screens.audit import AuditScreen

from .conftest import SIZE, FakeLiveSource, wait_for, wait_loaded
from .test_live import DENY_BATCH_INGRESS


async def test_a_policy_change_is_logged_with_who_and_the_diff_and_a_shows_it():
    source = FakeLiveSource()
    app = MicrosegApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("a")
        assert isinstance(app.screen, AuditScreen) and app.screen.watching and not app.screen.records
        obj = SourceObject(copy.deepcopy(DENY_BATCH_INGRESS.raw))
        obj.raw["metadata"]["managedFields"] = [{"manager": "kubectl-client-side-apply", "operation": "Update",
                                                 "time": "2024-05-01T10:00:00Z"}]
        source.emit(Event("ADDED", obj))  # arrives while the screen is open: appended there
        await wait_for(pilot, lambda: len(app.audit_records) == 1)
        await pilot.pause()
        text = app.screen.text
        assert "ADDED NetworkPolicy batch/deny-ingress" in text and "kubectl-client-side-apply" in text
        assert "newly denied" in text and "- batch/report-generator -> batch/nightly-etl" in text
        await pilot.press("y")
        assert "deny-ingress" in app.clipboard
        await pilot.press("escape")
        assert not isinstance(app.screen, AuditScreen)
        source.emit(Event("DELETED", obj))  # on the matrix: a notice, and the log keeps it
        await wait_for(pilot, lambda: len(app.audit_records) == 2)
        assert app.audit_records[1].type == "DELETED" and app.audit_records[1].diff.added


async def test_without_a_live_cluster_a_says_so(demo_app):
    async with demo_app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        await pilot.press("a")
        assert isinstance(demo_app.screen, AuditScreen) and not demo_app.screen.watching
        await pilot.press("a")  # a again (or esc) closes it
        assert not isinstance(demo_app.screen, AuditScreen)


async def test_the_tuis_records_equal_audit_watchs_for_the_same_events():
    """One live path: the TUI's trail runs on the live updates' own model and object store (no analysis of
    its own), `audit --watch` on its own; the same events give the same records (everything but the time)."""
    from kubectl_microseg.audit import AuditTrail
    from kubectl_microseg.load import analyzer_options
    from kubectl_microseg.plugins.demo import DemoSource

    added = SourceObject(copy.deepcopy(DENY_BATCH_INGRESS.raw))
    relabelled = SourceObject(copy.deepcopy(DENY_BATCH_INGRESS.raw))
    relabelled.raw["spec"]["podSelector"] = {"matchLabels": {"app": "nightly-etl"}}
    events = [Event("ADDED", added), Event("MODIFIED", relabelled), Event("DELETED", relabelled)]

    snapshot = DemoSource().load()
    cli = AuditTrail(snapshot, analyzer_options(MicrosegApp(DemoSource()).args, snapshot))
    expected = [rec.to_dict() for rec in (cli.handle(ev) for ev in events) if rec is not None]
    assert len(expected) == 3 and all(d["connectivity"]["added"] or d["connectivity"]["removed"] for d in expected)

    source = FakeLiveSource()
    app = MicrosegApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert app.updates.audit is not None and app.updates.audit.model is app.updates.model  # shared
        for i, ev in enumerate(events):  # one at a time: each record is taken on the model after its event
            source.emit(ev)
            await wait_for(pilot, lambda i=i: len(app.audit_records) == i + 1)
        got = [rec.to_dict() for rec in app.audit_records]
    for g, e in zip(got, expected, strict=True):
        g.pop("time"), e.pop("time")
        assert g == e
