"""Fixtures for the TUI tests: the demo app, a loaded pilot, and a fake live source."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest

from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.sources import Event, Snapshot

SIZE = (110, 34)
"""Terminal size of the pilot and snapshot tests."""


async def wait_loaded(pilot, timeout: float = 5.0) -> None:
    """Wait until the app has analysed its source (the load runs in a worker)."""
    app = pilot.app
    waited = 0.0
    while app.session is None or app.matrix_screen.model is None:
        await pilot.pause(0.02)
        waited += 0.02
        assert waited < timeout, "the app did not load its source in time"
    await pilot.pause()


async def wait_for(pilot, predicate, timeout: float = 5.0) -> None:
    """Wait until ``predicate()`` is true (messages and workers are drained in between)."""
    waited = 0.0
    while not predicate():
        await pilot.pause(0.02)
        waited += 0.02
        assert waited < timeout, "condition not reached in time"


def put_cursor(app, src: str, dst: str) -> None:
    """Put the matrix cursor on the cell of row ``src`` and column ``dst`` (endpoint ids)."""
    app.matrix_screen.grid.cursor_row = next(i for i, r in enumerate(app.matrix_screen.model.rows) if r.key == src)
    app.matrix_screen.grid.cursor_col = next(i for i, c in enumerate(app.matrix_screen.model.cols) if c.key == dst)


class FakeLiveSource:
    """A watching source over the demo: ``emit`` queues an Event that ``watch`` yields."""

    def __init__(self) -> None:
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.stopped = False

    def load(self) -> Snapshot:
        snap = DemoSource().load()
        snap.description = "fake live cluster"
        return snap

    def emit(self, event: Event) -> None:
        self.events.put(event)

    def watch(self) -> Iterator[Event]:
        while not self.stopped:
            try:
                ev = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            if ev is None:
                return
            yield ev

    def stop(self) -> None:
        self.stopped = True
        self.events.put(None)


@pytest.fixture
def demo_app():
    """A fresh app on the demo cluster (no watch)."""
    from kubectl_microseg.tui.app import MicrosegApp

    return MicrosegApp(DemoSource())
