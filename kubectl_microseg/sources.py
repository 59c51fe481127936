"""Provides the Source protocol and the registry of sources (entry-point group ``kubectl_microseg.plugins``).

A source turns the outside world into a :class:`Snapshot` of raw objects; a live source can also yield
change events. The built-in sources (manifest files, the demo, the live cluster, nftables) use the same
interface a third party would: they are found by entry-point name, and only the one asked for is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol, cast, runtime_checkable
from collections.abc import Iterator

from .errors import UsageError
from .model.objects import SourceObject
from .model.snapshot import Snapshot
from .vocab import EventType, SessionKind, WatchState

ENTRY_POINT_GROUP = "kubectl_microseg.plugins"

__all__ = ["ENTRY_POINT_GROUP", "Event", "Snapshot", "Source", "WatchingSource", "build_source",
           "load_source_class", "source_names", "source_shows"]


@dataclass(frozen=True)
class Event:
    """A change seen by a live source: ADDED, MODIFIED or DELETED of one object, or a state change."""

    type: EventType
    """ADDED, MODIFIED, DELETED; or STATE for connection-state changes (no object)."""
    obj: SourceObject | None = None
    state: WatchState | None = None
    """For STATE events: watching, reconnecting, relisting, stale."""
    detail: str = ""


@runtime_checkable
class Source(Protocol):
    """The interface every source implements.

    Built by :func:`build_source`: the class's ``from_args(args)`` classmethod when it has one (it reads the
    command-line options it needs), else the class called without arguments. A class attribute ``shows``
    (``vocab.SessionKind``) says what the objects are: Kubernetes objects (the default) or host firewalls
    (one ``NftablesRuleset`` object per host, ``nft.hosts``).
    """

    def load(self) -> Snapshot:
        """Read everything once."""
        ...


@runtime_checkable
class WatchingSource(Source, Protocol):
    """A source that can follow changes after :meth:`load`."""

    def watch(self) -> Iterator[Event]:
        """Yield change events until :meth:`stop` is called (blocking iterator)."""
        ...

    def stop(self) -> None:
        ...


def source_names() -> list[str]:
    """The names of the installed sources, without importing any of them."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def load_source_class(name: str) -> Any:
    """Import exactly the named source's class; a friendly error lists the installed ones."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.load()
    raise UsageError(f"no source named {name!r}; installed sources: {', '.join(source_names()) or 'none'}")


def build_source(name: str, args: Any) -> Source:
    """The named source for the command line's options (``from_args``, else a call without arguments)."""
    cls = load_source_class(name)
    from_args = getattr(cls, "from_args", None)
    source = from_args(args) if from_args is not None else cls()
    if not callable(getattr(source, "load", None)):
        raise UsageError(f"source {name!r} ({cls!r}) has no load(): not a kubectl_microseg source")
    return source


def source_shows(source: object) -> SessionKind:
    """What a source reads (its ``shows`` attribute; Kubernetes objects when it does not say)."""
    return SessionKind(getattr(source, "shows", SessionKind.K8S))


FILE_READER = "manifests"
"""The source whose file reading every other YAML/JSON input of the commands shares (flows files, intents,
objects at a git revision): the same size, safety and location rules as ``-f``. Its class offers ``read_text``,
``parse_text``, ``load_documents`` and ``Locator`` (plugins/manifests.py)."""


def read_text(path: str) -> str:
    """The text of a user's file (``-`` is stdin), with the input limits; errors are InputErrors naming it."""
    return cast(str, load_source_class(FILE_READER).read_text(path))


def parse_text(text: str, name: str) -> list[SourceObject]:
    """The objects of one file's text (multi-document YAML or JSON); errors name the file, document and line."""
    return cast("list[SourceObject]", load_source_class(FILE_READER).parse_text(text, name))


def read_objects(path: str) -> list[SourceObject]:
    """The objects of a user's file (``read_text`` then ``parse_text``)."""
    return parse_text(read_text(path), path)


def read_documents(path: str) -> tuple[list[Any], Any]:
    """The documents of a user's YAML/JSON file (loaded safely, with the limits of every input) and a locator
    whose ``line(document_index, field_path)`` gives a field's line."""
    reader = load_source_class(FILE_READER)
    text = read_text(path)
    return reader.load_documents(text, path), reader.Locator(text)
