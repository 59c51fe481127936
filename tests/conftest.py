"""Shared pytest configuration (keep minimal: several areas add tests under tests/)."""

from __future__ import annotations

import signal


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files under tests/golden/ from the current output")


def pytest_configure(config):
    """Ctrl-C tests behave the same however the suite was started. A shell starts background jobs (``nohup
    … &``, some CI runners) with SIGINT ignored; Python then installs no KeyboardInterrupt handler,
    ``_thread.interrupt_main()`` does nothing and child processes inherit the ignore. Python's own
    terminal default is put back here; tests that want the background state set it themselves
    (tests/reliability/test_faults.py)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
