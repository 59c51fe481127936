"""Fixtures of the packaging tests: the release tooling on sys.path, and the archive built for this machine."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from release.build import Built, check_lock, fetch_wheels, pack_target, wheel_requires  # noqa: E402
from release.common import load_project  # noqa: E402
from release.lock import Lock  # noqa: E402
from release.targets import host_python, host_target  # noqa: E402
from release.wheels import build_project_wheel, sha256_file  # noqa: E402


@dataclass(frozen=True)
class HostBuild:
    """This machine's archive packed twice from the same wheels, in different folders (to compare bytes)."""

    first: Built
    second: Built
    wheel: Path


@pytest.fixture(scope="session")
def project_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built once per session from a clean copy of the sources (needs PyPI for setuptools)."""
    lock = Lock.read()
    return build_project_wheel(load_project(), tmp_path_factory.mktemp("wheel"), build_pins=lock.build)


@pytest.fixture(scope="session")
def host_build(project_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> HostBuild:
    """This machine's release archive (its Python version only, locked wheels), built twice."""
    if importlib.util.find_spec("shiv") is None:
        pytest.skip("shiv is not installed (pip install -e '.[release]')")
    target = host_target()
    if target is None:
        pytest.skip("no release archive is built for this OS/architecture")
    lock = Lock.read()
    check_lock(lock, wheel_requires(project_wheel))
    project = load_project()
    work = tmp_path_factory.mktemp("work")
    wheels = fetch_wheels(project_wheel, target, [host_python()], lock, work)
    builds = []
    for run in ("a", "b"):  # packed twice from the same inputs, in different folders
        started = time.monotonic()
        path = pack_target(project, project_wheel, target, wheels, tmp_path_factory.mktemp(f"out-{run}"),
                           work / f"pack-{run}")
        builds.append(Built(target, path, sha256_file(path), path.stat().st_size, time.monotonic() - started))
    shutil.rmtree(work, ignore_errors=True)
    return HostBuild(builds[0], builds[1], project_wheel)
