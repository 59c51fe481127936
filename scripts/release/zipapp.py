"""Provides the zipapp step: shiv packs a site-packages folder, then the zip is rewritten canonically.

shiv (``--reproducible``) fixes the timestamps, but takes file modes from the disk and lists its own
bootstrap files in directory order; the rewrite sorts every entry and fixes times, modes and the
compression, so the same input gives the same bytes on every machine with the same zlib.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from .common import ReleaseError, run

ENTRY_SCRIPT = "kubectl-microseg"
"""The console script whose entry point the zipapp runs (read from pyproject.toml)."""
SHEBANG = "/usr/bin/env python3"


def normalise_tree(root: Path) -> None:
    """Give every file mode 0644 and every folder 0755 (the zip entries take their modes from disk)."""
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)


def build_pyz(site_packages: Path, out: Path, epoch: int, entry_point: str) -> Path:
    """Build ``out`` (a shiv zipapp running ``entry_point``, ``module:function``) from a site-packages folder.

    shiv writes it uncompressed; :func:`canonical_zip` compresses it once.
    """
    if not _module_available("shiv"):
        raise ReleaseError("shiv is not installed: pip install -e '.[release]'")
    normalise_tree(site_packages)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="microseg-pyz-") as tmp:
        raw = Path(tmp) / out.name
        run([sys.executable, "-m", "shiv", "--site-packages", site_packages, "--entry-point", entry_point,
             "--output-file", raw, "--python", SHEBANG, "--reproducible", "--uncompressed"],
            env={"SOURCE_DATE_EPOCH": str(epoch)}, what="shiv")
        canonical_zip(raw, out, epoch)
    return out


def canonical_zip(src: Path, dest: Path, epoch: int) -> None:
    """Rewrite a zipapp with its shebang kept and its entries sorted, dated ``epoch``, mode 0644."""
    data = src.read_bytes()
    with zipfile.ZipFile(src) as zin:
        prefix = data[: min(i.header_offset for i in zin.infolist())] if zin.infolist() else b""
        entries = sorted((i.filename, zin.read(i)) for i in zin.infolist() if not i.is_dir())
    date_time = time.gmtime(max(epoch, 315532800))[:6]
    with dest.open("wb") as fh:
        fh.write(prefix)
        with zipfile.ZipFile(fh, "w") as zout:
            for name, content in entries:
                info = zipfile.ZipInfo(name, date_time=date_time)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3  # Unix, so external_attr is read as a mode
                info.external_attr = 0o100644 << 16
                zout.writestr(info, content, compresslevel=6)
    dest.chmod(0o755)


def _module_available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None
