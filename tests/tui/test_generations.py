"""Live results carry a generation number: a slow, older analysis never overwrites a newer one (issue 16).

The race: the first re-analysis (after event A) is slow; event B (a NetworkPolicy that denies the pair)
arrives meanwhile and its analysis finishes first. Without generations the late result of A landed last
and the cell stayed allowed although the cluster denies it.
"""

from __future__ import annotations

import copy
import threading

from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.sources import Event
from kubectl_microseg.tui import app as app_module
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
    real = app_module.build_session
    first_started = threading.Event()
    release_first = threading.Event()
    calls = []

    def slow_first(snapshot, args):
        calls.append(len(calls))
        if len(calls) == 2:  # call 1 is the initial load; call 2 is the first re-analysis: hold it
            first_started.set()
            release_first.wait(10)
        return real(snapshot, args)

    monkeypatch.setattr(app_module, "build_session", slow_first)
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
        release_first.set()  # A's result now arrives late …
        await wait_for(pilot, lambda: len(calls) >= 3)
        await pilot.pause(0.3)
        # … and is dropped: the view keeps B's state, which includes A (the live state holds both)
        assert app.session is newer
        assert app.cell_state(*PAIR) is CellState.DENIED
        assert app.session.snapshot is not None
        labels = [o.raw["metadata"].get("labels", {}) for o in app.session.snapshot.objects
                  if o.raw.get("kind") == "Namespace" and o.raw["metadata"]["name"] == "batch"]
        assert labels and labels[0].get("team") == "data"
