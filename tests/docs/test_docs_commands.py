"""Every ``kubectl microseg ...`` command in README.md and docs/*.md works as the docs say.

How commands are found and which ones run (on the demo) or only parse: tests/docs/doccommands.py.
A failure names the doc line: ``docs/demo.md:12: `kubectl microseg --demo get` exited 2, documented 0``.
"""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from kubectl_microseg import cli

from .doccommands import REPO, DocCommand, Mode, all_commands, doc_files, references_in

COMMANDS = all_commands()


def _id(c: DocCommand) -> str:
    return f"{c.where} {' '.join(c.argv)[:60]}"


def _run(argv: tuple[str, ...]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:  # argparse: usage error (2) or --help/--version (0)
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def _parse_error(argv: tuple[str, ...]) -> str | None:
    """argparse's message when the command line does not parse, else None."""
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        try:
            cli.build_parser(list(argv)).parse_args(list(argv))
        except SystemExit as exc:
            if exc.code not in (0, None):
                return err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {exc.code}"
    return None


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run from the repository root (docs name repository paths), with a scratch HOME and no kubeconfig."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("NO_COLOR", raising=False)


def test_the_docs_have_commands_to_check():
    """The extraction finds the quick tour and the docs' examples (a broken extractor checks nothing)."""
    where = {c.where.split(":")[0] for c in COMMANDS}
    assert {"README.md", "docs/demo.md", "docs/lint.md", "docs/simulate.md", "docs/nftables.md"} <= where
    runs = [c for c in COMMANDS if c.mode()[0] is Mode.RUN]
    assert len(runs) >= 15, [c.where for c in runs]
    readme = [c.argv for c in COMMANDS if c.path.name == "README.md"]
    assert ("--demo", "matrix") in readme, readme


@pytest.mark.parametrize("command", COMMANDS, ids=_id)
def test_documented_command(command: DocCommand, in_repo: None) -> None:
    mode, _why = command.mode()
    shown = f"{command.where}: `{command.text}`"
    if mode is Mode.SYNOPSIS:
        words = command.subcommand()
        assert not words or words[0] in cli.command_names() or words[0].startswith("["), \
            f"{shown}: no subcommand {words[0]!r}"
        return
    problem = _parse_error(command.argv)
    assert problem is None, f"{shown}: does not parse ({problem})"
    if mode is Mode.PARSE:
        return
    code, out, err = _run(command.argv)
    assert "Traceback" not in err, f"{shown}: traceback\n{err}"
    assert code == command.expected_exit, (
        f"{shown}: exited {code}, documented {command.expected_exit} "
        f"(write `# ... (exit N)` after a command that exits N)\n{err[-2000:]}")
    printed = {line.rstrip() for line in (out + err).splitlines()}
    for shown_line in command.output:
        if shown_line.strip() in ("", "...", "…"):
            continue
        assert shown_line.rstrip() in printed, (
            f"{shown}: the docs show the output line {shown_line.strip()!r}, which the command does not print")


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_referenced_commands_exist(path: Path) -> None:
    """Inline `kubectl microseg WORD` references in prose name real subcommands."""
    names = set(cli.command_names())
    for line, text, argv in references_in(path):
        words = [a for a in argv if not a.startswith("-") and a != "..."]
        if words:
            assert words[0] in names, f"{path.relative_to(REPO)}:{line}: `{text}` names no subcommand {words[0]!r}"


def test_extraction_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The extractor itself: prompts, continuations, sudo, comments, exits, transcripts, markers, modes."""
    from . import doccommands as dc

    monkeypatch.setattr(dc, "REPO", tmp_path)
    doc = tmp_path / "x.md"
    doc.write_text(
        "Use `kubectl microseg lint` here.\n"
        "```sh\n"
        "bash scripts/setup.sh && .venv/bin/kubectl-microseg --demo matrix   # first\n"
        "kubectl microseg --demo test flows.yaml   # a failing flow (exit 1)\n"
        "kubectl microseg nft scaffold --mgmt 10.0.0.0/24 \\\n"
        "    --segment api=10.0.10.0/24\n"
        "sudo kubectl microseg nft apply host.nft\n"
        "kubectl plugin list   # lists kubectl-microseg\n"
        "pipx install kubectl-microseg\n"
        "kubectl microseg [SOURCE] scaffold KIND\n"
        "```\n"
        "<!-- doc-commands: parse -->\n"
        "```console\n"
        "$ kubectl microseg --demo get\n"
        "NAMESPACE  X\n"
        "$ kubectl microseg matrix\n"
        "```\n", encoding="utf-8")
    got = dc.commands_in(doc)
    assert [(c.line, c.argv) for c in got] == [
        (3, ("--demo", "matrix")),
        (4, ("--demo", "test", "flows.yaml")),
        (5, ("nft", "scaffold", "--mgmt", "10.0.0.0/24", "--segment", "api=10.0.10.0/24")),
        (7, ("nft", "apply", "host.nft")),
        (10, ("[SOURCE]", "scaffold", "KIND")),
        (14, ("--demo", "get")),
        (16, ("matrix",)),
    ]
    first, failing, scaffold, apply, synopsis, get, live = got
    assert first.mode()[0] is Mode.RUN and first.expected_exit == 0
    assert failing.expected_exit == 1 and failing.mode() == (Mode.PARSE, "needs the user's file flows.yaml")
    assert scaffold.mode()[0] is Mode.RUN, "nft scaffold reads nothing"
    assert apply.sudo and apply.mode()[0] is Mode.PARSE
    assert synopsis.mode()[0] is Mode.SYNOPSIS
    assert get.output == ("NAMESPACE  X",) and get.forced_parse and get.mode()[0] is Mode.PARSE
    assert live.output == () and live.mode() == (Mode.PARSE, f"marked {dc.FORCE_PARSE}")
    assert dc.DocCommand(doc, 1, "", ("matrix",), "", "sh", (), False, False).mode() == \
        (Mode.PARSE, "needs a live cluster or host firewall")
    assert dc.references_in(doc) == [(1, "kubectl microseg lint", ["lint"])]


def test_a_wrong_exit_code_or_output_in_the_docs_fails(in_repo: None) -> None:
    """The check can fail: the demo's `get` does not exit 1 and does not print an invented line."""
    code, out, _ = _run(("--demo", "get"))
    assert code == 0 and "invented line" not in out
    assert _parse_error(("--demo", "matrix", "--no-such-option")) is not None
    assert _parse_error(("--demo", "no-such-command")) is not None
    assert os.path.isdir(REPO / "docs")
