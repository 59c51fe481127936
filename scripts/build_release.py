#!/usr/bin/env python3
"""Build the krew release archives of kubectl-microseg reproducibly, and the krew manifest that carries their sha256.

Usage (from the repository root, in the project's virtualenv with ``pip install -e '.[release]'``)::

    python scripts/build_release.py lock                  # pin every dependency for every target
    python scripts/build_release.py build                 # all targets -> dist/release/ (archives, manifest)
    python scripts/build_release.py build --platform linux-amd64 --python 3.11
    python scripts/build_release.py verify dist/release/microseg.yaml   # rebuild, compare every sha256

``build`` writes ``dist/release/kubectl-microseg_v<version>_<os>_<arch>.tar.gz`` per target, a
``SHA256SUMS`` file and ``dist/release/microseg.yaml``: the manifest rendered from the tracked template
``krew-manifest.yaml`` with the uri and sha256 of each archive it built (named as krew-index
wants it). No tracked file is written. With the same sources, lock and SOURCE_DATE_EPOCH the archives
are byte-identical, so ``verify`` (a release job, or anyone holding a published manifest) rebuilds them
and fails when a sha256 differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from release import krew
from release.build import build_all, wheel_requires
from release.common import REPO, ReleaseError, bundled_requires, load_project, log
from release.lock import LOCK_PATH, Lock, make_lock, resolve_build_pins, targets_for
from release.targets import DEFAULT_PYTHONS
from release.wheels import build_project_wheel

TEMPLATE = REPO / krew.TEMPLATE_PATH_NAME
DEFAULT_BASE_URL = "https://github.com/kubectl-microseg/kubectl-microseg/releases/download/v{version}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line of this script."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    lock = sub.add_parser("lock", help="resolve and pin the dependencies of every target (writes the lock file)")
    lock.add_argument("--python", action="append", help=f"CPython minor version (default: {' '.join(DEFAULT_PYTHONS)})")
    lock.add_argument("--lock-file", type=Path, default=LOCK_PATH)
    build = sub.add_parser("build", help="build the archives and render the krew manifest next to them")
    build.add_argument("--platform", action="append", metavar="OS-ARCH",
                       help="linux-amd64, linux-arm64, darwin-amd64, darwin-arm64 (repeatable; default all)")
    build.add_argument("--python", action="append", help="CPython minor version to include (default: the lock's)")
    build.add_argument("--out", type=Path, default=REPO / "dist" / "release", help="output folder")
    build.add_argument("--template", type=Path, default=TEMPLATE,
                       help="the krew manifest template (read only; the manifest goes to OUT/microseg.yaml)")
    build.add_argument("--base-url", default=DEFAULT_BASE_URL,
                       help="where the archives are published ({version} is replaced)")
    build.add_argument("--lock-file", type=Path, default=LOCK_PATH)
    build.add_argument("--unlocked", action="store_true",
                       help="ignore the lock (latest versions; not reproducible; for development only)")
    verify = sub.add_parser("verify", help="rebuild the archives a manifest names and compare their sha256")
    verify.add_argument("manifest", type=Path, help="a rendered krew manifest (dist/release/microseg.yaml, krew-index)")
    verify.add_argument("--platform", action="append", metavar="OS-ARCH",
                        help="only these targets (default: every platform of the manifest)")
    verify.add_argument("--python", action="append", help="CPython minor versions the build included (default: the lock's)")
    verify.add_argument("--lock-file", type=Path, default=LOCK_PATH)
    return parser.parse_args(argv)


def do_lock(args: argparse.Namespace) -> int:
    """``lock``: resolve every target and Python version, write the lock file."""
    project = load_project()
    pythons = args.python or list(DEFAULT_PYTHONS)
    with tempfile.TemporaryDirectory(prefix="microseg-lock-") as tmp:
        wheel = build_project_wheel(project, Path(tmp), build_pins=resolve_build_pins(project))
        runtime = bundled_requires(wheel_requires(wheel))
        lock = make_lock(project, wheel, pythons, targets_for(None), runtime)
    args.lock_file.write_text(lock.to_json(), encoding="utf-8")
    log(f"lock: {len(lock.pins)} packages, {len(lock.files)} wheel files -> {args.lock_file}")
    return 0


def do_build(args: argparse.Namespace) -> int:
    """``build``: one archive per target, SHA256SUMS, and the manifest update."""
    started = time.monotonic()
    project = load_project()
    lock = None if args.unlocked else Lock.read(args.lock_file)
    pythons = args.python or (lock.pythons if lock else list(DEFAULT_PYTHONS))
    targets = targets_for(args.platform)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="microseg-wheel-") as tmp:
        wheel = build_project_wheel(project, Path(tmp), build_pins=lock.build if lock else {})
        built = build_all(project, wheel, targets, pythons, lock, args.out)
    sums = args.out / "SHA256SUMS"
    sums.write_text("".join(f"{b.sha256}  {b.path.name}\n" for b in built), encoding="utf-8")
    base = args.base_url.format(version=project.version).rstrip("/")
    manifest = write_manifest(args.template, args.out / "microseg.yaml", project.version,
                              {(b.target.os, b.target.arch): (f"{base}/{b.path.name}", b.sha256) for b in built})
    for b in built:
        print(f"{b.path}  {b.size / 1e6:.1f} MB  sha256 {b.sha256}  ({b.seconds:.0f}s)")
    log(f"build: {len(built)} archive(s) in {time.monotonic() - started:.0f}s; krew manifest {manifest}")
    return 0


def write_manifest(template: Path, dest: Path, version: str, entries: dict[tuple[str, str], tuple[str, str]]) -> Path:
    """Render ``template`` with the built archives' uri and sha256 into ``dest``; check krew's rules."""
    import yaml

    text = krew.render_manifest(template.read_text(encoding="utf-8"), version, entries)
    problems = krew.plugin_problems(yaml.safe_load(text))
    if problems:
        raise ReleaseError(f"the manifest rendered from {template} is not valid for krew: " + "; ".join(problems))
    dest.write_text(text, encoding="utf-8")
    return dest


def do_verify(args: argparse.Namespace) -> int:
    """``verify``: rebuild (locked) what a manifest names; exit 1 when a sha256 differs."""
    import yaml

    manifest = yaml.safe_load(args.manifest.read_text(encoding="utf-8"))
    problems = krew.plugin_problems(manifest)
    if problems:
        raise ReleaseError(f"{args.manifest} is not a valid krew manifest: " + "; ".join(problems))
    project = load_project()
    if manifest["spec"]["version"] != f"v{project.version}":
        raise ReleaseError(f"{args.manifest} is for {manifest['spec']['version']}, the sources are v{project.version}")
    lock = Lock.read(args.lock_file)
    wanted = args.platform or [t.key for t in targets_for(None)
                               if krew.find_platform(manifest, t.os, t.arch) is not None]
    with tempfile.TemporaryDirectory(prefix="microseg-verify-") as tmp:
        wheel = build_project_wheel(project, Path(tmp) / "wheel", build_pins=lock.build)
        built = build_all(project, wheel, targets_for(wanted), args.python or lock.pythons, lock, Path(tmp) / "out")
    mismatches = krew.sha_mismatches(manifest, {(b.target.os, b.target.arch): b.sha256 for b in built})
    for line in mismatches:
        print(f"{args.manifest}: {line}", file=sys.stderr)
    if not mismatches:
        print(f"{args.manifest}: the sha256 of {len(built)} platform(s) match a fresh build")
    return 1 if mismatches else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 0 on success, 1 with a one-line reason on failure."""
    args = parse_args(argv)
    try:
        return {"lock": do_lock, "build": do_build, "verify": do_verify}[args.action](args)
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
