"""Finds every ``kubectl microseg ...`` command in README.md and docs/*.md and decides how to check it.

A command is found wherever ``kubectl microseg`` (or ``kubectl-microseg``, ``.venv/bin/kubectl-microseg``)
stands in command position in a fenced code block: at the start of a line, after a ``$ `` prompt, after
``sudo``, ``&&``, ``;``, ``|``, ``(`` or ``run:``. Backslash-continued lines are joined. Inline code in
prose (`` `kubectl microseg lint` ``) is a *reference*: its subcommand must exist.

How a command is checked (its ``Mode``), decided from the command itself so that new docs need no
bookkeeping:

- ``RUN``: it uses ``--demo`` (or only files that exist in the repository) and has no side effects:
  it is run in-process from the repository root and must exit with the documented code: 0, or N when
  its trailing comment says ``(exit N)``. In a ``console``/``text`` transcript (``$ command`` followed
  by output) every output line shown must appear in what the command prints.
- ``PARSE``: it needs something only the user has (a live cluster, a host firewall, their own files,
  root), is interactive (``tui``, ``--watch``) or changes something (``apply``, ``completion install``,
  ``--out``): the command line must parse (no usage error).
- ``SYNOPSIS``: a usage line with placeholders (``[SOURCE]``, ``KIND``, ``...``): its subcommand must exist.

A block can be forced to ``PARSE`` with ``<!-- doc-commands: parse -->`` on the line before its fence.
"""

from __future__ import annotations

import enum
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROMPT = "$ "
FORCE_PARSE = "<!-- doc-commands: parse -->"
TRANSCRIPT_LANGS = {"console", "text", "shell-session"}
SKIP_LANGS = {"python", "json", "mermaid"}  # code, data and charts, not shell
_COMMAND_WORDS = {"kubectl-microseg", ".venv/bin/kubectl-microseg"}
_BEFORE_COMMAND = {"&&", "||", ";", "|", "(", "<(", "$(", "sudo", "run:"}
_EXIT = re.compile(r"\(exit (\d+)\)")
_FILE_OPTIONS = {"-f", "--filename", "--ruleset", "--inventory", "--base", "--expect", "--out", "--log",
                 "--kubeconfig", "--intent", "--flows"}
_FILE_SUFFIXES = (".yaml", ".yml", ".json", ".nft", ".conf", ".sarif", ".md", ".csv", ".html", ".svg")
_SIDE_EFFECTS = {("apply",), ("nft", "apply"), ("completion", "install")}
_INTERACTIVE = {"tui"}
_SOURCELESS_OPTIONS = {"--version", "--help", "-h", "--list-rules"}


class Mode(enum.Enum):
    """How a documented command is checked."""

    RUN = "run"
    PARSE = "parse"
    SYNOPSIS = "synopsis"


@dataclass(frozen=True)
class DocCommand:
    """One command as the docs show it, and where."""

    path: Path
    line: int
    text: str  # as written, continuation lines joined
    argv: tuple[str, ...]  # the arguments after ``kubectl microseg``
    comment: str  # the trailing ``# ...`` comment, if any
    block_lang: str  # the fence's language ("" when untagged)
    output: tuple[str, ...]  # a transcript's output lines shown after it
    forced_parse: bool
    sudo: bool

    @property
    def where(self) -> str:
        """``docs/demo.md:12`` (relative to the repository)."""
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def expected_exit(self) -> int:
        """0, or N when the trailing comment says ``(exit N)``."""
        m = _EXIT.search(self.comment)
        return int(m.group(1)) if m else 0

    def mode(self) -> tuple[Mode, str]:
        """How to check it, and why (the reason is shown when a check fails)."""
        words = [a for a in self.argv if not a.startswith("-")]
        if any(_placeholder(a) for a in self.argv):
            return Mode.SYNOPSIS, "a usage line with placeholders"
        if self.forced_parse:
            return Mode.PARSE, f"marked {FORCE_PARSE}"
        if self.sudo:
            return Mode.PARSE, "runs as root on a host"
        if self.path.name == "errors.md":
            return Mode.PARSE, "its input files are run by tests/reliability/test_error_catalogue.py"
        if (words and words[0] in _INTERACTIVE) or "--watch" in self.argv:
            return Mode.PARSE, "interactive or never ends"
        if any(tuple(words[: len(s)]) == s for s in _SIDE_EFFECTS) or "--out" in self.argv:
            return Mode.PARSE, "changes something outside the docs test"
        missing = [f for f in self.files() if f.startswith(("/", "~")) or not (REPO / f).exists()]
        if missing:  # absolute paths are the user's host, never the repository's
            return Mode.PARSE, f"needs the user's file {missing[0]}"
        if "--demo" not in self.argv and not self.files() and not self.sourceless():
            return Mode.PARSE, "needs a live cluster or host firewall"
        return Mode.RUN, "runs on the demo or needs no input"

    def sourceless(self) -> bool:
        """Does it read no cluster, firewall or file (``--version``, ``completion bash``, ``lint --list-rules``)?"""
        words = tuple(self.subcommand()[:2])
        return bool(_SOURCELESS_OPTIONS & set(self.argv)) or words[:1] == ("completion",) or words == ("nft", "scaffold")

    def files(self) -> list[str]:
        """The arguments that name files or folders (option values and path-like words)."""
        found = []
        for i, arg in enumerate(self.argv):
            value = arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg
            option = arg.split("=", 1)[0] if "=" in arg else (self.argv[i - 1] if i else "")
            if arg.startswith("-") and "=" not in arg:
                continue
            if option in _FILE_OPTIONS or value.endswith(_FILE_SUFFIXES) or value.endswith("/") or value == ".":
                found.append(value)
        return found

    def subcommand(self) -> list[str]:
        """The subcommand words (``["nft", "test"]``), skipping options and their values."""
        words, skip = [], False
        for arg in self.argv:
            if skip:
                skip = False
                continue
            if arg.startswith("-"):
                skip = "=" not in arg and arg in _VALUE_OPTIONS
                continue
            words.append(arg)
        return words


_VALUE_OPTIONS = {"-f", "--filename", "--kubeconfig", "--context", "-n", "--namespace", "--request-timeout",
                  "-o", "--output"}


def _placeholder(arg: str) -> bool:
    if arg in ("...", "…") or arg.startswith("[") or arg.endswith("]") or (arg.startswith("<") and arg.endswith(">")):
        return True
    if "|" in arg and not arg.startswith("-"):
        return True
    return len(arg) > 1 and arg.isupper() and arg.isalpha()


def doc_files() -> list[Path]:
    """README.md and every docs/*.md, in a stable order."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _tokens(text: str) -> list[str]:
    lex = shlex.shlex(text, posix=True, punctuation_chars="|&;()<>")
    lex.whitespace_split = True
    lex.commenters = "#"
    return list(lex)


def _comment(text: str) -> str:
    """The trailing ``# ...`` comment of a shell line (outside quotes)."""
    quote = None
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[i + 1:].strip()
    return ""


def _command_in(text: str) -> tuple[tuple[str, ...], bool] | None:
    """The arguments after ``kubectl microseg`` in a shell line, and whether sudo runs it; None when absent."""
    try:
        tokens = _tokens(text)
    except ValueError:  # unbalanced quotes: not a shell line
        return None
    for i, tok in enumerate(tokens):
        before = tokens[i - 1] if i else ""
        if i and before not in _BEFORE_COMMAND and not before.endswith(":"):
            continue
        if tok == "kubectl" and tokens[i + 1: i + 2] == ["microseg"]:
            start = i + 2
        elif tok in _COMMAND_WORDS or tok.endswith("/kubectl-microseg"):
            start = i + 1
        else:
            continue
        argv = []
        for arg in tokens[start:]:
            if arg and set(arg) <= set("|&;()<>"):
                break
            argv.append(arg)
        return tuple(argv), "sudo" in tokens[:i]
    return None


def commands_in(path: Path) -> list[DocCommand]:
    """Every command in the fenced code blocks of one Markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[DocCommand] = []
    lang: str | None = None
    forced = False
    i = 0
    while i < len(lines):
        raw = lines[i]
        fence = re.match(r"^\s*(```|~~~)\s*([\w+-]*)", raw)
        if fence:
            if lang is None:
                lang = fence.group(2).lower()
                forced = i > 0 and lines[i - 1].strip() == FORCE_PARSE
            else:
                lang = None
            i += 1
            continue
        if lang is None or lang in SKIP_LANGS:
            i += 1
            continue
        start = i
        text = raw.strip()
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1].rstrip() + " " + lines[i].strip()
        transcript = text.startswith(PROMPT)
        shell = text[len(PROMPT):] if transcript else text
        hit = _command_in(shell)
        output: list[str] = []
        if hit and transcript and lang in TRANSCRIPT_LANGS:
            while i + 1 < len(lines) and not lines[i + 1].lstrip().startswith(("```", "~~~", PROMPT)):
                i += 1
                output.append(lines[i])
        if hit:
            argv, sudo = hit
            found.append(DocCommand(path, start + 1, shell, argv, _comment(shell), lang, tuple(output), forced, sudo))
        i += 1
    return found


def references_in(path: Path) -> list[tuple[int, str, list[str]]]:
    """Inline-code references ``kubectl microseg WORDS`` in prose: (line, text, arguments)."""
    refs = []
    lang = None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if re.match(r"^\s*(```|~~~)", line):
            lang = None if lang is not None else "x"
            continue
        if lang is not None:
            continue
        for span in re.findall(r"`(kubectl[ -]microseg(?:\s[^`]*)?)`", line):
            hit = _command_in(span.replace("<TAB>", ""))
            if hit:
                refs.append((n, span, list(hit[0])))
    return refs


def all_commands() -> list[DocCommand]:
    """Every documented command of README.md and docs/*.md."""
    return [c for path in doc_files() for c in commands_in(path)]
