"""Fixtures of the live-source tests: the fake API server, a kubeconfig for it, a fast KubeSource."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from kubectl_microseg.plugins.kube import KubeSource
from tests.fakeapi.fixtures import fake_api, fake_kubeconfig, isolated_kubeconfig  # noqa: F401 - fixtures
from tests.live.helpers import FAST, EventCollector


@pytest.fixture
def source(fake_kubeconfig) -> Iterator[KubeSource]:  # noqa: F811 - fixture injection
    """A KubeSource on the fake server, with FAST timings, closed after the test."""
    src = KubeSource(tuning=FAST)
    yield src
    src.close()


@pytest.fixture
def watching(source: KubeSource, fake_api) -> Iterator[Callable[[], EventCollector]]:  # noqa: F811
    """Start watching (after load) and wait until every collection is watched."""
    collectors: list[EventCollector] = []

    def start() -> EventCollector:
        c = EventCollector(source)
        collectors.append(c)
        assert c.wait_for(lambda evs: any(e.state == "watching" for e in evs)), "never reached 'watching'"
        return c
    yield start
    for c in collectors:
        c.stop()
