"""Provides the release targets: which OS/arch pairs get an archive, and which pip platform tags they use.

Each archive carries the compiled wheels of every supported CPython minor version side by side (their
extension modules have version-tagged file names, e.g. ``_yaml.cpython-311-x86_64-linux-gnu.so``), so one
archive per OS/arch runs on any of those Python versions.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass

DEFAULT_PYTHONS: tuple[str, ...] = ("3.10", "3.11", "3.12", "3.13", "3.14")
"""CPython minor versions built into each archive (every compiled dependency has wheels for these)."""


@dataclass(frozen=True)
class Target:
    """One release archive: a krew ``os``/``arch`` selector and the wheel platform tag it needs."""

    os: str
    """krew/Go ``os`` label: ``linux`` or ``darwin``."""
    arch: str
    """krew/Go ``arch`` label: ``amd64`` or ``arm64``."""
    pip_platform: str
    """The most recent platform tag accepted; pip also accepts the older ones of the same family."""

    @property
    def key(self) -> str:
        """``linux-amd64``: the name used on the command line and in the lock file."""
        return f"{self.os}-{self.arch}"


TARGETS: dict[str, Target] = {
    t.key: t
    for t in (
        # glibc >= 2.17 (CentOS 7 era and every current distribution); musl (Alpine) is not covered.
        Target("linux", "amd64", "manylinux_2_17_x86_64"),
        Target("linux", "arm64", "manylinux_2_17_aarch64"),
        # macOS 11 (Big Sur) and later.
        Target("darwin", "amd64", "macosx_11_0_x86_64"),
        Target("darwin", "arm64", "macosx_11_0_arm64"),
    )
}

_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_target() -> Target | None:
    """The target of the machine running this code, or None when no archive is built for it."""
    arch = _MACHINES.get(platform.machine().lower())
    return TARGETS.get(f"{sys.platform}-{arch}") if arch else None


def host_python() -> str:
    """``3.11``: the minor version of the running interpreter."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def abi_tag(python: str) -> str:
    """``3.11`` -> ``cp311``."""
    return "cp" + python.replace(".", "")
