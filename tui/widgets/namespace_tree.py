"""Provides NamespaceTree: namespaces with their labels and workloads; choosing one moves the matrix cursor.

For host firewalls (an NftSession) the same tree shows hosts → tables → chains (choosing a chain opens
its rules) and the address classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import Tree

from ..nft_session import NftSession
from ..protocol import Session
from ..session import KubeSession


class NamespaceTree(Tree[str]):
    """cluster → namespaces (isolation badge) → workloads; selecting a node posts :class:`Chosen`."""

    @dataclass
    class Chosen(Message):
        """A namespace (``endpoint`` None) or a workload was selected (``group``: its namespace; the host
        group for host firewalls. Not ``namespace``: Textual's Message uses that name for handler names)."""

        group: str
        endpoint: str | None = None

    @dataclass
    class ChainChosen(Message):
        """nftables: a chain was selected (``key`` as NftSession.chains())."""

        key: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("cluster", id=id)
        self.show_root = False
        self.guide_depth = 2

    def load(self, session: Session) -> None:
        """Fill the tree from a session (keeps which namespaces were expanded)."""
        expanded = {str(n.data) for n in self.root.children if n.is_expanded}
        self.clear()
        self.root.label = session.description
        if isinstance(session, NftSession):
            self._load_nft(session)
        elif isinstance(session, KubeSession):
            self._load_cluster(session, expanded)
        self.root.expand()

    def _load_cluster(self, session: KubeSession, expanded: set[str]) -> None:
        """namespaces (isolation per direction, labels) → workloads."""
        by_ns: dict[str, list] = {}
        for w in session.analyzer.cluster.workloads:
            by_ns.setdefault(w.namespace, []).append(w)
        for name in sorted(set(session.analyzer.cluster.namespaces) | set(by_ns)):
            ws = by_ns.get(name, [])
            iso = [session.isolation(w) for w in ws]
            label = Text(name, style="bold")
            label.append(f"  {len(ws)}", style="dim")
            if ws:  # each direction on its own: ingress isolation alone is not "isolated"
                ins = sum(1 for i in iso if i["ingress"] == "yes")
                outs = sum(1 for i in iso if i["egress"] == "yes")
                label.append(f"  iso in {ins}/{len(ws)} out {outs}/{len(ws)}", style="dim italic")
            node = self.root.add(label, data=name, expand=name in expanded)
            ns = session.analyzer.cluster.namespaces.get(name)
            if ns is not None and ns.labels:
                node.add_leaf(Text(", ".join(f"{k}={v}" for k, v in sorted(ns.labels.items())), style="dim italic"),
                              data=name)
            for w in ws:
                node.add_leaf(Text(f"{w.name} ", style="") + Text(w.kind, style="dim"), data=w.id)

    def _load_nft(self, session: NftSession) -> None:
        """hosts → tables → chains (hook, policy, rule count); then the address classes."""
        for h in session.hosts:
            label = Text(h.name, style="bold")
            label.append(f"  {', '.join(h.addresses) or 'no address given'}", style="dim")
            hnode = self.root.add(label, data=f"host:{h.name}", expand=True)
            for fam, table in h.ruleset.tables:
                tnode = hnode.add(Text(f"table {fam} {table}"), data=f"host:{h.name}", expand=True)
                for ch in h.ruleset.chains.values():
                    if (ch.family, ch.table) != (fam, table):
                        continue
                    t = Text(ch.name + " ")
                    if ch.is_base:
                        if ch.hook != ch.name:
                            t.append(f"@{ch.hook} ", style="dim")
                        t.append(f"policy {ch.policy} ", style="bold" if ch.policy == "drop" else "dim")
                    t.append(f"· {len(ch.rules)} rules", style="dim italic")
                    tnode.add_leaf(t, data=f"chain:{h.name}|{ch.label()}")
        addrs = self.root.add(Text("address classes", style="bold"), data=None, expand=False)
        for cid, c in session.classes.items():
            t = Text(cid + " ")
            t.append(", ".join(c.addresses.cidrs()[:2]), style="dim")
            addrs.add_leaf(t, data=f"class:{cid}")
        self.root.expand()

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        data = event.node.data
        if data is None:
            return
        kind, _, rest = data.partition(":")
        if kind == "chain":
            self.post_message(self.ChainChosen(rest))
            return
        if kind in ("host", "class"):
            self.post_message(self.Chosen("hosts" if kind == "host" else "addresses", rest))
            return
        if "/" in data:
            self.post_message(self.Chosen(data.split("/", 1)[0], data))
        else:
            self.post_message(self.Chosen(data))
