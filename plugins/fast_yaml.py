"""The fast path of reading YAML: rapidyaml (a C++ parser) builds a tree, emits it as JSON, and Python's C
JSON decoder builds the objects; 20-40x faster than PyYAML's libyaml loader on ``kubectl get -o yaml`` dumps,
whose Python-side construction is the cost.

This path only answers where it returns exactly what the strict libyaml loader returns
(``manifests.load_documents``); otherwise ``load`` returns None and the caller loads with libyaml, which
keeps every check and error message the project has: tags, anchors, aliases and merge keys (so no
"billion laughs" can reach this path), syntax errors (libyaml names the line), duplicate keys (libyaml
names both lines), nesting deeper than rapidyaml's JSON emitter goes (64 levels; Kubernetes objects are
under 30), and any plain scalar that PyYAML's
YAML 1.1 resolver types differently from rapidyaml's JSON (``yes``, ``~``, ``0x1F``, ``017``, ``1e3``,
dates, non-string keys such as ``80:``) are all declined here. The size limit is the caller's. rapidyaml
parses a million levels of nesting without recursion (checked), so this path runs before the depth check.

rapidyaml is optional (the extra ``fast``; musl Linux has no wheel): without it everything goes through
libyaml, with the same results.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from contextlib import contextmanager
from typing import Any
from collections.abc import Iterator

from kubectl_microseg.gcpause import paused_gc

try:
    import ryml
except ImportError:  # pragma: no cover - exercised by forcing AVAILABLE off in the tests
    ryml = None

AVAILABLE = ryml is not None


class _Decline(Exception):
    """This text is libyaml's to load."""


# PyYAML's implicit resolvers (yaml/resolver.py, YAML 1.1) for every type other than str: a plain scalar that
# matches one of these is typed by PyYAML, while rapidyaml's JSON keeps it a string or types it otherwise.
_BOOL = r"yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
_FLOAT = (r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
          r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_INT = (r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+")
_NULL = r"~|null|Null|NULL"
_TIMESTAMP = (r"[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?"
              r"(?:(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?"
              r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)?")
_TYPED = rf"(?:{_BOOL}|{_FLOAT}|{_INT}|{_NULL}|{_TIMESTAMP}|<<|=|[-+]?\.[0-9])"
_TYPED_KEY = re.compile(_TYPED)
# typed the same by both (JSON's true/false/null, decimal ints, floats with a dot and a signed exponent)
_SAME = r"(?:true|false|null|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+][0-9]+)?)"
_END = r"(?=[ \t]*(?:$|[,\]}#]))"


def _blanks(group: int) -> str:
    """Spaces and tabs, never given back on backtracking (an atomic group written so that Python 3.10 has
    it; ``group`` numbers its capture): a failed match costs one step, not one per space of indentation."""
    return rf"(?=([ \t]*))\{group}"


_START = r"(?=[yYnNoOtTfF~0-9<=.]|[-+][0-9.])"
"""The first characters of every pattern in ``_TYPED``: one character test rejects almost every value."""
_CHECK = rf"{_START}(?!{_SAME}{_END}){_TYPED}{_END}"
_TYPED_VALUES = ([re.compile(re.escape(indicator) + r"[ \t]*" + _CHECK, re.M) for indicator in (": ", "- ", "[", ",")]
                 + [re.compile(r"^" + _blanks(1) + _CHECK, re.M)])
"""A plain value typed differently after an indicator on its line, or alone at the start of a line (a value
on a later line than its key or after a comment; a superset: a continued plain scalar or a block literal's
line counts too). Each pattern but the last starts with its own literal so that the scan runs at the speed
of a string search and tries the rest only there (one combined pattern is 20x slower); the first character
rejects almost every value."""
_ODD_LINE_START = re.compile(r"\n(?=([ \t]*))\1(?:[:\]},]|\?(?:[ \t\n]|$))")
"""A line that starts with a colon, a closing bracket, a comma, or an explicit key ('? '): where rapidyaml
reads on and libyaml may refuse; kubectl writes none of these."""
_ODD_FLOW = (":}", ":]", "-}", "-]", ",}", ",]", "[}", "{]", "[:", "{:", ",:")
"""With blanks removed: a closing bracket where a value starts, or one that closes the other kind (``a: }{``,
``[}``; the counts of each kind still balance), or a colon that starts a flow entry (``{:x}``); a superset
(``{a: }`` too); see ``_odd_flow``."""
_MARKS = "!&*@`"
"""Tags, anchors and aliases, and the reserved indicators (which libyaml refuses at a scalar's start and
rapidyaml reads as text): after white space or a flow indicator."""
_OTHER_BREAKS = "\r\x85\u2028\u2029\ufeff\t"
"""CR, NEL, the Unicode line and paragraph separators (line breaks to YAML 1.1), a byte-order mark: the
patterns above read lines by \\n only, so such texts are libyaml's; and a raw tab, where the two parsers
differ on what is allowed (kubectl writes a tab inside a string as the escape \\t)."""
_PYYAML_FLOAT = re.compile(r"-?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?")
"""The JSON numbers rapidyaml emits that PyYAML also reads as floats (it wants a dot and a signed exponent)."""


def _float(text: str) -> float:
    if not _PYYAML_FLOAT.fullmatch(text):
        raise _Decline
    return float(text)


def _has_marks(text: str) -> bool:
    for mark in _MARKS:
        i = text.find(mark)
        while i >= 0:
            if i == 0 or text[i - 1] in " \t\n[{,":
                return True
            i = text.find(mark, i + 1)
    return False


def _odd_flow(lines: str) -> bool:
    """Flow collections beyond kubectl's ``{}`` and ``[]``, where the two parsers part: ``_ODD_FLOW``; a
    question mark or a hash after an opening bracket (an explicit key, a comment, or text libyaml refuses);
    a flow collection continued on the next line (more opening than closing brackets on a line, or fewer).
    rapidyaml reads these as text or otherwise; libyaml refuses or types them (YAML 1.1 section 9.1.3: a
    plain scalar cannot start with a flow indicator). kubectl writes none of these; a JSON text in a block
    literal that does is merely slower. Every test is linear in the line (a line of 40,000 brackets is a
    nesting-depth error to come, not a quadratic scan)."""
    if not any(c in lines for c in "[]{}"):
        return False
    for line in lines.split("\n"):
        bare = line.replace("{}", "").replace("[]", "")
        if not any(c in bare for c in "[]{}"):
            continue
        if bare.count("[") + bare.count("{") != bare.count("]") + bare.count("}"):
            return True
        opening = min(i for i in (bare.find("["), bare.find("{"), len(bare)) if i >= 0)
        if "?" in bare[opening:] or "#" in bare[opening:]:
            return True
        squeezed = line.replace(" ", "").replace("\t", "")
        if any(pair in squeezed for pair in _ODD_FLOW):
            return True
    return False


def _distinct_lines(text: str, chunk: int = 1 << 22) -> str:
    """The text's distinct lines, in any order, one a line; split a few MB at a time, so that a file of
    millions of short lines never holds a string object for each of them at once."""
    seen: set[str] = set()
    start = 0
    while start < len(text):
        end = text.find("\n", start + chunk)
        if end < 0:
            end = len(text)
        seen.update(text[start:end].split("\n"))
        start = end + 1
    return "\n".join(seen)


def needs_libyaml(text: str) -> bool:
    """True when the text uses what only libyaml's loader handles as the project wants (see above).

    Every rule but the bracket counts reads one line at a time, so they run on the text's distinct lines:
    a kubectl dump repeats its lines (39 MB, 1.5 million lines: 27,000 distinct ones), which makes the
    scan 3x cheaper there."""
    if (any(c in text for c in _OTHER_BREAKS)
            # rapidyaml reads a stray closing bracket as text; libyaml refuses it
            or text.count("[") != text.count("]") or text.count("{") != text.count("}")
            # a block scalar that ends the text without a line break: libyaml clips to no break at all,
            # rapidyaml adds one ("a: |\n  a")
            or (not text.endswith("\n") and ("|" in text or ">" in text))):
        return True
    lines = _distinct_lines(text)
    return (_has_marks(lines)
            or lines.startswith("%") or "\n%" in lines  # directives: libyaml's (rapidyaml skips bad ones)
            or _ODD_LINE_START.search("\n" + lines) is not None
            or _odd_flow(lines)
            or any(p.search(lines) for p in _TYPED_VALUES))


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """rapidyaml's C++ error handler writes to file descriptor 2 before raising; the error reported is
    libyaml's, so catch that write in a pipe (one message, far under a pipe's buffer) and drop it.

    The Python binding (0.15) wraps no way to set rapidyaml's error callbacks, hence the redirection. It is
    made only while this is the process's one thread: another thread's writes to stderr would be lost, or
    block on the pipe (the TUI loads files in a worker while Textual draws the screen on stderr). With other
    threads alive, a parse error's message of rapidyaml (2 lines) reaches stderr, and libyaml's error is
    reported as always (docs/errors.md)."""
    if threading.active_count() > 1:
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:  # pragma: no cover - no stderr at all
        yield
        return
    read, write = os.pipe()
    try:
        os.dup2(write, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        for fd in (saved, write, read):
            os.close(fd)


def _emit_json(tree: Any, guess: int) -> bytearray:
    """The tree as JSON, emitted once into a buffer of ``guess`` bytes (a kubectl dump's JSON is about 1.6x
    its YAML), again into one of the exact size when that is too small; ``ryml.emit_json`` measures first,
    then emits (two passes)."""
    root = tree.root_id()
    buf = bytearray(guess)
    failed, size = ryml.emit_json_to_substr(tree, root, buf)
    if failed:
        buf = bytearray(size)
        failed, size = ryml.emit_json_to_substr(tree, root, buf)
    del buf[size:]
    return buf


def load(text: str) -> list[Any] | None:
    """The documents of ``text`` exactly as the strict libyaml loader returns them, or None when this path
    cannot vouch for that (see the module's docstring)."""
    if ryml is None or needs_libyaml(text):
        return None
    keys: set[str] = set()

    def mapping(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            raise _Decline  # a duplicate key: libyaml's loader names both lines
        keys.update(out)
        return out

    try:
        tree = ryml.Tree()
        lines = text.count("\n")
        tree.reserve(lines + lines // 4 + 16)  # about a node a line: no doubling of a large tree while parsing
        encoded = text.encode("utf-8")
        with _quiet_stderr():
            tree = ryml.parse_in_arena(encoded, tree=tree)
        emitted = _emit_json(tree, len(encoded) * 2 + 4096)
        stream = tree.is_stream(tree.root_id())
        del tree, encoded  # peak memory: the tree (~150 bytes a node) is gone before the objects are built
        if not emitted:  # nothing but comments and blank lines
            return []
        with paused_gc():
            data = json.loads(emitted, object_pairs_hook=mapping, parse_float=_float)
        del emitted
    except (_Decline, ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return None
    except Exception:  # rapidyaml's parse errors (SWIG proxies of ExceptionParse)
        return None
    docs = data if stream else [data]
    # keys are strings in JSON: one PyYAML would type (80:, true:, an empty key) is libyaml's; and a
    # document that is not a mapping is refused with its type's name, which libyaml's typing gives
    if "" in keys or any(_TYPED_KEY.fullmatch(k) for k in keys):
        return None
    if any(not isinstance(d, dict) and d is not None for d in docs):
        return None
    return docs
