"""Fixtures of the simulate/diff/apply tests: the fake API server (for apply) and a clean environment."""

from __future__ import annotations

from tests.fakeapi.fixtures import fake_api, fake_kubeconfig, isolated_kubeconfig  # noqa: F401 - fixtures
