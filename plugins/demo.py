"""Provides DemoSource: the demo cluster shipped inside the package (no cluster, no network)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from kubectl_microseg.sources import Snapshot

from .manifests import ManifestSource


def demo_path() -> str:
    """Filesystem path of the packaged demo manifests."""
    return str(files("kubectl_microseg") / "demo" / "cluster")


@dataclass
class DemoSource:
    """The packaged demo cluster: a production three-tier app, monitoring, PCI zone and planted mistakes."""

    def load(self) -> Snapshot:
        root = demo_path()
        snap = ManifestSource([root], display_root=root, display_prefix="demo/cluster/").load()
        snap.description = "demo cluster"
        return snap
