"""The demo data shipped with the package: a cluster (``cluster/``, Calico and Cilium variants) and hosts.

``HOST_*`` name the demo host of ``nft --demo``: the database server, its ruleset and its address.
"""

from __future__ import annotations

from pathlib import Path

CLUSTER_DIR = Path(__file__).resolve().parent / "cluster"
"""The demo cluster's manifests (``--demo``)."""
HOST_DIR = Path(__file__).resolve().parent / "host"
HOST_RULESET = HOST_DIR / "db-server.nft"
HOST_NAME = "db-server"
HOST_ADDRESS = "10.0.0.9"
HOST_INVENTORY = HOST_DIR / "inventory.yaml"
