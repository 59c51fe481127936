"""Provides ``kubectl microseg completion``: shell scripts, the kubectl completion helper, and the protocol.

- ``completion bash|zsh|fish`` prints the script completing the ``kubectl-microseg`` command (the
  same files as ``completions/`` in the repository).
- ``completion install [--dir DIR]`` writes ``kubectl_complete-microseg``, which kubectl >= 1.26 runs
  to complete ``kubectl microseg <TAB>``; krew installs only ``kubectl-microseg``, so krew users need it.
- ``completion __complete WORDS...`` answers one request (used by the scripts and the helper).

The scripts hold no command names: they ask ``__complete``, which reads the real parser.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from ..cli import command_parser
from ..completion import complete
from ..errors import UsageError

HELPER = "kubectl_complete-microseg"
PROGRAM = "kubectl-microseg"

_HELPER_SCRIPT = """#!/bin/sh
# kubectl_complete-microseg: lets `kubectl microseg <TAB>` complete through kubectl (>= 1.26).
# Written by `kubectl microseg completion install`; delete this file to undo.
exec {program} completion __complete -- "$@"
"""

BASH = r"""# bash completion for kubectl-microseg (`kubectl microseg <TAB>` is completed by kubectl's own
# completion through kubectl_complete-microseg: see `kubectl microseg completion install`).
# Load with:  source <(kubectl-microseg completion bash)
_kubectl_microseg() {
    local cur words cword
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref -n =: cur words cword
    else  # without bash-completion: glue back the words that COMP_WORDBREAKS split at '='
        local i; words=()
        for (( i = 0; i <= COMP_CWORD; i++ )); do
            if (( i > 0 )) && [[ ${COMP_WORDS[i]} == "=" || ${COMP_WORDS[i-1]} == "=" ]]; then
                words[${#words[@]}-1]+=${COMP_WORDS[i]}
            else
                words+=("${COMP_WORDS[i]}")
            fi
        done
        cword=$(( ${#words[@]} - 1 )); cur=${words[cword]}
    fi
    local out
    out=$("${words[0]}" completion __complete -- "${words[@]:1:cword-1}" "$cur" 2>/dev/null) || return 0
    local directive=${out##*:}
    [[ $directive =~ ^[0-9]+$ ]] || directive=1
    local strip=""
    [[ $cur == *[=:]* ]] && strip=${cur%"${cur##*[=:]}"}
    COMPREPLY=()
    local line
    while IFS= read -r line; do
        [[ -z $line || $line == :* ]] && continue
        line=${line%%$'\t'*}
        COMPREPLY+=("${line#"$strip"}")
    done <<< "$out"
    if (( ${#COMPREPLY[@]} == 0 && (directive & 4) == 0 && (directive & 1) == 0 )); then
        compopt -o default 2>/dev/null
    fi
    (( directive & 2 )) && compopt -o nospace 2>/dev/null
    return 0
}
complete -F _kubectl_microseg kubectl-microseg
"""

ZSH = r"""#compdef kubectl-microseg
# zsh completion for kubectl-microseg (`kubectl microseg <TAB>` is completed by kubectl's own
# completion through kubectl_complete-microseg: see `kubectl microseg completion install`).
# Load with:  source <(kubectl-microseg completion zsh)   or put this file on $fpath as _kubectl-microseg
_kubectl_microseg() {
    local out directive line value
    local -a lines described
    out=$("${words[1]}" completion __complete -- "${(@)words[2,CURRENT-1]}" "${words[CURRENT]}" 2>/dev/null) || return 1
    lines=("${(@f)out}")
    directive=${lines[-1]#:}
    [[ $directive == <-> ]] || directive=1
    for line in "${(@)lines[1,-2]}"; do
        [[ -z $line ]] && continue
        value=${line%%$'\t'*}
        if [[ $line == *$'\t'* ]]; then
            described+=("${value//:/\\:}:${line#*$'\t'}")
        else
            described+=("${value//:/\\:}")
        fi
    done
    if (( ${#described} == 0 )); then
        (( (directive & 5) == 0 )) && _files
        return
    fi
    if (( directive & 2 )); then
        _describe -t values 'kubectl-microseg' described -S ''
    else
        _describe -t values 'kubectl-microseg' described
    fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _kubectl_microseg "$@"
else
    compdef _kubectl_microseg kubectl-microseg
fi
"""

FISH = r"""# fish completion for kubectl-microseg (`kubectl microseg <TAB>` is completed by kubectl's own
# completion through kubectl_complete-microseg: see `kubectl microseg completion install`).
# Load with:  kubectl-microseg completion fish | source
#   or save as ~/.config/fish/completions/kubectl-microseg.fish
function __kubectl_microseg_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($words[1] completion __complete -- $words[2..-1] "$cur" 2>/dev/null)
    or return
    set -l directive (string replace -r '^:' '' -- $out[-1])
    string match -qr '^[0-9]+$' -- $directive; or set directive 1
    set -e out[-1]
    if test (count $out) -eq 0
        if test (math "bitand($directive, 5)") -eq 0
            __fish_complete_path "$cur"
        end
        return
    end
    printf '%s\n' $out
end
complete -c kubectl-microseg -f -a '(__kubectl_microseg_complete)'
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH}
"""Shell -> completion script (``completions/`` holds the same text; a test keeps them equal)."""

SCRIPT_FILES = {"bash": "kubectl-microseg.bash", "zsh": "_kubectl-microseg", "fish": "kubectl-microseg.fish"}
"""Shell -> file name in ``completions/``."""


def register(sub) -> None:
    """Add ``completion`` and its actions."""
    p = command_parser(sub, "completion", "shell completion: print a script, or install the kubectl helper",
                       source=False)
    actions = p.add_subparsers(dest="completion_action", metavar="ACTION")
    for shell in SCRIPTS:
        s = actions.add_parser(shell, help=f"print the {shell} completion script of kubectl-microseg",
                               description=f"print the {shell} completion script of kubectl-microseg")
        s.set_defaults(func=run_script, shell=shell)
    i = actions.add_parser(
        "install", help=f"install {HELPER} so `kubectl microseg <TAB>` completes through kubectl",
        description=f"Write {HELPER} (a two-line script) next to kubectl-microseg or into --dir. kubectl "
        ">= 1.26 runs it to complete `kubectl microseg <TAB>` once kubectl's own completion is loaded "
        "(e.g. `source <(kubectl completion bash)`). krew installs only kubectl-microseg, hence this step.")
    i.add_argument("--dir", type=Path, help="folder on PATH to write it to (default: the folder of "
                   "kubectl-microseg, e.g. ~/.krew/bin)")
    i.add_argument("--force", action="store_true", help=f"overwrite an existing {HELPER}")
    i.set_defaults(func=run_install)
    c = actions.add_parser("__complete")  # no help: left out of the listing (SUPPRESS shows as text)
    c.add_argument("words", nargs=argparse.REMAINDER)
    c.set_defaults(func=run_complete)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_script(args: argparse.Namespace) -> int:
    """Print one shell's script."""
    sys.stdout.write(SCRIPTS[args.shell])
    return 0


def run_complete(args: argparse.Namespace) -> int:
    """Answer one completion request: candidates, then ``:<directive>``."""
    words = list(args.words)
    if words[:1] == ["--"]:
        words = words[1:]
    sys.stdout.write("\n".join(complete(words).lines()) + "\n")
    return 0


def run_install(args: argparse.Namespace) -> int:
    """Write the kubectl completion helper."""
    program = shutil.which(PROGRAM)
    folder = args.dir or (Path(program).parent if program else None)
    if folder is None:
        raise UsageError(f"{PROGRAM} is not on PATH; give the folder to install {HELPER} into with --dir")
    target = Path(folder).expanduser() / HELPER
    existing = shutil.which(HELPER)
    if existing and not args.force and (args.dir is None or Path(existing).parent == target.parent):
        print(f"{HELPER} is already on PATH: {existing}")
        return 0
    if target.exists() and not args.force:
        raise UsageError(f"{target} exists; use --force to overwrite it")
    if not os.access(target.parent, os.W_OK):
        raise UsageError(f"cannot write to {target.parent}; choose a folder on PATH with --dir")
    from ..io.atomic import atomic_write

    try:  # atomic (never half a script on PATH); an existing file only with --force (checked above)
        atomic_write(target, _HELPER_SCRIPT.format(program=_sh_quote(program or PROGRAM)), overwrite=args.force)
    except FileExistsError:
        raise UsageError(f"{target} exists; use --force to overwrite it") from None
    target.chmod(0o755)
    print(f"wrote {target}")
    if shutil.which(HELPER) is None:
        print(f"note: {target.parent} is not on PATH; kubectl finds {HELPER} only on PATH")
    print("kubectl microseg <TAB> now completes once kubectl's completion is loaded, e.g. "
          "`source <(kubectl completion bash)`")
    return 0


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
