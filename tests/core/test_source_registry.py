"""Every source is built through the entry-point registry, and --source chooses any of them (a third-party
one too): here two test-only sources are added to the registry the way an installed distribution would
appear (``importlib.metadata.entry_points`` of group ``kubectl_microseg.plugins``)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

import pytest

from kubectl_microseg import sources
from kubectl_microseg.cli import main
from kubectl_microseg.demo import HOST_DIR
from kubectl_microseg.errors import Origin
from kubectl_microseg.load import source_for, source_name
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.nft.hosts import ruleset_object
from kubectl_microseg.plugins.nftables import read_defines
from kubectl_microseg.sources import Snapshot
from kubectl_microseg.vocab import SessionKind

TOY_OBJECTS = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "toy"},
     "spec": {"selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "db", "namespace": "toy"},
     "spec": {"selector": {"matchLabels": {"app": "db"}},
              "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c"}]}}}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "db", "namespace": "toy"},
     "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"],
              "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                           "ports": [{"port": 5432}]}]}},
]


@dataclass
class ToySource:
    """A third party's Kubernetes source: objects from anywhere (here: a constant)."""

    namespace: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> ToySource:
        return cls(getattr(args, "namespace", None))

    def load(self) -> Snapshot:
        return Snapshot([SourceObject(o, Origin(cluster="toy")) for o in TOY_OBJECTS], "toy source")


class ToyHosts:
    """A third party's host-firewall source: the demo database server's listing under another name."""

    shows = SessionKind.NFT

    def load(self) -> Snapshot:
        doc = json.loads((HOST_DIR / "db-server.json").read_text(encoding="utf-8"))
        defines = read_defines((HOST_DIR / "db-server.nft").read_text(encoding="utf-8"))  # names the classes
        obj = ruleset_object("toy-host", ["10.0.0.9"], doc, "toy host", defines)
        return Snapshot([SourceObject(obj, Origin(file="toy"))], "toy hosts")


@dataclass(frozen=True)
class FakeEntryPoint:
    name: str
    target: Any

    def load(self) -> Any:
        return self.target


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    real = sources.entry_points

    def entry_points(group: str) -> list[Any]:
        extra = [FakeEntryPoint("toy", ToySource), FakeEntryPoint("toyhosts", ToyHosts)]
        return [*real(group=group), *(extra if group == sources.ENTRY_POINT_GROUP else [])]

    monkeypatch.setattr(sources, "entry_points", entry_points)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_third_party_source_is_chosen_by_name(registry: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert "toy" in sources.source_names()
    code, out, _ = run(capsys, "--source", "toy", "matrix", "-o", "json", "--no-external")
    assert code == 0
    doc = json.loads(out)
    assert {e["id"] for e in doc["endpoints"]} == {"toy/web", "toy/db"}
    cells = {(c["from"], c["to"]): c["ports"] for c in doc["connections"]}
    assert cells[("toy/web", "toy/db")] == [{"protocol": "TCP", "port": 5432, "endPort": 5432}]
    assert ("toy/db", "toy/web") in cells and ("toy/db", "toy/db") not in cells  # db isolated for ingress


def test_from_args_gets_the_command_line(registry: None) -> None:
    src = source_for(argparse.Namespace(source="toy", namespace="toy"))
    assert isinstance(src, ToySource) and src.namespace == "toy"


def test_the_shorthands_are_sources_of_the_registry() -> None:
    assert source_name(argparse.Namespace(filename=["x.yaml"])) == "manifests"
    assert source_name(argparse.Namespace(demo=True)) == "demo"
    assert source_name(argparse.Namespace()) == "kube"
    assert source_name(argparse.Namespace(demo=True, source="demo")) == "demo"
    assert source_name(argparse.Namespace(), SessionKind.NFT) == "nftables"


def test_source_demo_is_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--source", "demo", "matrix", "-o", "json")[:2] == run(capsys, "--demo", "matrix", "-o", "json")[:2]


@pytest.mark.parametrize("argv, words", [
    (["--source", "nope", "matrix"], ["no source named 'nope'", "demo, kube, manifests, nftables"]),
    (["--source", "nftables", "matrix"], ["source 'nftables' reads host firewalls", "nft"]),
    (["-f", "x.yaml", "--demo", "matrix"], ["choose one source: -f/--filename or --demo"]),
    (["--source", "kube", "--demo", "matrix"], ["choose one source: --demo or --source"]),
    (["nft", "matrix", "--source", "demo"], ["source 'demo' reads Kubernetes objects, not host firewalls"]),
])
def test_a_wrong_choice_is_a_usage_error(capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and not out
    for w in words:
        assert w in err


def test_a_third_party_host_firewall_source_feeds_the_nft_views(registry: None,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "nft", "matrix", "--source", "toyhosts", "-o", "json")
    assert code == 0
    ours = run(capsys, "nft", "matrix", "--demo", "-o", "json")[1]
    theirs, demo = json.loads(out), json.loads(ours)
    assert theirs["connections"] == [{**c, **{k: v.replace("db-server", "toy-host") for k, v in c.items()
                                              if k in ("from", "to")}} for c in demo["connections"]]
    assert any("db-server" in c["to"] for c in demo["connections"])
    code, out, _ = run(capsys, "nft", "explain", "--source", "toyhosts", "--from", "10.0.1.5", "--to", "10.0.0.9",
                       "--port", "5432")
    assert code == 0 and "is this host's address (the destination): input" in out


def test_source_names_complete_from_the_registry(registry: None) -> None:
    from kubectl_microseg.completion import complete

    for words in (["--source", ""], ["matrix", "--source", ""], ["nft", "matrix", "--source", ""]):
        got = [c.split("\t", 1)[0] for c in complete(words).candidates]
        assert got == ["demo", "kube", "manifests", "nftables", "toy", "toyhosts"], words
    assert [c.split("\t", 1)[0] for c in complete(["--source", "n"]).candidates] == ["nftables"]
