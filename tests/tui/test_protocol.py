"""Both TUI sessions implement the screens' Session protocol (issue 17: a typed seam, no getattr look-ups).

mypy checks the assignments below statically (a missing or mistyped member is a type error); the test
checks the same at run time, member by member, on real sessions of the demo cluster and the demo host."""

from __future__ import annotations

import argparse
import inspect

from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.tui.nft_session import NftSource
from kubectl_microseg.tui.protocol import Feature, Session
from kubectl_microseg.tui.session import build_session


def protocol_members() -> set[str]:
    return {n for n in vars(Session) if not n.startswith("_")} | set(Session.__annotations__)


def test_kubernetes_and_nftables_sessions_implement_the_protocol() -> None:
    kube: Session = build_session(DemoSource().load())
    nft: Session = NftSource(argparse.Namespace(demo=True, inventory=None, ruleset=None)).session()
    members = protocol_members()
    assert {"matrix", "grid", "one_line", "explanation_blocks", "features"} <= members
    for s in (kube, nft):
        for name in members:
            assert hasattr(s, name), f"{type(s).__name__} lacks {name}"
            if inspect.isfunction(getattr(Session, name, None)):
                want = list(inspect.signature(getattr(Session, name)).parameters)
                got = list(inspect.signature(getattr(type(s), name)).parameters)
                assert got[:len(want)] == want, f"{type(s).__name__}.{name}{got} is not {want}"
    # what the matrix screen offers follows the features: every view of a cluster, none beyond the matrix
    # for host firewalls (their simulate and scaffold are CLI commands)
    assert kube.features == frozenset(Feature) and nft.features == frozenset()
    src, dst = "production/frontend", "production/api-server"
    assert kube.one_line(src, dst).startswith("egress:")
    blocks = kube.explanation_blocks(src, dst)
    assert blocks is not None and blocks[0].text == f"{src} ⇄ {dst}"
    e = nft.matrix.endpoints
    assert nft.explanation_blocks(e[0].id, e[-1].id)
