"""The common paths load only what they use: ``kubectl microseg --demo matrix`` (and the other views on files)
imports neither the TUI's toolkit (textual, rich) nor the Kubernetes client, which cost start-up time and
are needed only by ``tui`` and by the live cluster. Run in a fresh interpreter, as the executable runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .imports import ROOT

HEAVY = ("textual", "rich", "kubernetes", "urllib3")

PROBE = """
import contextlib, io, json, sys
from kubectl_microseg.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(sys.argv[1:])
loaded = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"code": code, "out": out.getvalue(), "loaded": loaded}))
"""


def loaded_by(*argv: str, prelude: str = "") -> tuple[int, str, set[str]]:
    done = subprocess.run([sys.executable, "-c", prelude + PROBE, *argv], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    return got["code"], got["out"], set(got["loaded"])


@pytest.mark.parametrize("argv", [
    ["--demo", "matrix"],
    ["--demo", "explain", "pod", "api-server"],
    ["-f", "kubectl_microseg/demo/cluster", "matrix", "-o", "json"],
])
def test_views_on_files_load_no_tui_and_no_kubernetes_client(argv: list[str]) -> None:
    code, out, loaded = loaded_by(*argv)
    assert code == 0 and out  # the view ran
    assert sorted(loaded & set(HEAVY)) == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The check can fail: with the TUI imported first, the same probe finds textual and rich."""
    _, _, loaded = loaded_by("--demo", "matrix", prelude="import kubectl_microseg.tui.app\n")
    assert {"textual", "rich"} <= loaded
