"""Provides the typed contract between the TUI's screens and what they show: :class:`Session`.

A session is one analysed state of a source. The Kubernetes session (``tui.session.KubeSession``, live
updates included) and the host-firewall session (``tui.nft_session.NftSession``) both implement it; the
matrix screen and the side panels use nothing else (views that exist for one kind only, such as
simulate or a chain's rules, take the concrete class). mypy checks both classes against it
(``tests/tui/test_protocol.py`` assigns each to a ``Session``).
"""

from __future__ import annotations

import argparse
import threading
from typing import Any, Protocol, runtime_checkable

from kubectl_microseg.engine.matrix import Matrix
from kubectl_microseg.vocab import SessionKind, StrEnum

from .explain_doc import Block
from .grid import Granularity, GridModel


class Feature(StrEnum):
    """Views a session may offer beyond the matrix and explanations (the matrix screen offers their keys
    only when the session has them)."""

    SIMULATE = "simulate"
    SCAFFOLD = "scaffold"
    FINDINGS = "findings"
    PROBE = "probe"


class Session(Protocol):
    """What the matrix screen asks of an analysed source."""

    kind: SessionKind
    args: argparse.Namespace
    lock: threading.Lock
    """Held while a live update changes the state in place; UI readers try it without blocking."""

    @property
    def description(self) -> str:
        """The source in a few words (title and status line)."""
        ...

    @property
    def matrix(self) -> Matrix:
        """The endpoint × endpoint matrix this state shows."""
        ...

    @property
    def granularities(self) -> tuple[Granularity, ...]:
        """The granularities ``g`` cycles through."""
        ...

    @property
    def features(self) -> frozenset[Feature]:
        """The optional views this session offers."""
        ...

    def grid(self, granularity: Granularity, **kw: Any) -> GridModel:
        """The grid model of a granularity (``kw``: GridModel options such as ``filter_axis``)."""
        ...

    def granularity_word(self, granularity: str) -> str:
        """How the status line names a granularity ('workload'; 'address class' for host firewalls)."""
        ...

    def one_line(self, src: str, dst: str) -> str:
        """The cursor line's reason for an endpoint pair (may say the state is updating)."""
        ...

    def explanation_blocks(self, src: str, dst: str) -> list[Block] | None:
        """The full explanation of an endpoint pair (None: not a pair this session explains)."""
        ...


@runtime_checkable
class SessionSource(Protocol):
    """A source that builds its session itself (host firewalls: ``tui.nft_session.NftSource``); a Kubernetes
    source (``sources.Source``) gives a snapshot that the app analyses."""

    def session(self, args: argparse.Namespace | None = None) -> Session:
        """Read and analyse (a worker thread calls it)."""
        ...
