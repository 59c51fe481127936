"""Provides the app-level messages (tiny dataclasses) posted by workers and the watch thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from kubectl_microseg.sources import Event

from .protocol import Session


@dataclass
class SessionReady(Message):
    """A (new) analysed state is ready; ``changed`` lists the (src, dst) pairs that differ from the last."""

    session: Session
    changed: set[tuple[str, str]] = field(default_factory=set)
    first: bool = True
    generation: int = 0
    """Which request produced it (increasing): the app drops a result older than the one it shows."""
    exact: bool = False
    """``changed`` names every cell that differs from the previous state of the same live model (the view
    redraws just those); False: it was found by comparing matrices, redraw everything."""
    drawn: threading.Event | None = None
    """Set once the state is on screen (the audit trail waits for it: the cells come first)."""


@dataclass
class LoadFailed(Message):
    """Loading or re-analysing failed; the message is for the user (the last good state is kept)."""

    error: str


@dataclass
class LiveEvent(Message):
    """One event from the live source's watch (posted from the watch thread)."""

    event: Event


@dataclass
class AuditRecorded(Message):
    """A policy change seen by the audit trail (``kubectl_microseg.audit.AuditRecord``), from the watch thread."""

    record: Any


@dataclass
class WatchEnded(Message):
    """The watch iterator ended (``error`` says why, empty when stopped on purpose)."""

    error: str = ""


@dataclass
class UpdateApplied(Message):
    """A live update's worker finished applying its events (its state, or its error, was posted before)."""
