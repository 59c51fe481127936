"""A wheel install misses nothing: every sub-package is listed in pyproject, every data file is packaged."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from release.common import load_project

REPO = Path(__file__).resolve().parents[2]
_SKIP_DIRS = {"__pycache__"}


def _source_folders() -> dict[str, Path]:
    """Import package -> folder for the roots of setuptools' package-dir mapping."""
    return {pkg: REPO / folder for pkg, folder in load_project().package_dirs.items()}


def _discovered_packages() -> dict[str, Path]:
    """Every folder with an ``__init__.py`` under the mapped roots, by its installed import name."""
    roots = _source_folders()
    found: dict[str, Path] = {}
    for pkg, folder in roots.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder)
            if any(part in _SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
                continue
            # a nested folder that is itself a mapped root is counted under that root
            name = ".".join((pkg, *rel.parts)) if rel.parts else pkg
            if any(init.parent == f and p != pkg for p, f in roots.items()):
                continue
            found[name] = init.parent
    return found


def test_every_sub_package_is_listed_in_pyproject():
    listed = set(load_project().packages)
    missing = sorted(set(_discovered_packages()) - listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_package_discovery_sees_the_layout():
    """Guard for the test above: the mapped roots and a known nested package are found."""
    found = _discovered_packages()
    assert {"kubectl_microseg", "kubectl_microseg.tui", "kubectl_microseg.plugins",
            "kubectl_microseg.commands"} <= set(found)
    assert found["kubectl_microseg.tui"] == REPO / "tui"


def _expected_files() -> set[str]:
    """Wheel paths of every file of the listed packages (Python files and data files alike)."""
    project = load_project()
    roots = _source_folders()
    expected = set()
    for pkg in project.packages:
        root_pkg = max((p for p in roots if pkg == p or pkg.startswith(p + ".")), key=len)
        folder = roots[root_pkg].joinpath(*pkg[len(root_pkg):].split(".")[1:])
        for path in folder.iterdir():
            if path.is_file() and not path.name.endswith((".pyc", ".pyo")):
                expected.add("/".join(pkg.split(".")) + "/" + path.name)
        # data folders below a package that are not packages themselves (e.g. demo/cluster/*.yaml)
        for path in folder.rglob("*"):
            if path.is_file() and not _inside_other_package(path, folder) and path.suffix not in (".pyc", ".pyo"):
                rel = path.relative_to(folder)
                if any(part in _SKIP_DIRS for part in rel.parts):
                    continue
                expected.add("/".join(pkg.split(".")) + "/" + rel.as_posix())
    return expected


def _inside_other_package(path: Path, folder: Path) -> bool:
    parent = path.parent
    while parent != folder:
        if (parent / "__init__.py").exists():
            return True
        parent = parent.parent
    return False


@pytest.mark.slow
def test_wheel_contains_every_module_and_data_file(project_wheel):
    with zipfile.ZipFile(project_wheel) as zf:
        names = set(zf.namelist())
    missing = sorted(_expected_files() - names)
    assert not missing, f"not in the wheel (package-data in pyproject.toml?): {missing[:20]}"
    demo = [n for n in names if n.startswith("kubectl_microseg/demo/") and n.endswith((".yaml", ".nft"))]
    assert demo, "the demo cluster data is in the wheel"
    assert "kubectl_microseg/py.typed" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(project_wheel) as zf:
        text = zf.read(entry_points).decode()
    scripts = load_project().scripts
    assert {"kubectl-microseg", "kubectl_complete-microseg"} <= set(scripts)
    assert scripts["kubectl_complete-microseg"] == "kubectl_microseg.completion:kubectl_complete"
    for name, target in scripts.items():
        assert f"{name} = {target}" in text
