"""Provides the build of one release archive per target, and of all of them with the manifest update."""

from __future__ import annotations

import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

from .archive import archive_name, build_archive
from .common import REPO, Project, ReleaseError, bundled_requires, log, source_date_epoch, with_extras
from .lock import Lock, resolve
from .targets import Target
from .wheels import download, sha256_file, unpack
from .zipapp import ENTRY_SCRIPT, build_pyz


@dataclass(frozen=True)
class Built:
    """One archive written by :func:`build_target`."""

    target: Target
    path: Path
    sha256: str
    size: int
    seconds: float


def wheel_requires(wheel: Path) -> list[str]:
    """The Requires-Dist lines of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(zf.read(meta).decode("utf-8"))
    return sorted(message.get_all("Requires-Dist") or [])


def check_lock(lock: Lock, requires: list[str]) -> None:
    """Fail when the project's runtime requirements changed since the lock was made."""
    runtime = bundled_requires(requires)
    locked = bundled_requires(lock.requires)
    if runtime != locked:
        raise ReleaseError("scripts/release-lock.json is stale: the dependencies changed "
                           f"(now {runtime}, locked {locked}); run `python scripts/build_release.py lock`")


def verify_wheels(lock: Lock, wheels: list[Path]) -> None:
    """Every downloaded wheel must be a locked file with the locked sha256."""
    for wheel in wheels:
        expected = lock.files.get(wheel.name)
        if expected is None:
            raise ReleaseError(f"{wheel.name} is not in scripts/release-lock.json: the lock is stale, run lock")
        if sha256_file(wheel) != expected:
            raise ReleaseError(f"{wheel.name}: sha256 differs from scripts/release-lock.json (tampered or re-uploaded)")


def fetch_wheels(project_wheel: Path, target: Target, pythons: list[str], lock: Lock | None,
                 work: Path) -> dict[str, list[Path]]:
    """Download (and check against the lock) the dependency wheels of one target, per Python version.

    Args:
        project_wheel: the project's own wheel (pure Python); its requirements are resolved.
        pythons: CPython minor versions whose wheels go into the archive.
        lock: pins and hashes; None fetches unlocked (latest versions, not reproducible; for development).
        work: a scratch folder; the wheels land in ``work/wheels/<python>/``.
    """
    constraints = None
    if lock is not None:
        constraints = work / "constraints.txt"
        constraints.write_text(lock.constraints_text(), encoding="utf-8")
    wheels = {}
    for python in sorted(pythons, key=lambda v: tuple(int(p) for p in v.split("."))):
        log(f"build: {target.key}: wheels for Python {python}")
        if lock is not None:
            extra = lock.marker_requirements_for(target, python)
        else:
            extra = resolve(target, python, with_extras(project_wheel), None)[1]
        wheels[python] = download(target, python, project_wheel, work / "wheels" / python, constraints, extra)
        if lock is not None:
            verify_wheels(lock, wheels[python])
    return wheels


def pack_target(project: Project, project_wheel: Path, target: Target, wheels: dict[str, list[Path]],
                out_dir: Path, work: Path) -> Path:
    """Unpack the wheels (oldest Python first) into one site-packages, zip it, and write the archive."""
    epoch = source_date_epoch()
    site = work / "site-packages"
    unpack(project_wheel, site)
    for python in sorted(wheels, key=lambda v: tuple(int(p) for p in v.split("."))):
        for wheel in wheels[python]:
            unpack(wheel, site)
    log(f"build: {target.key}: zipapp")
    pyz = build_pyz(site, work / "microseg.pyz", epoch, project.scripts[ENTRY_SCRIPT])
    return build_archive(out_dir / archive_name(project.version, target), pyz, REPO / "LICENSE",
                         list(wheels), epoch)


def build_target(project: Project, project_wheel: Path, target: Target, pythons: list[str], lock: Lock | None,
                 out_dir: Path, work: Path) -> Built:
    """Fetch and pack one target's archive into ``out_dir`` (``work`` is a scratch folder)."""
    started = time.monotonic()
    wheels = fetch_wheels(project_wheel, target, pythons, lock, work)
    dest = pack_target(project, project_wheel, target, wheels, out_dir, work / "pack")
    return Built(target, dest, sha256_file(dest), dest.stat().st_size, time.monotonic() - started)


def build_all(project: Project, project_wheel: Path, targets: list[Target], pythons: list[str],
              lock: Lock | None, out_dir: Path) -> list[Built]:
    """Build every target's archive into ``out_dir`` (one scratch folder each, removed afterwards)."""
    if lock is not None:
        check_lock(lock, wheel_requires(project_wheel))
        missing = [p for p in pythons if p not in lock.pythons]
        if missing:
            raise ReleaseError(f"Python {', '.join(missing)} is not in the lock ({', '.join(lock.pythons)})")
    if not (REPO / "LICENSE").is_file():
        raise ReleaseError("LICENSE is missing at the repository root (krew requires it in the archive)")
    results = []
    for target in targets:
        work = Path(tempfile.mkdtemp(prefix=f"microseg-{target.key}-"))
        try:
            results.append(build_target(project, project_wheel, target, pythons, lock, out_dir, work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return results

