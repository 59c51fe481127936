"""Provides NamespaceTree: namespaces with their labels and workloads; choosing one moves the matrix cursor."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import Tree

from ..session import Session


class NamespaceTree(Tree[str]):
    """cluster → namespaces (isolation badge) → workloads; selecting a node posts :class:`Chosen`."""

    @dataclass
    class Chosen(Message):
        """A namespace (``endpoint`` None) or a workload was selected."""

        namespace: str
        endpoint: str | None = None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("cluster", id=id)
        self.show_root = False
        self.guide_depth = 2

    def load(self, session: Session) -> None:
        """Fill the tree from a session (keeps which namespaces were expanded)."""
        expanded = {str(n.data) for n in self.root.children if n.is_expanded}
        self.clear()
        self.root.label = session.description
        by_ns: dict[str, list] = {}
        for w in session.analyzer.cluster.workloads:
            by_ns.setdefault(w.namespace, []).append(w)
        for name in sorted(set(session.analyzer.cluster.namespaces) | set(by_ns)):
            ws = by_ns.get(name, [])
            isolated = sum(1 for w in ws if session.isolation(w)["ingress"] == "yes")
            label = Text(name, style="bold")
            label.append(f"  {len(ws)}", style="dim")
            if ws:
                label.append(f"  {isolated}/{len(ws)} isolated", style="dim italic")
            node = self.root.add(label, data=name, expand=name in expanded)
            ns = session.analyzer.cluster.namespaces.get(name)
            if ns is not None and ns.labels:
                node.add_leaf(Text(", ".join(f"{k}={v}" for k, v in sorted(ns.labels.items())), style="dim italic"),
                              data=name)
            for w in ws:
                node.add_leaf(Text(f"{w.name} ", style="") + Text(w.kind, style="dim"), data=w.id)
        self.root.expand()

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        data = event.node.data
        if data is None:
            return
        if "/" in data:
            self.post_message(self.Chosen(data.split("/", 1)[0], data))
        else:
            self.post_message(self.Chosen(data))
