"""Provides the project's import graph, read from the source with `ast` (nothing is imported).

Every ``import`` statement of every module under ``kubectl_microseg/``, ``tui/`` and ``plugins/`` (named as
installed: ``tui/app.py`` is ``kubectl_microseg.tui.app``), with its line, whether it is deferred (inside a
function or class, run only when called) and whether it is for type checking only (``if TYPE_CHECKING:``).
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "kubectl_microseg"


@dataclass(frozen=True)
class Import:
    """One imported name: ``source`` (a module of ours) imports ``target`` (a module, ours or not) or, for
    ``from target import name`` where ``name`` is no module, the attribute ``name`` of ``target``."""

    source: str
    target: str
    path: Path
    line: int
    deferred: bool
    type_only: bool
    name: str | None = None

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.source} imports {self.target}"


@cache
def modules() -> dict[str, Path]:
    """Every module of the distribution, by its installed name."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dir: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    found: dict[str, Path] = {}
    for name in config["tool"]["setuptools"]["packages"]:
        parent, _, last = name.rpartition(".")
        directory = ROOT / package_dir[name] if name in package_dir else \
            ROOT / PACKAGE if name == PACKAGE else modules_dir(parent, package_dir) / last
        for path in sorted(directory.glob("*.py")):
            found[name if path.stem == "__init__" else f"{name}.{path.stem}"] = path
    return found


def modules_dir(package: str, package_dir: dict[str, str]) -> Path:
    if package in package_dir:
        return ROOT / package_dir[package]
    parent, _, last = package.rpartition(".")
    return modules_dir(parent, package_dir) / last


def _resolve(source: str, path: Path, node: ast.ImportFrom) -> Iterator[tuple[str, str | None]]:
    """(module, attribute or None) for each name a ``from ... import ...`` brings in."""
    if node.level:
        package = source if path.stem == "__init__" else source.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        if alias.name == "*":
            yield base, None
        elif candidate in modules():
            yield candidate, None
        else:
            yield base, alias.name


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(source: str, path: Path, body: list[ast.stmt], deferred: bool, type_only: bool) -> Iterator[Import]:
    for node in body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source, alias.name, path, node.lineno, deferred, type_only)
        elif isinstance(node, ast.ImportFrom):
            for target, name in _resolve(source, path, node):
                yield Import(source, target, path, node.lineno, deferred, type_only, name)
        elif isinstance(node, ast.If):
            yield from _walk(source, path, node.body, deferred, type_only or _is_type_checking(node.test))
            yield from _walk(source, path, node.orelse, deferred, type_only)
        else:
            nested = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(node, field, None) or []:
                    inner = child.body if isinstance(child, (ast.ExceptHandler, ast.match_case)) else [child]
                    yield from _walk(source, path, inner, deferred or nested, type_only)


@cache
def imports() -> tuple[Import, ...]:
    """Every import of every module of ours."""
    found: list[Import] = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(), str(path))
        found.extend(_walk(name, path, tree.body, deferred=False, type_only=False))
    return tuple(found)


def area(module: str) -> str:
    """The part of the distribution a module belongs to: its sub-package (``engine``, ``tui``, ...) or, for a
    module directly in ``kubectl_microseg``, its own name (``cli``, ``load``, ...)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def area_graph() -> dict[str, dict[str, bool]]:
    """Which area imports which (run-time imports, deferred ones included; TYPE_CHECKING ones left out), and
    whether only deferred imports make the edge: {source: {target: only_deferred}}."""
    graph: dict[str, dict[str, bool]] = {area(name): {} for name in modules()}
    for imp in imports():
        if imp.type_only or not (imp.target == PACKAGE or imp.target.startswith(PACKAGE + ".")):
            continue
        source, target = area(imp.source), area(imp.target)
        if source != target:
            graph[source][target] = graph[source].get(target, True) and imp.deferred
    return graph


def diagram() -> str:
    """The area graph as text, one line per area, those that import fewer areas (directly or not) first; a
    target marked ``*`` is imported only inside functions (loaded when that code runs)."""
    graph = area_graph()

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in set(graph[todo.pop()]) - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen - {start}

    label = {name: "__init__" if name == PACKAGE else name for name in graph}
    order = sorted(graph, key=lambda name: (len(reach(name)), label[name]))
    width = max(len(label[name]) for name in order)
    def targets(name: str) -> str:
        return ", ".join(sorted(label[t] + "*" * deferred for t, deferred in graph[name].items())) or "-"
    return "".join(f"{label[name]:<{width}} -> {targets(name)}\n" for name in order)
