"""Provides pytest fixtures around FakeApiServer; import them into a conftest.py::

    from tests.fakeapi.fixtures import fake_api, fake_kubeconfig, isolated_kubeconfig  # noqa: F401

- ``fake_api``: a started FakeApiServer, stopped after the test.
- ``fake_kubeconfig``: a kubeconfig file for ``fake_api`` (context ``fake``), also set as ``KUBECONFIG``.
- ``isolated_kubeconfig``: keeps the developer's own kubeconfig and in-cluster settings out of the test.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterator

import pytest

from .kubeconfig import write_kubeconfig
from .server import FakeApiServer


@pytest.fixture
def isolated_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point KUBECONFIG at an empty location and hide in-cluster variables; returns the temp dir."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    return tmp_path


@pytest.fixture
def fake_api() -> Iterator[FakeApiServer]:
    """A started fake API server on 127.0.0.1 (everything allowed, no faults, empty store)."""
    server = FakeApiServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_kubeconfig(fake_api: FakeApiServer, isolated_kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A kubeconfig for ``fake_api`` (context 'fake'), exported as KUBECONFIG."""
    path = write_kubeconfig(isolated_kubeconfig / "kubeconfig", fake_api)
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path
