"""Type-check the installed layout with mypy, reporting errors at the files' real paths.

`tui/` and `plugins/` stand at the top of the repository but install as `kubectl_microseg.tui` and
`kubectl_microseg.plugins` (pyproject.toml's package-dir mapping). Tools that read source trees (mypy) see
that namespace only through a tree laid out as installed: this script lays one out in `build/layout/` —
`kubectl_microseg/` with a symlink for each of its entries plus one per mapped package — which
pyproject.toml's `[tool.mypy] mypy_path` points at, runs mypy, and rewrites `build/layout/...` in its
output to the repository path (`tui/app.py`, not `build/layout/kubectl_microseg/tui/app.py`).

Why not `pip install -e . --config-settings editable_mode=strict`: that link tree freezes the file list
(a new module is invisible until the next install), and `python -m pytest` from the repository root,
the README's test command, puts the root first on sys.path, where `kubectl_microseg/` has no `tui`, so
every TUI import fails. The layout here is remade on each run and never on sys.path.

    .venv/bin/python scripts/typecheck.py            # mypy as configured in pyproject.toml
    .venv/bin/python scripts/typecheck.py --layout   # only (re)make build/layout
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = ROOT / "build" / "layout"
PACKAGE = "kubectl_microseg"


def mapped_packages() -> dict[str, str]:
    """Sub-packages that live outside `kubectl_microseg/`: {"tui": "tui", "plugins": "plugins"}."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dir: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    prefix = PACKAGE + "."
    return {name[len(prefix):]: path for name, path in package_dir.items()
            if name.startswith(prefix) and "." not in name[len(prefix):]}


def make_layout() -> Path:
    """(Re)make build/layout/kubectl_microseg: symlinks to every entry of the package and to each mapped
    sub-package. Directories are linked whole, so only a new top-level entry needs a new run."""
    target = LAYOUT / PACKAGE
    target.mkdir(parents=True, exist_ok=True)
    wanted = {entry.name: entry for entry in (ROOT / PACKAGE).iterdir()
              if entry.name != "__pycache__"}
    wanted.update({name: ROOT / path for name, path in mapped_packages().items()})
    for existing in target.iterdir():
        if existing.name not in wanted or os.readlink(existing) != os.path.relpath(wanted[existing.name], target):
            existing.unlink()
    for name, source in wanted.items():
        link = target / name
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(source, target))
    return target


def real_path(match: re.Match[str]) -> str:
    return os.path.relpath(os.path.realpath(match.group(0)), ROOT)


def main(argv: list[str]) -> int:
    make_layout()
    if argv[:1] == ["--layout"]:
        return 0
    done = subprocess.run([sys.executable, "-m", "mypy", *argv], cwd=ROOT, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    layout = re.escape(os.path.relpath(LAYOUT, ROOT) + os.sep)
    sys.stdout.write(re.sub(rf"(?m)(?<![\w/]){layout}\S+?\.pyi?(?=:)", real_path, done.stdout))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
