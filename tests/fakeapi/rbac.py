"""Provides RBAC-like authorization for the fake API server: allowed and denied (verb, resource, namespace).

By default everything is allowed. ``restrict()`` switches to an allow-list (least-privilege tests), and
``deny()`` forbids chosen requests on top of either mode. A rule with ``namespace=None`` applies at
every scope; a rule naming a namespace applies only inside it, so a cluster-wide list
(``/api/v1/pods``) needs a rule without a namespace, as with a ClusterRoleBinding.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .resources import Resource


@dataclass(frozen=True)
class Rule:
    """verb (get, list, watch, create, patch, update, delete, or '*'), resource plural or '*', namespace."""

    verb: str
    resource: str
    namespace: str | None = None

    def matches(self, verb: str, resource: str, namespace: str | None) -> bool:
        return (self.verb in ("*", verb) and self.resource in ("*", resource)
                and (self.namespace is None or self.namespace == namespace))


class Rbac:
    """The authorizer: allow-list (None = allow all) minus deny rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.allowed: list[Rule] | None = None
        self.denied: list[Rule] = []

    def restrict(self, *rules: Rule | tuple) -> None:
        """Allow only these rules from now on (tuples are (verb, resource[, namespace]))."""
        with self._lock:
            self.allowed = [r if isinstance(r, Rule) else Rule(*r) for r in rules]

    def allow(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """Add one rule to the allow-list (switching to allow-list mode if needed)."""
        with self._lock:
            self.allowed = (self.allowed or []) + [Rule(verb, resource, namespace)]

    def deny(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """Forbid matching requests whatever the allow-list says."""
        with self._lock:
            self.denied.append(Rule(verb, resource, namespace))

    def reset(self) -> None:
        with self._lock:
            self.allowed, self.denied = None, []

    def permits(self, verb: str, resource: str, namespace: str | None) -> bool:
        with self._lock:
            if any(r.matches(verb, resource, namespace) for r in self.denied):
                return False
            return self.allowed is None or any(r.matches(verb, resource, namespace) for r in self.allowed)


def forbidden_message(user: str, verb: str, res: Resource, namespace: str | None, name: str | None) -> str:
    """The message of the real server's 403, e.g. 'pods is forbidden: User "u" cannot list resource ...'."""
    what = f"{res.plural}.{res.group}" if res.group else res.plural
    subject = f'{what} "{name}"' if name else what
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return (f'{subject} is forbidden: User "{user}" cannot {verb} resource "{res.plural}" '
            f'in API group "{res.group}" {scope}')
