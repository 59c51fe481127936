"""Provides the release archive: a deterministic ``.tar.gz`` with the launcher, the zipapp and LICENSE.

Layout (flat, so the krew manifest needs no ``files`` section)::

    kubectl-microseg   launcher (the manifest's ``bin``), mode 0755
    microseg.pyz       the zipapp, mode 0644
    LICENSE            Apache-2.0
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path

from .targets import Target

LAUNCHER_NAME = "kubectl-microseg"
PYZ_NAME = "microseg.pyz"
LICENSE_NAME = "LICENSE"
_LAUNCHER_TEMPLATE = Path(__file__).with_name("launcher.sh")


def archive_name(version: str, target: Target) -> str:
    """``kubectl-microseg_v0.1.0_linux_amd64.tar.gz``."""
    return f"kubectl-microseg_v{version}_{target.os}_{target.arch}.tar.gz"


def launcher_text(pythons: list[str], build_id: str) -> str:
    """The launcher script: the Python versions the archive has wheels for (newest first) and the
    zipapp's build id (which names the folder it unpacks into, so the launcher knows a first run)."""
    newest_first = sorted(pythons, key=lambda v: tuple(int(p) for p in v.split(".")), reverse=True)
    text = _LAUNCHER_TEMPLATE.read_text(encoding="utf-8")
    return text.replace("@PYTHONS@", " ".join(newest_first)).replace("@BUILD_ID@", build_id)


def shiv_build_id(pyz: Path) -> str:
    """The ``build_id`` shiv wrote into the zipapp's environment.json (a hash of its site-packages)."""
    with zipfile.ZipFile(pyz) as zf:
        return str(json.loads(zf.read("environment.json"))["build_id"])


def write_archive(dest: Path, members: dict[str, tuple[bytes, int]], epoch: int) -> Path:
    """Write a tar.gz whose bytes depend only on ``members`` and ``epoch``.

    Args:
        dest: the archive to write.
        members: name -> (content, mode); written in sorted order as regular files owned by 0:0.
        epoch: the modification time of every member.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in sorted(members):
            content, mode = members[name]
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = mode
            info.mtime = epoch
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(content))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
        gz.write(buf.getvalue())
    return dest


def build_archive(dest: Path, pyz: Path, license_file: Path, pythons: list[str], epoch: int) -> Path:
    """Write the release archive of one target."""
    members = {
        LAUNCHER_NAME: (launcher_text(pythons, shiv_build_id(pyz)).encode("utf-8"), 0o755),
        PYZ_NAME: (pyz.read_bytes(), 0o644),
        LICENSE_NAME: (license_file.read_bytes(), 0o644),
    }
    return write_archive(dest, members, epoch)
