"""Provides WorkloadPanel: workloads with their isolation state, and the labels of the highlighted one.

Selecting a label posts :class:`WorkloadPanel.LabelChosen`; the app filters the matrix to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from ..nft_session import NftSession
from ..protocol import Session
from ..session import KubeSession

ISO_MARK = {"yes": ("✓", "bold"), "partly": ("~", "italic"), "no": ("✗", "dim")}
"""Isolated, only some pods isolated, not isolated: said by a mark, not by a text style alone."""


def isolation_badges(iso: dict[str, str]) -> Text:
    """'in✓ out✗': whether ingress and egress are isolated (~ when only some pods are)."""
    t = Text()
    for word, d in (("in", "ingress"), ("out", "egress")):
        mark, style = ISO_MARK[iso[d]]
        t.append(f"{word}{mark}", style=style)
        if d == "ingress":
            t.append(" ")
    return t


class WorkloadPanel(Vertical):
    """A workload list and, under it, the labels of the highlighted workload."""

    @dataclass
    class LabelChosen(Message):
        """Filter the matrix to workloads carrying this label."""

        key: str
        value: str

    @dataclass
    class WorkloadChosen(Message):
        """Move the matrix cursor to this workload's row."""

        endpoint: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._session: Session | None = None

    def compose(self) -> ComposeResult:
        yield OptionList(id="workloads")
        yield Label("labels (enter filters)", classes="panel-title")
        yield OptionList(id="labels")

    def load(self, session: Session) -> None:
        """Fill the list from a session."""
        self._session = session
        ol = self.query_one("#workloads", OptionList)
        ol.clear_options()
        opts = []
        if isinstance(session, NftSession):  # host firewalls: address classes and hosts
            for e in session.matrix.endpoints:
                t = Text(e.id)
                t.append(f" {e.kind}", style="dim")
                opts.append(Option(t, id=e.id))
        elif isinstance(session, KubeSession):
            for w in session.analyzer.cluster.workloads:
                t = Text()
                t.append_text(isolation_badges(session.isolation(w)))
                t.append(f" {w.id}")
                t.append(f" {w.kind}", style="dim")
                opts.append(Option(t, id=w.id))
        ol.add_options(opts)
        if opts:
            ol.highlighted = 0

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option_list.id != "workloads" or self._session is None or event.option.id is None:
            return
        labels = self.query_one("#labels", OptionList)
        labels.clear_options()
        if isinstance(self._session, NftSession):  # the addresses and the constants naming them
            e = next((x for x in self._session.matrix.endpoints if x.id == event.option.id), None)
            if e is not None:
                members = dict(e.extra).get("members", ())
                labels.add_options([Option(c, disabled=True) for c in e.cidrs[:6]] +
                                   [Option(f"named by {m}", disabled=True) for m in members])
            return
        w = self._session.workload(event.option.id) if isinstance(self._session, KubeSession) else None
        if w is None:
            return
        labels.add_options([Option(f"{k}={v}", id=f"{k}={v}") for k, v in sorted(w.labels.items())])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        oid = event.option.id
        if oid is None:
            return
        if event.option_list.id == "labels":
            k, _, v = oid.partition("=")
            self.post_message(self.LabelChosen(k, v))
        else:
            self.post_message(self.WorkloadChosen(oid))
