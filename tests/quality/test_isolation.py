"""No test reaches the developer's real cluster (tests/conftest.py's autouse ``no_kubeconfig``)."""

from __future__ import annotations

import os
from pathlib import Path

from kubectl_microseg.cli import main


def test_kubeconfig_names_nothing(no_kubeconfig: Path) -> None:
    assert os.environ["KUBECONFIG"] == str(no_kubeconfig) and not no_kubeconfig.exists()
    assert "KUBERNETES_SERVICE_HOST" not in os.environ


def test_a_view_without_files_finds_no_cluster(capsys) -> None:
    """The live path is taken (no -f, no --demo) and ends at "unreachable" (3), whatever the machine has."""
    assert main(["matrix"]) == 3
    assert "no kubeconfig found" in capsys.readouterr().err
