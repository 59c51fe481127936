"""apply_changes: what replacing, adding and deleting objects does to the object set (pure)."""

from __future__ import annotations

import pytest

from kubectl_microseg.engine.simulate import Deletion, apply_changes
from kubectl_microseg.errors import UsageError

from .helpers import objects

BASE = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a, namespace: default}
spec: {podSelector: {}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b, namespace: other}
spec: {podSelector: {}}
"""


def keys(objs) -> list[tuple[str, str | None, str]]:
    return [(o.kind, o.namespace, o.name) for o in objs]


def test_replace_keeps_position_add_appends_delete_removes() -> None:
    changed = objects("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: a}
        spec: {podSelector: {matchLabels: {x: y}}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: c, namespace: other}
        spec: {podSelector: {}}
        """)
    sim = apply_changes(objects(BASE), changed, [Deletion.parse("other/b")])
    assert keys(sim.objects) == [("NetworkPolicy", "default", "a"), ("NetworkPolicy", "other", "c")]
    assert sim.objects[0].raw["spec"]["podSelector"] == {"matchLabels": {"x": "y"}}
    assert [(c.action, c.namespace, c.name) for c in sim.changes] == [
        ("replace", "default", "a"), ("add", "other", "c"), ("delete", "other", "b")]


def test_objects_without_namespace_take_the_default_given() -> None:
    changed = objects("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: b}
        spec: {podSelector: {}}
        """)
    sim = apply_changes(objects(BASE), changed, default_namespace="other")
    assert [c.action for c in sim.changes] == ["replace"]
    assert sim.objects[1].namespace == "other"


def test_deleting_what_does_not_exist_is_an_error() -> None:
    with pytest.raises(UsageError, match="no NetworkPolicy default/nope"):
        apply_changes(objects(BASE), [], [Deletion.parse("default/nope")])
    with pytest.raises(UsageError, match="NAMESPACE/NAME"):
        Deletion.parse("a/b/c")


def test_a_policy_added_then_deleted_in_the_same_simulation() -> None:
    changed = objects("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: new, namespace: default}
        spec: {podSelector: {}}
        """)
    sim = apply_changes(objects(BASE), changed, [Deletion("default", "new")])
    assert keys(sim.objects) == keys(objects(BASE))
