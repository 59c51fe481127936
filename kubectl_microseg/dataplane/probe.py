"""Runs probes for real in a live cluster: the one place the ``probe`` command and the TUI's probe screen
send cells to the Kubernetes adapter (plugins/kube/probe.py: ephemeral containers or exec) and build the
``ProbeReport``. An adapter that acts on the cluster, not a Source: it imports its plugin module directly
(docs/design.md, "Sources: what is pluggable")."""

from __future__ import annotations

from typing import Any

from . import caveats
from . import report as probe_report
from .cells import Cell
from .commands import argv


def execute(api_client: Any, cells: list[Cell], cnis: list[caveats.Cni], cluster: Any, *, image: str | None,
            container: str | None = None, timeout: int = 3, concurrency: int = 8, ready_timeout: float = 60.0,
            notes: list[str] | None = None, poll: float = 0.5) -> dict[str, Any]:
    """Probe the cells for real (``image``: ephemeral containers, else exec) and build the ``ProbeReport``."""
    from kubectl_microseg.plugins.kube.probe import ProbeRunner

    runner = ProbeRunner(api_client, image=image, container=container, timeout=timeout, concurrency=concurrency,
                         ready_timeout=ready_timeout, ttl=_ttl(len(cells), timeout, concurrency, ready_timeout),
                         poll=poll)
    outputs = runner.run([(c.src, argv(c, timeout)) for c in cells])
    return probe_report.build(cells, probe_report.results(cells, outputs), cnis, cluster, notes=list(notes or []),
                              cleanup=runner.leftovers, mode=f"ephemeral container ({image})" if image else "exec")


def _ttl(n: int, timeout: int, concurrency: int, ready_timeout: float) -> int:
    """How long a probe container may live at most: every probe one after the other, plus a margin."""
    return int(n * (timeout + 5) / max(1, concurrency)) + int(ready_timeout) + 120
