"""Provides PolicyList: every NetworkPolicy with its directions and how many workloads it selects."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from kubectl_microseg.vocab import DIRECTIONS

from ..nft_session import NftSession
from ..protocol import Session
from ..session import KubeSession


class PolicyList(OptionList):
    """Selecting a policy posts :class:`Chosen` (the app opens its YAML and what it selects)."""

    @dataclass
    class Chosen(Message):
        policy_id: str

    def load(self, session: Session) -> None:
        """Fill the list from a session."""
        self.clear_options()
        opts = []
        if isinstance(session, NftSession):  # host firewalls: every chain of every host
            for key, (host, ch) in session.chains().items():
                t = Text(f"{host}: {ch.label()}")
                if ch.is_base:
                    t.append(f"  {ch.hook} · policy {ch.policy}", style="dim")
                t.append(f"  {len(ch.rules)} rules", style="dim italic")
                opts.append(Option(t, id=key))
        elif isinstance(session, KubeSession):
            for entry in session.analyzer.cluster.policies:
                p = entry.policy
                dirs = "/".join(d[:2] for d in DIRECTIONS if p.affects(d))
                n = len(session.policy_selects(entry))
                t = Text(p.id)
                t.append(f"  {dirs or '-'}", style="dim")
                t.append(f"  selects {n}", style="dim italic")
                opts.append(Option(t, id=p.id))
        self.add_options(opts)
        if opts:
            self.highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Chosen(event.option.id))
