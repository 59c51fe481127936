"""Fixtures of the nftables tests: the kernel lab (skipped without CAP_NET_ADMIN) and engine helpers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .netlab import Lab, have_cap_net_admin


@pytest.fixture(scope="session")
def netns_ok() -> None:
    ok, why = have_cap_net_admin()
    if not ok:
        pytest.skip(f"kernel tests skipped: {why}")


@pytest.fixture(scope="module")
def lab(netns_ok: None) -> Iterator[Lab]:
    """A fresh A-R-B lab for the module; every namespace is deleted afterwards, whatever happens."""
    lb = Lab()
    try:
        lb.open()
        yield lb
    finally:
        lb.close()
