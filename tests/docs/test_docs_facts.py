"""What the docs state as fact stays true: the demo's numbers, the contract's text, links, the first commands.

Every failure names the doc and line, and what the repository says instead.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kubectl_microseg import cli

from .doccommands import REPO, doc_files

DEMO = REPO / "kubectl_microseg" / "demo"
CONTRACT = REPO / "docs" / "contract.md"
SHARED_END = "<!-- END OF THE SHARED CONTRACT."
FIRST_COMMANDS = [
    "bash scripts/setup.sh && .venv/bin/kubectl-microseg --demo matrix",
    "bash scripts/setup.sh && .venv/bin/python -m pytest -q",
]


def _line_of(path: Path, pattern: re.Pattern[str]) -> tuple[int, re.Match[str]]:
    """The first line matching ``pattern`` (whole text searched, so a sentence may wrap)."""
    text = path.read_text(encoding="utf-8")
    m = pattern.search(text)
    assert m, f"{path.relative_to(REPO)}: no sentence matching {pattern.pattern!r} (the test reads the number there)"
    return text.count("\n", 0, m.start()) + 1, m


def _shared_contract() -> Path | None:
    """``shared/CONTRACT.md`` beside the repository or beside a folder holding it (a worktree)."""
    for folder in REPO.parents:
        candidate = folder / "shared" / "CONTRACT.md"
        if candidate.is_file():
            return candidate
    return None


def _demo_objects() -> list[dict]:
    return [d for p in sorted((DEMO / "cluster").rglob("*.yaml"))
            for d in yaml.safe_load_all(p.read_text(encoding="utf-8")) if d]


def test_demo_md_counts_the_expected_flows():
    flows = yaml.safe_load((DEMO / "expectations.yaml").read_text(encoding="utf-8"))["flows"]
    allow = sum(1 for f in flows if f.get("expect", "allow") == "allow")
    deny = sum(1 for f in flows if f.get("expect") == "deny")
    line, m = _line_of(REPO / "docs/demo.md", re.compile(r"lists (\d+) flows\s+\((\d+) allow, (\d+) deny\)"))
    stated = tuple(int(g) for g in m.groups())
    assert stated == (len(flows), allow, deny), \
        f"docs/demo.md:{line}: says {stated[0]} flows ({stated[1]} allow, {stated[2]} deny); " \
        f"expectations.yaml has {len(flows)} ({allow} allow, {deny} deny)"


def test_demo_md_counts_workloads_policies_and_namespaces():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(["--demo", "matrix", "-o", "json"]) == 0
    endpoints = json.loads(buf.getvalue())["endpoints"]
    workloads = sum(1 for e in endpoints if e["kind"] != "External")
    objects = _demo_objects()
    policies = sum(1 for o in objects if o.get("kind") == "NetworkPolicy")
    namespaces = sum(1 for o in objects if o.get("kind") == "Namespace")
    line, m = _line_of(REPO / "docs/demo.md", re.compile(
        r"The demo has (\d+) workloads,\s+(\d+) NetworkPolicies\s+and\s+(\d+) namespaces"))
    stated = tuple(int(g) for g in m.groups())
    assert stated == (workloads, policies, namespaces), \
        f"docs/demo.md:{line}: says {stated}; the demo has {workloads} workloads, {policies} NetworkPolicies, " \
        f"{namespaces} namespaces"


def test_docs_contract_is_the_shared_contract_verbatim_then_our_extensions():
    text = CONTRACT.read_text(encoding="utf-8")
    assert SHARED_END in text, f"docs/contract.md: the line {SHARED_END!r} must end the shared text"
    ours = text[text.index(SHARED_END):]
    assert "## Extensions in this repository" in ours, "docs/contract.md: our extensions go after the shared text"
    shared = _shared_contract()
    if shared is None:
        pytest.skip("shared/CONTRACT.md is not beside the repository")
    expected = shared.read_text(encoding="utf-8")
    head = text[: text.index(SHARED_END)]
    if head.rstrip("\n") != expected.rstrip("\n"):
        got, want = head.splitlines(), expected.splitlines()
        n = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        pytest.fail(f"docs/contract.md:{n + 1} differs from {shared}:{n + 1}: "
                    f"{got[n] if n < len(got) else '<end>'!r} != {want[n] if n < len(want) else '<end>'!r} "
                    f"(copy the shared text verbatim; put additions after the END marker)")


_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(path: Path):
    """Every relative link (and image) of README.md and docs/*.md names a file or folder of the repository."""
    in_code = False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        if in_code:
            continue
        for m in _LINK.finditer(re.sub(r"`[^`]*`", "", line)):
            target = (m.group(1) or m.group(2)).split("#", 1)[0]
            if not target or re.match(r"^[a-z]+:", target):
                continue
            assert (path.parent / target).exists(), f"{path.relative_to(REPO)}:{n}: link to {target} resolves to nothing"


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_docs_name_the_contract_that_is_in_the_repository(path: Path):
    """The contract is docs/contract.md; a bare ``CONTRACT.md`` is a file the repository does not have."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        for m in re.finditer(r"(\S*)CONTRACT\.md", line):
            assert m.group(1).endswith("shared/") or path == CONTRACT, \
                f"{path.relative_to(REPO)}:{n}: names CONTRACT.md; link docs/contract.md instead"


def test_readme_starts_with_the_two_commands():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block and text.index(block.group(0)) < text.index("\n## "), "README.md: the first section opens with a sh block"
    lines = [ln.split("#")[0].strip() for ln in block.group(1).splitlines()]
    assert lines[:2] == FIRST_COMMANDS, f"README.md: the first two commands changed: {lines[:2]}"


def test_readme_says_how_kubectl_microseg_gets_on_path():
    """The quick tour types ``kubectl microseg``; right after setup that works once .venv/bin is on PATH.

    Runs the README's own PATH line and the tour's first command in bash, through kubectl's plugin
    mechanism when kubectl is installed (else the executable it would find).
    """
    line, m = _line_of(REPO / "README.md", re.compile(r'`(export PATH="\$PWD/\.venv/bin:\$PATH")`'))
    text = (REPO / "README.md").read_text(encoding="utf-8")
    tour = text.index("```sh", text.index("## Quick tour"))
    assert line <= text.count("\n", 0, tour), f"README.md:{line}: the PATH line must come before the quick tour's commands"
    if not (REPO / ".venv" / "bin" / "kubectl-microseg").exists():
        pytest.skip("no .venv in the repository (scripts/setup.sh makes it)")
    command = "kubectl microseg --demo matrix" if shutil.which("kubectl") else "kubectl-microseg --demo matrix"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"  # a fresh shell: the venv is not active
    done = subprocess.run(["bash", "-c", f"{m.group(1)} && {command}"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"README.md:{line}: `{m.group(1)} && {command}` failed: {done.stderr[-1500:]}"
    assert "production/api-server" in done.stdout
