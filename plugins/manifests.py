"""Provides ManifestSource: Kubernetes objects from YAML/JSON files and directories (``-f``).

Files are parsed with libyaml's C loader (PyYAML ``CSafeLoader``: safe mode, about 10x faster than a
pure-Python loader on large manifest sets). Line numbers are not tracked while loading; when a message
needs one, the file is composed again (lazily, once) and the field's path is looked up in the node tree.

Safety (docs/errors.md): safe mode only (a tag that constructs objects is refused), nesting depth and alias
expansion bounded (a "billion laughs" file is refused in linear time), and a size limit per file.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable

import yaml

from kubectl_microseg.errors import InputError, Origin, UsageError
from kubectl_microseg.gcpause import paused_gc
from kubectl_microseg.io import strict_json
from kubectl_microseg.plugins import fast_yaml
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.sources import Snapshot

try:  # libyaml is part of every PyYAML wheel; fall back to pure Python where it is missing
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader  # type: ignore[assignment]

MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKey(yaml.constructor.ConstructorError):
    """A key given twice in one mapping."""

    def __init__(self, key: str, first: yaml.Mark, again: yaml.Mark) -> None:
        super().__init__(problem=f"duplicate key {key!r}", problem_mark=again)
        self.key, self.first, self.again = key, first, again


class StrictSafeLoader(SafeLoader):
    """Safe mode, and a key given twice in one mapping is an error: kubectl's YAML decoder refuses it
    ('mapping key "ingress" already defined'), while a plain loader would keep the last value silently."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[str, yaml.Mark] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != MERGE_TAG:
                if key.value in seen:
                    raise DuplicateKey(key.value, seen[key.value], key.start_mark)
                seen[key.value] = key.start_mark
        return super().construct_mapping(node, deep)


# go-yaml (kubectl's and the API server's decoder) gives an unquoted date as a string where the target is
# not a time (labels, annotations, any field of an object): `version: 2024-01-01` is the label "2024-01-01".
def _timestamp_as_text(loader: StrictSafeLoader, node: yaml.ScalarNode) -> Any:
    return loader.construct_scalar(node)


StrictSafeLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)

EXTENSIONS = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 64 * 1024 * 1024
_DOC_START = re.compile(r"^---(\s|$)", re.M)


class Locator:
    """Lazily composes a file's YAML node trees to map (document, field path) to a line."""

    @staticmethod
    def path_of(text: str) -> tuple[Any, ...]:
        """'flows[0].port' -> ('flows', 0, 'port'): the path notation of InputError."""
        return tuple(int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", text))

    def __init__(self, text: str | None = None, path: str | None = None):
        self._text = text
        self._path = path
        self._docs: list[Any] | None = None

    @property
    def text(self) -> str:
        if self._text is None:  # parsed in another process: read again only when a line is wanted
            self._text = read_text(self._path or "")
        return self._text

    def docs(self) -> list[Any]:
        if self._docs is None:
            try:
                self._docs = list(yaml.compose_all(self.text, Loader=SafeLoader))
            except yaml.YAMLError:
                self._docs = []
        return self._docs

    def line(self, doc_index: int, path: Iterable[Any]) -> int | None:
        docs = self.docs()
        if doc_index >= len(docs) or docs[doc_index] is None:
            return None
        node = docs[doc_index]
        line = node.start_mark.line + 1
        for p in path:
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == str(p):
                        line = k.start_mark.line + 1
                        node = v
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(p, int) and p < len(node.value):
                node = node.value[p]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def _size(n: int) -> str:
    """1536 -> '1.5 KiB', 64 MiB -> '64 MiB'."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f}".rstrip("0").rstrip(".") + " " + unit
    return f"{n} bytes"


def read_text(path: str) -> str:
    """The text of ``path`` (``-`` is stdin), at most MAX_FILE_BYTES, as UTF-8; errors are InputErrors.

    Flow files, inventories and the other YAML inputs of the commands are read through it (the same limits).

    The limit holds for stdin, pipes and devices too: at most one byte more than the limit is read.
    """
    limit = MAX_FILE_BYTES
    too_big = f"over the {_size(limit)} size limit of an input file"
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1) if hasattr(sys.stdin, "buffer") else sys.stdin.read(limit + 1).encode()
        else:
            size = os.path.getsize(path)
            if size > limit:
                raise InputError(f"file is {_size(size)}, {too_big}", Origin(file=path))
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        if len(data) > limit:
            raise InputError(f"more than {_size(limit)}, {too_big}", Origin(file=path))
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file (byte {exc.start})", Origin(file=path)) from None
    except FileNotFoundError:
        raise InputError("no such file or directory", Origin(file=path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a file", Origin(file=path)) from None
    except PermissionError:
        raise InputError("cannot read: permission denied", Origin(file=path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", Origin(file=path)) from None


# ----------------------------------------------------------------------------- YAML safety
MAX_DEPTH = 1000
"""Deepest nesting accepted (Kubernetes objects are under 30 levels). libyaml's composer recurses in C and
crashes the process (SIGSEGV) at about 25,000 levels, so deeper input must be refused before it loads."""
_FLOW_OPEN = re.compile(r"[\[{]")
_DEEP_INDENT = re.compile(r"^[ \t]{500}", re.M)
_COMPACT_RUN = re.compile(r"(?:[-?:][ \t]+){250}")


def _may_be_deep(text: str) -> bool:
    """False when the nesting is surely shallow: depth <= flow brackets + indentation + compact '- - -'
    runs on a line, and each of these is small. True means: measure exactly (``_check_depth``)."""
    return (len(_FLOW_OPEN.findall(text)) > 500 or _DEEP_INDENT.search(text) is not None
            or _COMPACT_RUN.search(text) is not None)


def _check_depth(text: str, name: str) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH, from libyaml's event stream (iterative, no recursion)."""
    depth = 0
    doc = 0
    try:
        for ev in yaml.parse(text, Loader=SafeLoader):
            if isinstance(ev, yaml.DocumentStartEvent):
                doc += 1
            elif isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise InputError(f"YAML nested deeper than {MAX_DEPTH} levels", Origin(file=name, document=doc),
                                     line=ev.start_mark.line + 1 if ev.start_mark else None)
            elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.YAMLError as exc:
        # libyaml >= 0.2.6 (PyYAML 6.0.3+ wheels) stops at its own limit of 1000 levels: the same refusal.
        mark = getattr(exc, "problem_mark", None)
        if "maximum nesting depth" in str(getattr(exc, "problem", "")) and mark is not None:
            raise InputError(f"YAML nested deeper than {MAX_DEPTH} levels", Origin(file=name, document=max(doc, 1)),
                             line=mark.line + 1) from None
        return  # the loader reports the syntax error with its location


def _alias_ratio(nodes: int) -> float:
    """The share of alias-expanded nodes go-yaml (Kubernetes' YAML decoder) tolerates ("excessive aliasing")."""
    low, high = 400_000, 4_000_000
    if nodes <= low:
        return 0.99
    if nodes >= high:
        return 0.10
    return 0.99 - 0.89 * (nodes - low) / (high - low)


class _Cyclic(Exception):
    pass


def _expansion(root: Any) -> tuple[int, int]:
    """(expanded, distinct) node counts of a loaded document. PyYAML keeps an alias as a shared reference,
    so the data is small in memory, but every walk or serialisation (matrix, JSON output, scaffold) visits
    it once per reference: ``expanded`` is that cost, computed in time linear in ``distinct`` (memoised).
    Raises _Cyclic for a recursive alias (``&a [*a]``)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    distinct = 0
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        obj, done = stack.pop()
        children = list(obj.values()) if isinstance(obj, dict) else obj
        if done:
            total = 1 + (len(obj) if isinstance(obj, dict) else 0)
            for c in children:
                total += sizes[id(c)] if isinstance(c, (dict, list)) else 1
            sizes[id(obj)] = total
            active.discard(id(obj))
            continue
        if id(obj) in sizes:
            continue
        active.add(id(obj))
        distinct += 1 + (len(obj) if isinstance(obj, dict) else 0)
        stack.append((obj, True))
        for c in children:
            if isinstance(c, (dict, list)):
                if id(c) in active:
                    raise _Cyclic
                if id(c) not in sizes:
                    stack.append((c, False))
            else:
                distinct += 1
    return sizes.get(id(root), 1), distinct


def _check_aliases(docs: list[Any], name: str, locator: Locator) -> None:
    for i, doc in enumerate(docs):
        if not isinstance(doc, (dict, list)):
            continue
        origin = Origin(file=name, document=i + 1)
        try:
            expanded, distinct = _expansion(doc)
        except _Cyclic:
            raise InputError("recursive YAML alias (an anchor used inside itself)", origin,
                             line=locator.line(i, ())) from None
        aliased = expanded - distinct
        if expanded > 1000 and aliased > 100 and aliased / expanded > _alias_ratio(expanded):
            raise InputError(f"excessive YAML aliasing: aliases expand the document from {distinct:,} to "
                             f"{expanded:,} nodes (a \"billion laughs\" file?)", origin, line=locator.line(i, ()))


def _doc_of_line(text: str, line: int) -> int:
    """1-based document number that contains 1-based ``line``."""
    n = 1
    for m in _DOC_START.finditer(text):
        start_line = text.count("\n", 0, m.start()) + 1
        if start_line > line:
            break
        if start_line > 1 or text[: m.start()].strip():
            n += 1
    return n


def load_documents(text: str, name: str, locator: Locator | None = None) -> list[Any]:
    """The documents of a YAML (multi-document) or JSON text, loaded safely (docs/errors.md): InputError
    (exit 2, naming the file, document and line) for syntax errors, object-constructing tags, excessive
    or recursive aliases and too deep nesting. Every YAML input of the tool is read through this."""
    docs: list[Any]
    if name.endswith(".json"):
        try:
            with paused_gc():
                docs = [strict_json.loads(text)]
        except strict_json.StrictJSONError as exc:
            raise InputError(f"JSON: {exc}", Origin(file=name, document=1), line=exc.line) from None
        except json.JSONDecodeError as exc:
            raise InputError(f"JSON syntax error: {exc.msg} (column {exc.colno})", Origin(file=name, document=1), line=exc.lineno) from None
        except RecursionError:
            raise InputError(f"JSON nested too deeply (Python's limit is about {sys.getrecursionlimit()} levels)",
                             Origin(file=name, document=1)) from None
    else:
        fast = fast_yaml.load(text)  # declines all it cannot return exactly as libyaml would (and > 64 levels)
        if fast is not None:
            return fast
        if _may_be_deep(text):
            _check_depth(text, name)
        try:
            with paused_gc():
                docs = list(yaml.load_all(text, Loader=StrictSafeLoader))
        except DuplicateKey as exc:
            again = exc.again.line + 1
            raise InputError(f"YAML: mapping key {exc.key!r} already defined at line {exc.first.line + 1}",
                             Origin(file=name, document=_doc_of_line(text, again)), line=again) from None
        except yaml.constructor.ConstructorError as exc:
            # safe mode: a tag that would construct an object (!!python/object, !custom) is refused
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            m = re.search(r"tag '([^']*)'", exc.problem or "")
            tag = (m.group(1).replace("tag:yaml.org,2002:", "!!") if m else exc.problem) or "?"
            raise InputError(f"YAML tag {tag} is not allowed (safe mode: plain data only, no tags that "
                             "construct objects)",
                             Origin(file=name, document=_doc_of_line(text, line) if line else None), line=line) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line = mark.line + 1 if mark else None
            doc = _doc_of_line(text, line) if line else None
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            col = f", column {mark.column + 1}" if mark else ""
            raise InputError(f"YAML syntax error: {problem}{col}", Origin(file=name, document=doc), line=line) from None
        except RecursionError:
            raise InputError("YAML nested too deeply", Origin(file=name)) from None
        if "&" in text and "*" in text:  # no anchor or no alias: nothing can expand
            _check_aliases(docs, name, locator or Locator(text))
    return docs


def parse_text(text: str, name: str) -> list[SourceObject]:
    """Parse one file's text (multi-document YAML or JSON) into SourceObjects."""
    locator = Locator(text)
    return _to_objects(load_documents(text, name, locator), name, locator)


def _to_objects(docs: list[Any], name: str, locator: Locator) -> list[SourceObject]:
    out = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        origin = Origin(file=name, document=i + 1)
        if not isinstance(doc, dict):
            raise InputError(f"a document must be a Kubernetes object (a mapping), not {type(doc).__name__}",
                             origin, line=locator.line(i, ()))
        out.append(SourceObject(doc, origin, (lambda idx: (lambda path: locator.line(idx, path)))(i)))
    return out


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files named, and every *.yaml/*.yml/*.json below directories named (sorted, recursive)."""
    files: list[str] = []
    for p in paths:
        if p == "-":
            files.append(p)
        elif os.path.isdir(p):
            files.extend(sorted(_walk(p)))
        elif os.path.exists(p):
            files.append(p)
        else:
            raise InputError("no such file or directory", Origin(file=p))
    return files


def _walk(top: str) -> list[str]:
    """The manifest files below ``top`` (symbolic links to directories are not followed). A directory that
    cannot be read or a dangling symbolic link named like a manifest is an error, as with ``kubectl apply
    -f DIR -R`` ("permission denied", "no such file or directory"): skipping it would analyse less than
    the user gave, silently."""

    def fail(exc: OSError) -> None:
        reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        raise InputError(f"cannot read directory: {reason}", Origin(file=exc.filename or top))

    out = []
    for root, _dirs, names in os.walk(top, onerror=fail):
        for n in names:
            f = os.path.join(root, n)
            if os.path.splitext(n)[1] not in EXTENSIONS:
                continue
            if os.path.islink(f) and not os.path.exists(f):
                raise InputError("no such file or directory (a symbolic link to a missing file)", Origin(file=f))
            if os.path.isfile(f):
                out.append(f)
    return out


@dataclass
class ManifestSource:
    """Objects from manifest files and directories; offline, no cluster contacted."""

    paths: list[str]
    display_root: str | None = None
    """If set, file names are shown relative to this directory (used for the packaged demo)."""
    display_prefix: str = ""

    # The file reading the commands share for their other inputs (kubectl_microseg.sources.read_text & co.)
    read_text = staticmethod(read_text)
    parse_text = staticmethod(parse_text)
    load_documents = staticmethod(load_documents)
    Locator = Locator

    @classmethod
    def from_args(cls, args: Any) -> ManifestSource:
        """-f/--filename PATH (repeatable; ``-`` is stdin)."""
        paths = list(getattr(args, "filename", None) or [])
        if not paths:
            raise UsageError("source manifests needs -f/--filename PATH")
        return cls(paths)

    def load(self) -> Snapshot:
        files = expand_paths(self.paths)
        if not files:
            raise UsageError(f"{', '.join(self.paths)}: no *.yaml, *.yml or *.json files found")
        shown = [self._shown(f) for f in files]
        with paused_gc():  # one collection after all files, not one after each
            return Snapshot(self._load(files, shown), "files: " + ", ".join(map(self._shown, self.paths)))

    def _shown(self, path: str) -> str:
        """A path as messages show it: under ``display_prefix`` when a ``display_root`` is set."""
        return self.display_prefix + os.path.relpath(path, self.display_root) if self.display_root else path

    def _load(self, files: list[str], shown: list[str]) -> list[SourceObject]:
        objects: list[SourceObject] = []
        if _parallel_pays(files):
            with ProcessPoolExecutor(max_workers=min(os.cpu_count() or 1, 4),
                                     mp_context=multiprocessing.get_context("fork")) as pool:
                results = list(pool.map(_load_file, files, shown, chunksize=max(1, len(files) // 16)))
            for f, name, (docs, error) in zip(files, shown, results):
                if error is not None:
                    message, origin, line, path = error
                    raise InputError(message, origin, line=line, path=path)
                objects.extend(_to_objects(docs, name, Locator(path=f)))
        else:
            for f, name in zip(files, shown):
                objects.extend(parse_text(read_text(f), name))
        return objects


PARALLEL_MIN_FILES = 8
PARALLEL_MIN_BYTES = 2 * 1024 * 1024
FAST_PARSER_FACTOR = 64


def _parallel_pays(files: list[str]) -> bool:
    """Parse in several processes only where it pays (measured: 1.5x on 2 cores for a 6 MB set) and is
    safe: several files, megabytes of them, more than one core, and no other thread (fork)."""
    if len(files) < PARALLEL_MIN_FILES or "-" in files or (os.cpu_count() or 1) < 2:
        return False
    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return False
    # rapidyaml parses ~30x faster than libyaml: sending the objects back from the workers then costs more
    # than it saves (measured on size L, 5.9 MB in 501 files: 0.5 s of CPU serial, over 1 s wall parallel)
    factor = FAST_PARSER_FACTOR if fast_yaml.AVAILABLE else 1
    return sum(os.path.getsize(f) for f in files) >= PARALLEL_MIN_BYTES * factor


def _load_file(path: str, name: str) -> tuple[list[Any], tuple | None]:
    """Worker: one file's documents, or the InputError's parts (exceptions do not pickle faithfully)."""
    try:
        return load_documents(read_text(path), name), None
    except InputError as exc:
        return [], (exc.reason, exc.origin, exc.line, exc.path)
