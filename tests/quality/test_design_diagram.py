"""docs/design.md's module diagram is the import graph of the code (regenerated with ``--update-golden``)."""

from __future__ import annotations

import re

import pytest

from .imports import ROOT, diagram

DESIGN = ROOT / "docs" / "design.md"
BLOCK = re.compile(r"(<!-- imports:begin \(generated\) -->\n```\n)(.*?)(```\n<!-- imports:end -->)", re.S)


def test_the_design_diagram_is_the_import_graph(request: pytest.FixtureRequest) -> None:
    text = DESIGN.read_text()
    found = BLOCK.search(text)
    assert found, "docs/design.md lost its generated imports block (the markers imports:begin/imports:end)"
    if request.config.getoption("--update-golden"):
        DESIGN.write_text(text[:found.start(2)] + diagram() + text[found.end(2):])
        found = BLOCK.search(DESIGN.read_text())
        assert found
    assert found.group(2) == diagram(), \
        "docs/design.md's module diagram differs from the imports (intended? rerun with --update-golden)"

