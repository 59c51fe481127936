"""Shared helpers of the scaffold tests: the demo's objects, running the CLI, building an analyzer."""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable

from kubectl_microseg.cli import main
from kubectl_microseg.engine.k8s import Analyzer
from kubectl_microseg.errors import Origin
from kubectl_microseg.model.cluster import build_cluster
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.scaffold.draft import PolicyDraft


def demo_objects() -> list[SourceObject]:
    return DemoSource().load().objects


def objects(raws: Iterable[dict[str, Any]]) -> list[SourceObject]:
    return [SourceObject(r, Origin(file="<test>", document=i + 1)) for i, r in enumerate(raws)]


def analyzer(objs: list[SourceObject], drafts: Iterable[PolicyDraft] = ()) -> Analyzer:
    return Analyzer(build_cluster(list(objs) + objects(d.manifest() for d in drafts)))


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``kubectl-microseg ARGV`` in-process; returns (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
