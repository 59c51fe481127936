"""The release archive: reproducible, installable the way krew installs it, runnable through kubectl.

The archive is built for this machine's OS/arch and Python version only (the release script builds
every target and Python version; see docs/install.md), from the locked wheels, twice.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import build_release
import pytest
import yaml
from release import krew
from release.archive import LAUNCHER_NAME, LICENSE_NAME, PYZ_NAME, write_archive
from release.targets import host_python
from release.zipapp import canonical_zip

REPO = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl")
PLUGIN = "microseg"


def krew_install(manifest: dict, archive: Path, root: Path, os_name: str, arch: str) -> Path:
    """Install like ``kubectl krew install --manifest=M --archive=A``; returns the bin folder for PATH.

    krew picks the platform whose selector matches, checks the archive's sha256, extracts it into
    ``store/<name>/<version>/`` (no ``files``: everything), and links ``bin/kubectl-<name>`` (dashes
    turned into underscores) to the platform's ``bin``.
    """
    problems = krew.plugin_problems(manifest)
    assert not problems, problems
    platform = krew.find_platform(manifest, os_name, arch)
    assert platform is not None, f"no platform for {os_name}/{arch}"
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == platform["sha256"], "krew rejects a sha256 mismatch"
    store = root / "store" / manifest["metadata"]["name"] / manifest["spec"]["version"]
    store.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            assert member.isfile() or member.isdir(), f"krew extracts only files and folders: {member.name}"
            assert not member.name.startswith("/") and ".." not in Path(member.name).parts
        tar.extractall(store, filter="tar") if sys.version_info >= (3, 12) else tar.extractall(store)
    entry = store / platform["bin"]
    assert entry.is_file(), f"bin {platform['bin']} is not in the archive"
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / ("kubectl-" + manifest["metadata"]["name"].replace("-", "_"))).symlink_to(entry)
    return bin_dir


@pytest.fixture(scope="module")
def installed(host_build, tmp_path_factory):
    """The host archive installed krew-style from a manifest the release step wrote; PATH and env to run it."""
    built = host_build.first
    root = tmp_path_factory.mktemp("krew-root")
    manifest_path = build_release.write_manifest(
        REPO / krew.TEMPLATE_PATH_NAME, root / "microseg.yaml", "0.1.0",
        {(built.target.os, built.target.arch): (f"file://{built.path}", built.sha256)})
    manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    bin_dir = krew_install(manifest, built.path, root, built.target.os, built.target.arch)
    # the base interpreter, not the virtualenv's: nothing of the project may come from outside the archive
    python_dir = Path(sys.base_prefix) / "bin"
    assert (python_dir / "python3").exists(), f"no python3 in {python_dir}"
    env = {
        "PATH": os.pathsep.join([str(bin_dir), str(python_dir), "/usr/bin", "/bin"]),
        "HOME": str(root / "home"),
        "SHIV_ROOT": str(root / "shiv"),
        "KUBECONFIG": str(root / "no-kubeconfig"),
        "LANG": "C.UTF-8",
    }
    return bin_dir, env


def _run(cmd: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL, check=False)


@pytest.mark.slow
def test_archive_is_reproducible(host_build):
    assert host_build.first.sha256 == host_build.second.sha256
    assert host_build.first.path.read_bytes() == host_build.second.path.read_bytes()


@pytest.mark.slow
def test_archive_layout(host_build):
    with tarfile.open(host_build.first.path) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == sorted([LAUNCHER_NAME, LICENSE_NAME, PYZ_NAME])
        assert members[LAUNCHER_NAME].mode == 0o755
        assert {m.mtime for m in members.values()} == {members[LICENSE_NAME].mtime}
        assert {(m.uid, m.gid, m.uname, m.gname) for m in members.values()} == {(0, 0, "", "")}
        pyz = tar.extractfile(members[PYZ_NAME]).read()
    assert pyz.startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(io.BytesIO(pyz)) as zf:
        names = zf.namelist()
    assert names == sorted(names)
    assert "site-packages/kubectl_microseg/cli.py" in names
    assert any(n.startswith("site-packages/kubectl_microseg/demo/") and n.endswith(".yaml") for n in names)
    abi = "cpython-" + host_python().replace(".", "")
    compiled = [n for n in names if n.endswith(".so")]
    assert any(n.startswith("site-packages/pydantic_core/") and abi in n for n in compiled), compiled[:5]
    assert any(n.startswith("site-packages/yaml/") and abi in n for n in compiled)
    assert not any(n.endswith((".pyc", "direct_url.json")) for n in names)


@pytest.mark.slow
def test_launcher_runs_help_and_version(installed):
    bin_dir, env = installed
    proc = _run([str(bin_dir / "kubectl-microseg"), "--version"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "kubectl-microseg 0.1.0"
    proc = _run([str(bin_dir / "kubectl-microseg"), "--help"], env)
    assert proc.returncode == 0 and "usage: kubectl microseg" in proc.stdout
    assert _run([str(bin_dir / "kubectl-microseg"), "--no-such-flag"], env).returncode == 2
    extracted = list(Path(env["SHIV_ROOT"]).glob("microseg.pyz_*/site-packages/kubectl_microseg/cli.py"))
    assert extracted, "the code ran from the zipapp (shiv unpacked it under SHIV_ROOT)"


@pytest.mark.slow
def test_launcher_explains_a_missing_python(installed, tmp_path):
    bin_dir, env = installed
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 3.9\n", encoding="utf-8")
    fake.chmod(0o755)
    proc = _run([str(bin_dir / "kubectl-microseg"), "--version"], {**env, "PATH": f"{bin_dir}:{tmp_path}:/bin",
                                                                    "KUBECTL_MICROSEG_PYTHON": str(fake)})
    assert proc.returncode == 127
    assert "needs CPython" in proc.stderr and "pipx install kubectl-microseg" in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (it is on the developer machines)")
def test_kubectl_runs_the_installed_plugin(installed):
    bin_dir, env = installed
    listing = _run([KUBECTL, "plugin", "list"], env)
    assert str(bin_dir / "kubectl-microseg") in listing.stdout, listing.stderr
    proc = _run([KUBECTL, "microseg", "--version"], env)
    assert proc.returncode == 0 and proc.stdout.strip() == "kubectl-microseg 0.1.0", proc.stderr
    proc = _run([KUBECTL, "microseg", "--demo", "matrix"], env)
    assert proc.returncode == 0, proc.stderr
    assert "production" in proc.stdout and "api-server" in proc.stdout
    proc = _run([KUBECTL, "microseg", "--demo", "matrix", "-o", "json"], env)
    assert proc.returncode == 0, proc.stderr
    assert '"kind": "ConnectivityMatrix"' in proc.stdout


@pytest.mark.slow
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (it is on the developer machines)")
def test_completion_install_from_the_archive_completes_through_kubectl(installed):
    """The krew path for completion: krew gives only kubectl-microseg; `completion install` adds the helper."""
    bin_dir, env = installed
    proc = _run([str(bin_dir / "kubectl-microseg"), "completion", "install"], env)
    assert proc.returncode == 0, proc.stderr
    assert (bin_dir / "kubectl_complete-microseg").exists()
    proc = _run([KUBECTL, "__complete", "microseg", "--demo", "-n", "pro"], env)
    assert proc.stdout.splitlines() == ["production", ":4"], proc.stderr


def test_tar_is_deterministic_whatever_the_clock(tmp_path):
    members = {"b": (b"2", 0o644), "a": (b"1", 0o755)}
    one = write_archive(tmp_path / "one.tar.gz", members, 315532800).read_bytes()
    two = write_archive(tmp_path / "two.tar.gz", dict(reversed(list(members.items()))), 315532800).read_bytes()
    assert one == two
    assert gzip.decompress(one)  # a valid gzip stream
    with tarfile.open(tmp_path / "one.tar.gz") as tar:
        assert [m.name for m in tar.getmembers()] == ["a", "b"]
    assert write_archive(tmp_path / "three.tar.gz", members, 315532801).read_bytes() != one


def test_zip_is_canonicalised(tmp_path):
    raw = tmp_path / "raw.pyz"
    with raw.open("wb") as fh:
        fh.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(fh, "w") as zf:
            for name, mode, when in (("z.py", 0o755, (2020, 1, 1, 0, 0, 0)), ("a.py", 0o600, (2021, 5, 5, 5, 5, 4))):
                info = zipfile.ZipInfo(name, date_time=when)
                info.external_attr = mode << 16
                zf.writestr(info, b"x = 1\n")
    canonical_zip(raw, tmp_path / "one.pyz", 315532800)
    canonical_zip(raw, tmp_path / "two.pyz", 315532800)
    data = (tmp_path / "one.pyz").read_bytes()
    assert data == (tmp_path / "two.pyz").read_bytes() and data.startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(tmp_path / "one.pyz") as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["a.py", "z.py"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


@pytest.mark.slow
def test_first_run_says_it_unpacks_once(host_build, tmp_path):
    """The first run unpacks the zipapp (seconds): one line on stderr says so; later runs are quiet."""
    root = tmp_path / "krew-root"
    root.mkdir()
    built = host_build.first
    manifest_path = build_release.write_manifest(
        REPO / krew.TEMPLATE_PATH_NAME, root / "microseg.yaml", "0.1.0",
        {(built.target.os, built.target.arch): (f"file://{built.path}", built.sha256)})
    bin_dir = krew_install(yaml.safe_load(manifest_path.read_text(encoding="utf-8")), built.path, root,
                           built.target.os, built.target.arch)
    env = {"PATH": os.pathsep.join([str(bin_dir), str(Path(sys.base_prefix) / "bin"), "/usr/bin", "/bin"]),
           "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8"}
    first = _run([str(bin_dir / "kubectl-microseg"), "--version"], env)
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kubectl-microseg: first run of this version: unpacking into "), lines
    assert str(tmp_path / "home" / ".shiv") in lines[0], "the message names where it unpacks (HOME/.shiv)"
    assert first.stdout.strip() == "kubectl-microseg 0.1.0", "stdout stays clean for scripts"
    second = _run([str(bin_dir / "kubectl-microseg"), "--version"], env)
    assert second.returncode == 0 and second.stderr == "", second.stderr


@pytest.mark.slow
def test_build_renders_the_manifest_and_verify_fails_when_a_sha_disagrees(host_build, tmp_path, capsys,
                                                                        monkeypatch):
    """The release path, for this machine's platform and Python: ``build`` writes the archive and dist's
    manifest (never a tracked file), whose sha256 is the one of an independent build of the same sources
    (the fixture's); ``verify`` compares a manifest with a build and fails, naming the platform, when a
    sha256 differs. (verify's rebuild is the fixture's build here, to build only once more.)"""
    target, python = host_build.first.target, host_python()
    tracked = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                             capture_output=True, text=True, check=False).stdout
    out = tmp_path / "release"
    assert build_release.main(["build", "--platform", target.key, "--python", python, "--out", str(out)]) == 0
    assert subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                          capture_output=True, text=True, check=False).stdout == tracked, "build rewrote a tracked file"
    manifest_path = out / "microseg.yaml"
    manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    archive = next(out.glob("*.tar.gz"))
    platform = krew.find_platform(manifest, target.os, target.arch)
    assert platform["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert platform["sha256"] == host_build.first.sha256, "the manifest's sha256 is what another build gives"
    assert (out / "SHA256SUMS").read_text(encoding="utf-8") == f"{platform['sha256']}  {archive.name}\n"

    calls = []

    def rebuilt(project, wheel, targets, pythons, lock, out_dir):
        calls.append(([t.key for t in targets], pythons))
        return [host_build.first]

    monkeypatch.setattr(build_release, "build_all", rebuilt)
    capsys.readouterr()
    assert build_release.main(["verify", str(manifest_path), "--python", python]) == 0, capsys.readouterr().err
    assert "match a fresh build" in capsys.readouterr().out
    assert calls == [([target.key], [python])], "verify rebuilds the manifest's platforms with the given Python"
    platform["sha256"] = "0" * 64
    manifest_path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    assert build_release.main(["verify", str(manifest_path), "--python", python]) == 1
    err = capsys.readouterr().err
    assert f"{target.os}/{target.arch}: the manifest says sha256 {'0' * 64}, the build gives " \
           f"{host_build.first.sha256}" in err, err
