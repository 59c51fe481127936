"""Live results carry a generation number: a slow, older analysis never overwrites a newer one (issue 16).

The race: the first re-analysis (after event A) is slow; event B (a NetworkPolicy that denies the pair)
arrives meanwhile and its analysis finishes first. Without generations the late result of A landed last
and the cell stayed allowed although the cluster denies it. With the incremental model the version is
drawn when the model takes a change, so the state shown last holds every change (A and B).
"""

from __future__ import annotations

import copy
import threading

from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.sources import Event
from kubectl_microseg.tui import live_updates as app_module
from kubectl_microseg.tui.app import MicrosegApp
from kubectl_microseg.tui.grid import CellState

from .conftest import SIZE, FakeLiveSource, wait_for, wait_loaded
from .test_live import DENY_BATCH_INGRESS

PAIR = ("batch/report-generator", "batch/nightly-etl")


def relabel_namespace() -> SourceObject:
    """An analysis-relevant change that leaves PAIR allowed (a label on namespace batch)."""
    return SourceObject({"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": "batch", "labels": {"kubernetes.io/metadata.name": "batch",
                                                                  "team": "data"}}})


async def test_a_slow_older_analysis_does_not_overwrite_a_newer_one(monkeypatch):
    real = app_module.live_session
    first_started = threading.Event()
    release_first = threading.Event()
    calls = []

    def slow_first(*args, **kw):
        calls.append(len(calls))
        if len(calls) == 2:  # call 1 is the first load; call 2 the first re-analysis: hold it (before its lock)
            first_started.set()
            release_first.wait(10)
        return real(*args, **kw)

    monkeypatch.setattr(app_module, "live_session", slow_first)
    source = FakeLiveSource()
    app = MicrosegApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        assert app.cell_state(*PAIR) is CellState.ALL
        source.emit(Event("MODIFIED", relabel_namespace()))  # A: its analysis blocks
        await wait_for(pilot, first_started.is_set)
        source.emit(Event("ADDED", SourceObject(copy.deepcopy(DENY_BATCH_INGRESS.raw))))  # B: fast
        await wait_for(pilot, lambda: app.cell_state(*PAIR) is CellState.DENIED)
        newer = app.session
        release_first.set()  # A's analysis now finishes last: its state holds A and B, and it is shown
        await wait_for(pilot, lambda: app.session is not newer)
        await pilot.pause(0.3)
        assert app.cell_state(*PAIR) is CellState.DENIED  # B's policy was not lost by the late result
        assert app.session.analyzer.cluster.namespaces["batch"].labels.get("team") == "data"  # nor A
        assert len(calls) == 3


async def test_a_result_older_than_the_one_shown_is_dropped():
    """The rule itself: SessionReady with a generation at or below the one on screen changes nothing."""
    from kubectl_microseg.tui.messages import SessionReady
    from kubectl_microseg.tui.session import build_session

    source = FakeLiveSource()
    app = MicrosegApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot)
        shown = app.session
        app._shown_generation = 5
        stale = build_session(source.load(), app.args)
        app.post_message(SessionReady(stale, set(), first=False, generation=4))
        await pilot.pause(0.1)
        assert app.session is shown
        app.post_message(SessionReady(stale, set(), first=False, generation=6))
        await pilot.pause(0.1)
        assert app.session is stale
