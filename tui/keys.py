"""Provides the key table shown by ``?`` (one source of truth: the help screen and its test read it)."""

from __future__ import annotations

from typing import NamedTuple


class Key(NamedTuple):
    """One documented key."""

    key: str
    """As Textual names it (what a pilot test presses)."""
    shown: str
    """As the help screen writes it."""
    action: str
    """What it does."""
    where: str = "matrix"


KEYS: tuple[Key, ...] = (
    Key("up", "↑ ↓ ← → / h j k l", "move the cursor over cells"),
    Key("pagedown", "PgUp PgDn  Home End", "page up/down; first/last column"),
    Key("right_square_bracket", "[ ]", "previous / next namespace"),
    Key("space", "space", "fold or unfold the namespace under the cursor"),
    Key("enter", "enter", "explain the cell (fold/unfold on a namespace row)"),
    Key("e", "e", "explain the cell: both directions, deciding policies and their YAML"),
    Key("slash", "/", "find a workload by name and jump to it; a label selector (app=web) filters instead"),
    Key("n", "n N", "next / previous match of the last find"),
    Key("number_sign", "#", "port query: which cells allow a port (:port 5432, :port 53/udp); esc clears"),
    Key("f", "f", "filter applies to rows, columns or both"),
    Key("colon", ":", "command: ns NAME, pod, workload, namespace, export md FILE, simulate FILE, port N, "
        "filter TEXT, theme NAME, q"),
    Key("g", "g", "granularity: namespace → workload → pod"),
    Key("z", "z", "fold all namespaces / unfold all"),
    Key("y", "y", "copy the explanation (or, in a policy, its YAML)"),
    Key("x", "x", "export the visible matrix as markdown or mermaid"),
    Key("d", "d", "simulate: apply manifests from a file; the diff, the guards, and m draws it on the matrix"),
    Key("s", "s", "scaffold policies (when the scaffold module is installed)"),
    Key("p", "p", "show the policy list"),
    Key("L", "L", "lint findings (same rule IDs and severities as the CLI); enter jumps to the policy or row"),
    Key("a", "a", "audit trail (live cluster): policy changes, who made them, the connectivity diff"),
    Key("r", "r", "probe the cell: the plan; on a live cluster with --probe-image/--probe-exec, Enter runs it"),
    Key("b", "b", "show or hide the side panel"),
    Key("t", "t", "switch between dark and light theme"),
    Key("ctrl+p", "ctrl+p", "command palette"),
    Key("question_mark", "?", "this help"),
    Key("escape", "esc", "back: close a dialog or screen; clear a simulation, a port query, the filter"),
    Key("q", "q", "quit (ctrl+q and ctrl+c also quit)"),
)
