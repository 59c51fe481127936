"""Provides shell completion computed from the real argparse parser, and ``kubectl_complete-microseg``.

kubectl (>= 1.26) completes ``kubectl microseg <TAB>`` by running ``kubectl_complete-microseg`` with
the words typed after the plugin name, the last one being the word under the cursor (possibly "").
The answer is one candidate per line (``value`` or ``value<TAB>description``) and a last line
``:<directive>``, a Cobra ShellCompDirective. The bash, zsh and fish scripts of ``completions/`` ask
the same question through ``kubectl-microseg completion __complete``, so every shell sees the same
answers, and subcommands and flags come from :func:`kubectl_microseg.cli.build_parser`: a command
added there completes without touching this module.

Value completion for an option or positional, in order: a ``completer`` attribute set on the argparse
action (a callable ``(prefix, lookup) -> list[str]`` or one of the :data:`KINDS` names), the action's
``choices``, then its ``dest``/``metavar`` (namespace, pod, context, file, ...).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .completion_lookup import Lookup

DIRECTIVE_DEFAULT = 0
"""No directive: the shell may fall back to file names when no candidate is given."""
DIRECTIVE_ERROR = 1
DIRECTIVE_NOFILE = 4
"""Do not complete file names (Cobra ShellCompDirectiveNoFileComp)."""

KINDS = ("namespaces", "pods", "endpoints", "contexts", "files", "none")
"""Names accepted in an action's ``completer`` attribute."""

_BY_TOKEN: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"addr", "address", "addresses", "ip", "cidr", "port", "sport", "dport"}), "none"),
    (frozenset({"namespace", "namespaces", "ns"}), "namespaces"),
    (frozenset({"context"}), "contexts"),
    (frozenset({"pod", "pods", "po"}), "pods"),
    (frozenset({"kubeconfig", "filename", "file", "files", "path", "flows", "manifest", "manifests", "ruleset",
                "dir", "directory", "inventory"}), "files"),
    (frozenset({"endpoint", "workload", "workloads", "src", "dst", "source", "destination", "from", "to", "target", "peer"}),
     "endpoints"),
)
"""Words of an action's dest or metavar -> what its values are (first match wins)."""
_DURATIONS = ("0", "5s", "10s", "30s", "1m")


@dataclass
class Completion:
    """The answer to one completion request."""

    candidates: list[str] = field(default_factory=list)
    """``value`` or ``value\\tdescription``, already filtered by the typed prefix."""
    directive: int = DIRECTIVE_NOFILE

    def lines(self) -> list[str]:
        """The protocol's output lines (candidates, then ``:<directive>``)."""
        return [*self.candidates, f":{self.directive}"]


@dataclass
class _State:
    """Where the words typed so far lead in the parser tree."""

    parser: argparse.ArgumentParser
    values: dict[str, object] = field(default_factory=dict)
    """Option values seen so far (dest -> value), e.g. namespace, context, filename, demo."""
    positionals: list[str] = field(default_factory=list)
    """Positional words given to the current (sub)parser."""
    pending: argparse.Action | None = None
    """An option whose value is the next word."""
    only_positionals: bool = False
    """A ``--`` was typed."""


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def subcommands(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Visible subcommand name -> help (names starting with ``_`` are internal)."""
    sub = _subparsers(parser)
    if sub is None:
        return {}
    helps = {a.dest: (a.help or "") for a in sub._choices_actions}
    return {name: helps.get(name, "") for name in sub.choices if not name.startswith("_")}


def options(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Option string -> help for the options of one parser (hidden ones left out)."""
    out = {}
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        for opt in action.option_strings:
            out[opt] = (action.help or "").replace("\n", " ")
    return out


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0 and not isinstance(action, argparse._SubParsersAction)


def _walk(parser: argparse.ArgumentParser, words: Sequence[str]) -> _State:
    """Follow the completed words through the parser tree."""
    state = _State(parser)
    for word in words:
        if state.pending is not None:
            _record(state, state.pending, word)
            state.pending = None
        elif state.only_positionals or not word.startswith("-") or word == "-":
            sub = _subparsers(state.parser)
            if sub is not None and word in sub.choices:
                state.parser, state.positionals = sub.choices[word], []
            else:
                state.positionals.append(word)
        elif word == "--":
            state.only_positionals = True
        else:
            _take_option(state, word)
    return state


def _take_option(state: _State, word: str) -> None:
    """Record an option word: ``--opt``, ``--opt=value``, ``-n`` or ``-nvalue``."""
    actions = state.parser._option_string_actions
    if word.startswith("--") and "=" in word:
        opt, _, value = word.partition("=")
        if opt in actions:
            _record(state, actions[opt], value)
        return
    if word in actions:
        action = actions[word]
        if _takes_value(action):
            state.pending = action
        else:
            state.values[action.dest] = True
        return
    if not word.startswith("--") and word[:2] in actions and _takes_value(actions[word[:2]]):
        _record(state, actions[word[:2]], word[2:])


def _record(state: _State, action: argparse.Action, value: str) -> None:
    """Remember an option's value (a list for repeatable options such as ``-f``)."""
    if isinstance(action, argparse._AppendAction):
        previous = state.values.get(action.dest)
        state.values[action.dest] = [*(previous if isinstance(previous, list) else []), value]
    else:
        state.values[action.dest] = value


def _tokens(*texts: object) -> set[str]:
    return {t for x in texts if isinstance(x, str) for t in re.split(r"[^a-z]+", x.lower()) if t}


def _kind_for(action: argparse.Action, earlier: Sequence[str]) -> str | None:
    """What an action's values are, from its dest and metavar (``name``: from the words before it)."""
    tokens = _tokens(action.dest, action.metavar)
    # A bare "name" says nothing: the resource typed before it does ("explain pod NAME"), else the help.
    candidates = [_tokens(*earlier), _tokens(action.help)] if tokens & {"name", "names"} else [tokens]
    for words in candidates:
        for keys, kind in _BY_TOKEN:
            if words & keys:
                return kind
    return None


def _values(action: argparse.Action, prefix: str, lookup: Lookup, earlier: Sequence[str] = ()) -> Completion:
    """Candidates for the value of one option or positional."""
    completer = getattr(action, "completer", None)
    if callable(completer):
        return Completion(_filter(completer(prefix, lookup), prefix))
    kind = completer if isinstance(completer, str) else None
    if kind is None and action.choices is not None:
        return Completion(_filter([str(c) for c in action.choices], prefix))
    if kind is None and action.dest == "request_timeout":
        return Completion(_filter(_DURATIONS, prefix))
    kind = kind or _kind_for(action, earlier)
    if kind == "files" or kind is None:
        return Completion([], DIRECTIVE_DEFAULT)
    if kind == "none":
        return Completion()
    found = {"namespaces": lookup.namespaces, "pods": lookup.pods, "endpoints": lookup.endpoints,
             "contexts": lookup.contexts}[kind]()
    return Completion(_filter(found, prefix))


def _filter(values: Sequence[str], prefix: str) -> list[str]:
    return sorted({v for v in values if v.split("\t", 1)[0].startswith(prefix)})


def _described(items: dict[str, str], prefix: str) -> list[str]:
    return [f"{k}\t{v}" if v else k for k, v in sorted(items.items()) if k.startswith(prefix)]


def complete(words: Sequence[str], parser: argparse.ArgumentParser | None = None,
             lookup_factory: Callable[[dict[str, object]], Lookup] = Lookup) -> Completion:
    """Complete the last of ``words`` (the words after ``kubectl microseg``; the last may be "").

    Args:
        words: the typed words; the last one is the word under the cursor.
        parser: the parser to complete against (default: the real one, with every subcommand).
        lookup_factory: builds the namespace/pod source from the options typed so far (tests replace it).
    """
    if parser is None:
        from .cli import build_parser

        parser = build_parser()
    words = list(words) or [""]
    *done, current = words
    state = _walk(parser, done)
    lookup = lookup_factory(state.values)
    if state.pending is not None:
        return _values(state.pending, current, lookup)
    if current.startswith("-") and not state.only_positionals:
        if current.startswith("--") and "=" in current:
            opt, _, value = current.partition("=")
            action = state.parser._option_string_actions.get(opt)
            if action is None or not _takes_value(action):
                return Completion()
            answer = _values(action, value, lookup)
            answer.candidates = [f"{opt}={c}" for c in answer.candidates]
            return answer
        return Completion(_described(options(state.parser), current))
    names = subcommands(state.parser)
    if names:
        return Completion(_described(names, current))
    positionals = [a for a in state.parser._actions if not a.option_strings]
    index = len(state.positionals)
    if index >= len(positionals) and positionals and positionals[-1].nargs in ("*", "+", argparse.REMAINDER):
        index = len(positionals) - 1
    if index < len(positionals):
        return _values(positionals[index], current, lookup, state.positionals)
    return Completion()


def kubectl_complete(argv: list[str] | None = None) -> int:
    """Entry point of ``kubectl_complete-microseg``: print the candidates and the directive."""
    words = sys.argv[1:] if argv is None else argv
    try:
        answer = complete(words)
    except (SystemExit, Exception) as exc:
        if os.environ.get("KUBECTL_MICROSEG_COMPLETION_DEBUG"):
            print(f"completion failed: {exc!r}", file=sys.stderr)
        answer = Completion([], DIRECTIVE_ERROR)
    sys.stdout.write("\n".join(answer.lines()) + "\n")
    return 0
