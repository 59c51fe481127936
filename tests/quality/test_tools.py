"""The static checks run as tests, so the README's test command (and .ci/run, which runs it) is the one
command that checks everything: ruff (lint) and mypy (types; strict on the core), as configured in
pyproject.toml. Each prints the tool's own findings; run the tool alone to iterate (docs/design.md, "Checks")."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .imports import ROOT


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, check=False,
                          timeout=600)


def test_ruff() -> None:
    done = run("-m", "ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert done.returncode == 0, done.stdout + done.stderr



@pytest.mark.slow
def test_mypy() -> None:
    """mypy as pyproject.toml configures it, on the installed layout (scripts/typecheck.py)."""
    done = run("scripts/typecheck.py")
    assert done.returncode == 0, done.stdout + done.stderr
