"""The release lock: one version per package for every target, and the marker-only dependencies named."""

from __future__ import annotations

import re

import pytest
from release.build import check_lock
from release.common import ReleaseError
from release.lock import Lock, marker_environment, missing_requirements
from release.targets import DEFAULT_PYTHONS, TARGETS

AIOHTTP = {"metadata": {"name": "aiohttp", "requires_dist": [
    "attrs>=17.3.0",
    'async-timeout<6.0,>=4.0; python_version < "3.11"',
    'aiodns>=3.3.0; extra == "speedups"',
    'pywin32; sys_platform == "win32"',
    'appnope; sys_platform == "darwin"',
]}}
ATTRS = {"metadata": {"name": "attrs", "requires_dist": None}}


def test_marker_requirements_follow_the_target_not_this_interpreter():
    linux = TARGETS["linux-amd64"]
    assert missing_requirements([AIOHTTP, ATTRS], marker_environment(linux, "3.10")) == {"async-timeout<6.0,>=4.0"}
    assert missing_requirements([AIOHTTP, ATTRS], marker_environment(linux, "3.11")) == set()
    mac = TARGETS["darwin-arm64"]
    assert missing_requirements([AIOHTTP, ATTRS], marker_environment(mac, "3.12")) == {"appnope"}


def test_requested_extras_count():
    item = {"metadata": {"name": "markdown-it-py", "requires_dist": ['linkify-it-py>=1; extra == "linkify"']},
            "requested_extras": ["linkify"]}
    assert missing_requirements([item], marker_environment(TARGETS["linux-arm64"], "3.13")) == {"linkify-it-py>=1"}


def test_checked_in_lock_covers_every_target_and_python():
    lock = Lock.read()
    assert lock.pythons == list(DEFAULT_PYTHONS)
    assert set(lock.platforms) == set(TARGETS)
    assert all(len(sha) == 64 for sha in lock.files.values())
    for key, target in TARGETS.items():
        family = target.pip_platform.split("_")[0]  # manylinux / macosx
        machine = marker_environment(target, "3.12")["platform_machine"]
        for python in lock.pythons:
            abi = "cp" + python.replace(".", "")
            compiled = [f for f in lock.files if f.startswith("pydantic_core-") and f"-{abi}-" in f
                        and family in f and machine in f]
            assert compiled, f"no pydantic-core wheel for {key} / Python {python}"
    # aiohttp needs async-timeout on Python 3.10 only: pip alone would drop it when run by a newer Python
    assert "async-timeout" in lock.pins
    assert any(r.startswith("async-timeout") for r in lock.marker_requirements_for(TARGETS["linux-amd64"], "3.10"))


def test_lock_matches_the_project_requirements():
    lock = Lock.read()
    check_lock(lock, lock.requires)
    with pytest.raises(ReleaseError, match="stale"):
        check_lock(lock, [*lock.requires, "rich>=13"])


def test_rapidyaml_is_an_extra_the_archives_bundle():
    """musl Linux (Alpine) has no rapidyaml wheel and no environment marker tells musl from glibc, so
    rapidyaml is the ``fast`` extra, not a dependency; the krew archives (whose targets all have its wheels)
    and scripts/setup.sh install it."""
    from release.common import REPO, bundled_requires, with_extras

    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not any(r.startswith("rapidyaml") for r in project["dependencies"])
    assert any(r.startswith("rapidyaml") for r in project["optional-dependencies"]["fast"])
    lines = ['pyyaml>=6', 'rapidyaml>=0.15.2; extra == "fast"', 'pytest<9; extra == "test"']
    assert bundled_requires(lines) == ['pyyaml>=6', 'rapidyaml>=0.15.2; extra == "fast"']
    assert with_extras(REPO / "p.whl").endswith("p.whl[fast]")
    assert any(r.startswith("rapidyaml") and 'extra == "fast"' in r for r in Lock.read().requires)
    installed = re.search(r"pip_install -e '\.\[([a-z,]+)\]'", (REPO / "scripts" / "setup.sh").read_text())
    assert installed and "fast" in installed.group(1).split(","), "scripts/setup.sh installs the fast extra"
