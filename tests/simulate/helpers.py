"""Helpers of the simulate/diff/apply tests: the demo objects, inline policies, running the CLI in-process."""

from __future__ import annotations

import textwrap
from functools import lru_cache
from pathlib import Path

import pytest

from kubectl_microseg import cli
from kubectl_microseg.engine.diff import MatrixDiff, PairDiff
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.plugins.demo import demo_path
from kubectl_microseg.plugins.manifests import ManifestSource, parse_text

DEMO = Path(demo_path())
REPO = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=1)
def _demo() -> tuple[SourceObject, ...]:
    return tuple(ManifestSource([str(DEMO)]).load().objects)


def demo_objects() -> list[SourceObject]:
    """The demo cluster's objects (parsed once per test session)."""
    return list(_demo())


def objects(text: str, name: str = "changes.yaml") -> list[SourceObject]:
    """Objects of inline YAML."""
    return parse_text(textwrap.dedent(text), name)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def pairs(ps: list[PairDiff]) -> set[tuple[str, str]]:
    return {(p.src, p.dst) for p in ps}


def workload_pairs(ps: list[PairDiff]) -> set[tuple[str, str]]:
    """Pairs between two workloads (no outside ranges)."""
    return {(p.src, p.dst) for p in ps if not p.src_endpoint.is_external and not p.dst_endpoint.is_external}


def find(diff: MatrixDiff, src: str, dst: str) -> PairDiff:
    for p in diff.differences():
        if (p.src, p.dst) == (src, dst):
            return p
    raise AssertionError(f"no difference for {src} -> {dst}")


@lru_cache(maxsize=1)
def deny_batch_cuts() -> int:
    """How many pairs the batch default deny cuts on the demo (their content is checked in
    test_simulate_demo.py; the CLI tests check that the commands report the same diff)."""
    from kubectl_microseg.engine.simulate import simulate

    return len(simulate(demo_objects(), objects(DEFAULT_DENY_BATCH))[0].removed)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


DEFAULT_DENY_BATCH = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-all
  namespace: batch
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"""

WIDEN_DATABASE = """\
# production/database-tier, widened: any pod of any namespace (was: tier=api pods of production)
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: database-tier
  namespace: production
spec:
  podSelector:
    matchLabels:
      tier: database
  ingress:
    - from:
        - namespaceSelector: {}
      ports:
        - protocol: TCP
          port: postgresql
"""

ALLOW_METRICS_PORT = """\
# production/allow-prometheus-scrape with one more port (9100) and without 8080
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-prometheus-scrape
  namespace: production
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: monitoring
          podSelector:
            matchLabels:
              app.kubernetes.io/name: prometheus
      ports:
        - protocol: TCP
          port: 9090
        - protocol: TCP
          port: 9100
"""
