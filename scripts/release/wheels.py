"""Provides the wheel steps: build the project's wheel from a clean copy, fetch a target's wheels, unpack them.

Unpacking is done here rather than by ``pip install --target`` so that nothing machine-specific
(``direct_url.json``, byte-compiled files, install-time RECORD entries) reaches the archive.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from .common import REPO, Project, ReleaseError, pip, source_date_epoch, with_extras
from .targets import Target, abi_tag

_IGNORED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
_IGNORED_SUFFIXES = (".pyc", ".pyo")


def copy_sources(project: Project, repo: Path, dest: Path) -> None:
    """Copy what a wheel build reads (pyproject, README, LICENSE, the package folders) into ``dest``.

    Building from a copy keeps ``build/`` and stale files of the working tree out of the wheel and
    leaves the working tree untouched.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("pyproject.toml", "README.md", "LICENSE", "setup.cfg", "MANIFEST.in"):
        if (repo / name).is_file():
            shutil.copy2(repo / name, dest / name)
    folders = set(project.package_dirs.values()) or {project.packages[0]}
    for folder in sorted(folders):
        shutil.copytree(
            repo / folder,
            dest / folder,
            ignore=lambda _d, names: [n for n in names if n in _IGNORED_DIRS or n.endswith(_IGNORED_SUFFIXES)
                                      or n.endswith(".egg-info")],
            dirs_exist_ok=True,
        )


def build_project_wheel(project: Project, out_dir: Path, *, build_pins: dict[str, str], repo: Path = REPO) -> Path:
    """Build the project's pure-Python wheel into ``out_dir`` and return its path.

    Args:
        build_pins: exact versions for the build backend (from the lock), so the wheel metadata does not
            change with a new setuptools release.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="microseg-src-") as tmp:
        src = Path(tmp) / "src"
        copy_sources(project, repo, src)
        env = {"SOURCE_DATE_EPOCH": str(source_date_epoch())}
        if build_pins:
            constraints = Path(tmp) / "build-constraints.txt"
            constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(build_pins.items())), encoding="utf-8")
            env["PIP_CONSTRAINT"] = str(constraints)
        pip("wheel", "--no-deps", "-q", "-w", out_dir, src, env=env, what="building the project wheel")
    wheels = sorted(out_dir.glob(f"{project.name.replace('-', '_')}-{project.version}-*.whl"))
    if not wheels:
        raise ReleaseError(f"no wheel of {project.name} {project.version} was written to {out_dir}")
    return wheels[-1]


def target_pip_args(target: Target, python: str) -> list[str]:
    """The pip options that select one platform's binary wheels for one CPython version."""
    return ["--only-binary=:all:", "--platform", target.pip_platform, "--python-version", python,
            "--implementation", "cp", "--abi", abi_tag(python)]


def download(target: Target, python: str, project_wheel: Path, dest: Path, constraints: Path | None,
             extra: Sequence[str] = ()) -> list[Path]:
    """Download the project's dependency wheels for one target and Python version into ``dest``.

    Args:
        extra: requirements to name explicitly (those only the target's environment markers ask for).
    """
    dest.mkdir(parents=True, exist_ok=True)
    args: list[str | Path] = ["download", "-q", "-d", dest, *target_pip_args(target, python)]
    if constraints is not None:
        args += ["-c", constraints]
    pip(*args, with_extras(project_wheel), *extra, what=f"downloading the wheels of {target.key} for Python {python}")
    return sorted(p for p in dest.glob("*.whl") if p.name != project_wheel.name)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_metadata(rel: str) -> bool:
    return rel.split("/", 1)[0].endswith(".dist-info")


def _install_path(member: str) -> str | None:
    """Where a wheel member goes in site-packages (None: not needed in a zipapp)."""
    parts = PurePosixPath(member).parts
    if not parts or member.endswith("/"):
        return None
    if member.startswith("/") or ".." in parts:
        raise ReleaseError(f"unsafe path in wheel: {member}")
    if parts[0].endswith(".data"):
        # purelib/platlib belong to site-packages; scripts, headers and data files are not used by the zipapp.
        if len(parts) > 2 and parts[1] in ("purelib", "platlib"):
            return "/".join(parts[2:])
        return None
    if any(p in _IGNORED_DIRS for p in parts) or member.endswith(_IGNORED_SUFFIXES):
        return None
    return member


def unpack(wheel: Path, site_packages: Path) -> None:
    """Unpack a wheel into ``site_packages``, merging with wheels already unpacked there.

    Wheels of the same release for several Python versions share their Python files and differ in
    their extension modules, whose names carry the version; a file present twice must therefore be
    identical, except the ``.dist-info`` metadata (WHEEL tags, RECORD), where the first copy stays.

    Raises:
        ReleaseError: two wheels disagree about a file (the lock pins different versions per Python).
    """
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            rel = _install_path(info.filename)
            if rel is None:
                continue
            data = zf.read(info)
            path = site_packages / rel
            if path.exists():
                if path.read_bytes() == data or _is_metadata(rel):
                    continue
                raise ReleaseError(f"{wheel.name}: {rel} differs from the copy unpacked from another wheel; "
                                   "every Python version must use the same release of each package (re-run lock)")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
