"""Provides what every release step shares: the repository root, project metadata, running tools, errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[2]
"""The repository root (scripts/release/common.py is two levels below it)."""

DEFAULT_EPOCH = 315532800
"""1980-01-01T00:00:00Z: the fixed time of every file in the archives unless SOURCE_DATE_EPOCH is set
(the oldest time a zip entry can carry)."""


BUNDLED_EXTRAS = ("fast",)
"""The project's extras every krew archive includes (``fast``: rapidyaml, whose wheels exist for every
archive target)."""


def with_extras(project_wheel: Path) -> str:
    """The pip requirement of the project's wheel with :data:`BUNDLED_EXTRAS`."""
    return f"{project_wheel}[{','.join(BUNDLED_EXTRAS)}]"


def bundled_requires(requires: list[str]) -> list[str]:
    """The Requires-Dist lines an archive installs: the runtime ones and those of :data:`BUNDLED_EXTRAS`."""
    def wanted(line: str) -> bool:
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", line)
        return extra is None or extra.group(1) in BUNDLED_EXTRAS
    return sorted(r for r in requires if wanted(r))


class ReleaseError(Exception):
    """A release step could not be completed; the message says what to do."""


@dataclass(frozen=True)
class Project:
    """The facts of pyproject.toml the release needs."""

    name: str
    version: str
    requires_python: str
    build_requires: tuple[str, ...]
    package_dirs: dict[str, str]
    """Import package -> source folder (setuptools ``package-dir``), e.g. kubectl_microseg.tui -> tui."""
    packages: tuple[str, ...]
    scripts: dict[str, str]
    """Console scripts: executable name -> ``module:function``."""


def load_project(repo: Path = REPO) -> Project:
    """Read pyproject.toml."""
    data: dict[str, Any] = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    proj = data["project"]
    tool = data.get("tool", {}).get("setuptools", {})
    return Project(
        name=proj["name"],
        version=proj["version"],
        requires_python=proj.get("requires-python", ""),
        build_requires=tuple(data.get("build-system", {}).get("requires", [])),
        package_dirs=dict(tool.get("package-dir", {})),
        packages=tuple(tool.get("packages", [])),
        scripts=dict(proj.get("scripts", {})),
    )


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name: ``ruamel.yaml`` -> ``ruamel-yaml``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH if set (reproducible-builds.org convention), else :data:`DEFAULT_EPOCH`."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(value) if value.strip() else DEFAULT_EPOCH


def run(cmd: list[str | os.PathLike[str]], *, env: dict[str, str] | None = None, what: str) -> str:
    """Run a tool, return its stdout; on failure raise ReleaseError with its stderr.

    Args:
        cmd: the command and its arguments.
        env: extra environment variables (added to the current environment).
        what: a few words naming the step, for the error message.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=full_env, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
        raise ReleaseError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def pip(*args: str | os.PathLike[str], env: dict[str, str] | None = None, what: str) -> str:
    """Run the pip of the interpreter running this script."""
    return run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], env=env, what=what)


def log(message: str) -> None:
    """Progress on stderr (stdout stays for results)."""
    print(message, file=sys.stderr, flush=True)
