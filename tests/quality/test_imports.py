"""Import contracts, and every import of ours resolves (the deferred ones too, which run only when called).

The contracts (docs/design.md, "Modules and their imports"):
- the core (model, engine, nft, scaffold, lint, io and the shared errors/vocab) imports no source, view or
  command module: it takes values and returns values;
- the TUI does not import the CLI's commands (both are views over the same core);
- commands reach the sources (plugins/) only through the registry (``kubectl_microseg.sources``).
Checked on the import statements themselves (tests/quality/imports.py), deferred and TYPE_CHECKING ones
included: an import inside a function is a dependency all the same.
"""

from __future__ import annotations

import importlib

import pytest

from .imports import PACKAGE, Import, area, imports, modules

CORE = {"model", "engine", "nft", "scaffold", "lint", "io", "errors", "vocab"}
"""Pure core: no I/O, no views. ``errors`` and ``vocab`` are the shared leaves everyone may import."""
VIEWS_AND_SOURCES = {"plugins", "tui", "commands", "cli", "render", "load", "live", "audit", "sources",
                     "dataplane", "completion", "completion_lookup", "scaffold_kinds", "__main__"}

M = PACKAGE + "."
ACTS = "acts on a host or cluster (writes, kernel transactions, execs), which the Source protocol lacks"
KNOWN: dict[tuple[str, str], str] = {
    # (importing module, imported module): why it is still there. Each entry is a debt to pay; the test fails
    # when one is paid (delete it here) as well as when a new one appears.
    (M + "commands._nft_apply", M + "plugins.nftables"): "nft apply: kernel transaction and rollback timer; " + ACTS,
    (M + "commands._nft_verify", M + "plugins.nft_sandbox"): "nft verify: a network-namespace sandbox; " + ACTS,
    (M + "commands.apply", M + "plugins.kube.apply"): "server-side apply; " + ACTS,
    (M + "commands.apply", M + "plugins.kube.config"): "server-side apply; " + ACTS,
    (M + "dataplane.probe", M + "plugins.kube.probe"): "probes exec in pods; " + ACTS,
}


def ours(imp: Import) -> bool:
    return imp.target == PACKAGE or imp.target.startswith(PACKAGE + ".")


def violations(rule: str) -> list[Import]:
    found = []
    for imp in imports():
        if not ours(imp):
            continue
        src, dst = area(imp.source), area(imp.target)
        if (rule == "core" and src in CORE and dst in VIEWS_AND_SOURCES) \
                or (rule == "tui" and src == "tui" and dst == "commands") \
                or (rule == "registry" and src != "plugins" and dst == "plugins"):
            found.append(imp)
    return found


def unexplained(found: list[Import]) -> list[str]:
    return [str(imp) for imp in found if (imp.source, imp.target) not in KNOWN]


def test_the_core_imports_no_source_view_or_command() -> None:
    assert unexplained(violations("core")) == []


def test_the_tui_does_not_import_the_commands() -> None:
    assert unexplained(violations("tui")) == []


def test_sources_are_reached_only_through_the_registry() -> None:
    """Outside plugins/, nothing imports a plugin module: ``sources.load_source_class(name)`` (the entry points)
    is the one way in, so a third-party source is chosen exactly like a built-in one."""
    assert unexplained(violations("registry")) == []


def test_every_known_exception_still_exists() -> None:
    """A KNOWN entry whose import is gone must go too, or the list would hide a new import of the same pair."""
    present = {(imp.source, imp.target) for rule in ("core", "tui", "registry") for imp in violations(rule)}
    assert sorted(set(KNOWN) - present) == []


def test_the_graph_sees_every_package() -> None:
    """The reader finds the mapped packages (tui/, plugins/) under their installed names, and deferred imports."""
    names = modules()
    assert f"{PACKAGE}.tui.app" in names and f"{PACKAGE}.plugins.kube" in names and f"{PACKAGE}.engine.k8s" in names
    assert any(imp.deferred and ours(imp) for imp in imports())


@pytest.mark.parametrize("module", sorted(set(modules()) - {PACKAGE + ".__main__"}))  # __main__ runs the CLI
def test_every_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_every_import_of_ours_resolves() -> None:
    """Every ``import``/``from ... import`` naming a module of this distribution — at the top, inside a function
    (deferred: it runs only when that code does), or under TYPE_CHECKING — names a module that exists and an
    attribute that module defines."""
    broken = []
    for imp in imports():
        if not ours(imp):
            continue
        if imp.target not in modules():
            broken.append(f"{imp}: no such module")
        elif imp.name is not None and not hasattr(importlib.import_module(imp.target), imp.name):
            broken.append(f"{imp}: it defines no {imp.name!r}")
    assert broken == []
