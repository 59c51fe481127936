"""Shared pytest configuration (keep minimal: several areas add tests under tests/)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite every golden file (tests/golden, tests/lint/golden, tests/scaffold/golden) and "
                          "the TUI snapshot SVGs from the current output; review the diff before committing")


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C tests behave the same however the suite was started. A shell starts background jobs (``nohup
    … &``, some CI runners) with SIGINT ignored; Python then installs no KeyboardInterrupt handler,
    ``_thread.interrupt_main()`` does nothing and child processes inherit the ignore. Python's own
    terminal default is put back here; tests that want the background state set it themselves
    (tests/reliability/test_faults.py).

    ``--update-golden`` is the one switch for expected output: it also turns on syrupy's snapshot update,
    which pytest-textual-snapshot reads for the TUI's SVGs."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if config.getoption("--update-golden") and hasattr(config.option, "update_snapshots"):
        config.option.update_snapshots = True


@pytest.fixture(autouse=True)
def no_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No test reaches the developer's real cluster: KUBECONFIG names a file that does not exist (the kubectl
    rules then use no other file, not even ~/.kube/config) and the in-cluster variables are gone. A test
    that needs a cluster writes its own kubeconfig and sets it (tests/fakeapi/fixtures.py)."""
    path = tmp_path_factory.getbasetemp() / "no-kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    return path


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[Path, str], None]:
    """``golden(path, text)`` asserts that ``text`` is the golden file ``path``; with ``--update-golden`` it
    rewrites the file first (the one switch for every golden file)."""
    update = bool(request.config.getoption("--update-golden"))

    def check(path: Path, text: str) -> None:
        if update:
            path.write_text(text)
        assert path.is_file(), f"{path.name} missing: run pytest with --update-golden"
        assert text == path.read_text(), f"{path.name} differs (intended? rerun with --update-golden, review the diff)"
    return check
