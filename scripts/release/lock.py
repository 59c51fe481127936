"""Provides the release lock: one version of every dependency for all targets, and the sha256 of each wheel.

The lock makes the archives reproducible: the same lock and sources give byte-identical archives,
whatever PyPI publishes later. It is computed from ``pip install --dry-run --report`` (metadata only, no
wheel is downloaded) for every target and Python version; a package must resolve to one version
everywhere, because the archive merges the wheels of all Python versions into one site-packages.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.version import Version

from .common import REPO, Project, ReleaseError, canonical_name, log, pip, with_extras
from .targets import TARGETS, Target
from .wheels import target_pip_args

LOCK_PATH = REPO / "scripts" / "release-lock.json"


@dataclass
class Lock:
    """The content of ``scripts/release-lock.json``."""

    pythons: list[str]
    """CPython minor versions whose wheels each archive carries."""
    platforms: dict[str, str]
    """Target key (``linux-amd64``) -> pip platform tag used when locking."""
    pins: dict[str, str]
    """Canonical project name -> exact version (runtime dependencies, all targets)."""
    files: dict[str, str] = field(default_factory=dict)
    """Wheel file name -> sha256, for every target and Python version."""
    build: dict[str, str] = field(default_factory=dict)
    """Build backend pins (setuptools) used to build the project's own wheel."""
    requires: list[str] = field(default_factory=list)
    """The project's Requires-Dist when the lock was made (to tell when it is stale)."""
    marker_requirements: dict[str, list[str]] = field(default_factory=dict)
    """``<target>/<python>`` -> dependencies that pip leaves out because it evaluates environment markers
    against the interpreter running it, not the target (e.g. ``async-timeout`` for Python 3.10)."""

    def marker_requirements_for(self, target: Target, python: str) -> list[str]:
        """The extra requirements to name explicitly when fetching one target's wheels."""
        return self.marker_requirements.get(f"{target.key}/{python}", [])

    def to_json(self) -> str:
        """Stable JSON text (sorted keys, trailing newline)."""
        return json.dumps(self.__dict__, indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, path: Path = LOCK_PATH) -> Lock:
        """Read the lock file; ReleaseError if it is missing."""
        if not path.is_file():
            raise ReleaseError(f"{path} is missing: run `python scripts/build_release.py lock` first")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cls(**data)

    def constraints_text(self) -> str:
        """pip constraints (``name==version`` lines)."""
        return "".join(f"{name}=={version}\n" for name, version in sorted(self.pins.items()))


@dataclass(frozen=True)
class Resolved:
    """One package as pip resolved it for one target and Python version."""

    name: str
    version: str
    filename: str
    sha256: str


_MACHINES = {("linux", "amd64"): "x86_64", ("linux", "arm64"): "aarch64",
             ("darwin", "amd64"): "x86_64", ("darwin", "arm64"): "arm64"}


def marker_environment(target: Target, python: str) -> dict[str, str]:
    """PEP 508 marker variables of a target machine running CPython ``python``."""
    return {
        "python_version": python, "python_full_version": f"{python}.0", "implementation_version": f"{python}.0",
        "implementation_name": "cpython", "platform_python_implementation": "CPython", "os_name": "posix",
        "sys_platform": target.os, "platform_system": {"linux": "Linux", "darwin": "Darwin"}[target.os],
        "platform_machine": _MACHINES[(target.os, target.arch)], "platform_release": "", "platform_version": "",
        "extra": "",
    }


def missing_requirements(items: list[dict[str, Any]], env: dict[str, str]) -> set[str]:
    """Requirements whose markers hold on the target but that the report does not install.

    Args:
        items: the ``install`` entries of a pip report (each with ``metadata.requires_dist``).
        env: :func:`marker_environment` of the target.
    """
    present = {canonical_name(i["metadata"]["name"]) for i in items}
    missing = set()
    for item in items:
        extras = [""] + list(item.get("requested_extras") or [])
        for text in item["metadata"].get("requires_dist") or []:
            req = Requirement(text)
            if req.marker is None or canonical_name(req.name) in present:
                continue
            if any(req.marker.evaluate({**env, "extra": extra}) for extra in extras):
                extras_part = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
                missing.add(f"{canonical_name(req.name)}{extras_part}{req.specifier}")
    return missing


def resolve(target: Target, python: str, requirement: str | Path,
            constraints: Path | None) -> tuple[list[Resolved], list[str]]:
    """What pip would install for one target and Python version (no download: ``--dry-run --report``).

    pip evaluates environment markers against the interpreter running it; the requirements that the
    target's own markers add are named explicitly until nothing is missing.

    Returns:
        The resolved packages, and the requirements that had to be named explicitly.
    """
    env = marker_environment(target, python)
    extra: set[str] = set()
    for _ in range(5):
        args: list[str | Path] = ["install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-",
                                  *target_pip_args(target, python)]
        if constraints is not None:
            args += ["-c", constraints]
        report = json.loads(pip(*args, requirement, *sorted(extra),
                                what=f"resolving {target.key} for Python {python}"))
        missing = missing_requirements(report["install"], env)
        if not missing:
            break
        extra |= missing
    else:
        raise ReleaseError(f"{target.key}/{python}: marker-dependent requirements do not settle: {sorted(extra)}")
    out = []
    for item in report["install"]:
        info = item["download_info"]
        out.append(Resolved(
            name=canonical_name(item["metadata"]["name"]),
            version=item["metadata"]["version"],
            filename=info["url"].rsplit("/", 1)[-1],
            sha256=info.get("archive_info", {}).get("hashes", {}).get("sha256", ""),
        ))
    return out, sorted(extra)


def resolve_build_pins(project: Project) -> dict[str, str]:
    """Exact versions of the build-system requirements, resolved for this machine."""
    if not project.build_requires:
        return {}
    report = json.loads(pip("install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-",
                            *project.build_requires, what="resolving the build backend"))
    return {canonical_name(i["metadata"]["name"]): i["metadata"]["version"] for i in report["install"]}


def make_lock(project: Project, project_wheel: Path, pythons: list[str], targets: list[Target],
              requires: list[str], *, workers: int = 4) -> Lock:
    """Resolve every (target, Python) pair to one common set of versions.

    The first pass resolves the oldest Python on the first target; its versions become constraints for
    all pairs. A package that still resolves to several versions is pinned to the oldest of them and
    the pass repeats (at most 3 times); a pair that cannot satisfy the pins fails with pip's message.
    """
    own = canonical_name(project.name)
    pins = {r.name: r.version for r in resolve(targets[0], min(pythons, key=_vkey), with_extras(project_wheel), None)[0]
            if r.name != own}
    pairs = [(t, py) for t in targets for py in pythons]
    with tempfile.TemporaryDirectory(prefix="microseg-lock-") as tmp:
        constraints = Path(tmp) / "constraints.txt"
        for attempt in range(3):
            constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())), encoding="utf-8")
            log(f"lock: resolving {len(pairs)} target/Python pairs (pass {attempt + 1})")
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(lambda p: resolve(p[0], p[1], with_extras(project_wheel), constraints), pairs))
            versions: dict[str, set[str]] = defaultdict(set)
            files: dict[str, str] = {}
            markers = {f"{t.key}/{py}": extra for (t, py), (_, extra) in zip(pairs, results) if extra}
            for resolved, _extra in results:
                for r in resolved:
                    if r.name == own:
                        continue
                    versions[r.name].add(r.version)
                    files[r.filename] = r.sha256
            new_pins = {n: min(vs, key=Version) for n, vs in versions.items()}
            if all(len(vs) == 1 for vs in versions.values()) and new_pins == pins:
                return Lock(pythons=sorted(pythons, key=_vkey),
                            platforms={t.key: t.pip_platform for t in targets},
                            pins=dict(sorted(pins.items())), files=dict(sorted(files.items())),
                            build=resolve_build_pins(project), requires=sorted(requires),
                            marker_requirements=dict(sorted(markers.items())))
            pins = new_pins
    raise ReleaseError("the dependencies do not settle on one version per package for every target; "
                       f"last pins: {pins}")


def _vkey(python: str) -> tuple[int, ...]:
    """Sort key for Python minor versions ('3.10' after '3.9')."""
    return tuple(int(p) for p in python.split("."))


def targets_for(keys: list[str] | None) -> list[Target]:
    """The targets named on the command line (all when none)."""
    if not keys:
        return list(TARGETS.values())
    unknown = [k for k in keys if k not in TARGETS]
    if unknown:
        raise ReleaseError(f"unknown platform {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    return [TARGETS[k] for k in keys]
