"""Provides gather(): the initial list of every kind, with the fallbacks a least-privilege user needs.

- Namespaced kinds are listed across all namespaces first (one request per page), also with ``-n``:
  the views focus on that namespace, but its connectivity depends on the pods and the policies of the
  namespaces it talks to, so the result equals that of the same objects given as files. Where a
  cluster-wide list is forbidden (403), the kind is listed namespace by namespace, over the namespace
  given with ``-n`` and those known from the Namespace list and the other kinds' objects (or, when
  nothing reveals one, the context's namespace): a user with a namespaced role gets their namespace.
- What stays unreadable is recorded, and turned into notes that say what it means for the result;
  NetworkPolicies that cannot be read make their namespaces (or all namespaces) *uncertain*.
- Each successful list becomes a Stream: the scope to watch and the resourceVersion to watch from.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from kubectl_microseg.errors import UnreachableError

from .failures import CLIENT_ERRORS, FATAL, FORBIDDEN, UNREACHABLE, classify, unreachable
from .kinds import KINDS, NAMESPACES, NETWORK_POLICIES, PODS, Calls, Kind, clean, object_key
from .listing import ListResult, Tuning, list_kind, read_json


@dataclass(frozen=True)
class Scope:
    """One collection to list and watch: a kind in one namespace, or everywhere (namespace None)."""

    kind: Kind
    namespace: str | None

    def describe(self) -> str:
        return f"{self.kind.title} in {self.namespace}" if self.namespace else self.kind.title


@dataclass
class Stream:
    """A listed scope, what it holds (key -> resourceVersion) and where its watch starts."""

    scope: Scope
    resource_version: str
    known: dict[tuple[str, str, str], str] = field(default_factory=dict)

    @classmethod
    def from_list(cls, scope: Scope, result: ListResult) -> "Stream":
        known = {object_key(o): str((o.get("metadata") or {}).get("resourceVersion") or "") for o in result.items}
        return cls(scope, result.resource_version, known)


@dataclass
class Gathered:
    """Everything the initial load found, and what it could not read."""

    objects: list[dict[str, Any]]
    streams: list[Stream]
    notes: list[str]
    uncertain_namespaces: set[str]
    all_namespaces_uncertain: bool


class Gatherer:
    """Runs the initial lists for one connection (see the module docstring)."""

    def __init__(self, calls: Calls, server: str, *, namespace: str | None, default_namespace: str,
                 tuning: Tuning, timeout: Any, stop: threading.Event | None = None):
        self.calls, self.server, self.namespace = calls, server, namespace
        self.default_namespace, self.tuning, self.timeout, self.stop = default_namespace, tuning, timeout, stop
        self.objects: list[dict[str, Any]] = []
        self.streams: list[Stream] = []
        self.missing: dict[Kind, list[str | None]] = {}
        self.fallbacks: dict[Kind, int] = {}
        self.unserved: list[Kind] = []

    def run(self) -> Gathered:
        ns_listed = self._namespaces()
        pending: list[Kind] = []
        for kind in KINDS:
            if kind is not NAMESPACES and not self._list(Scope(kind, None)):
                if kind.namespaced:
                    pending.append(kind)
                else:
                    self.missing.setdefault(kind, []).append(None)
        if pending:
            known = {o["metadata"].get("namespace") for o in self.objects if o.get("kind") != "Namespace"}
            known |= {o["metadata"]["name"] for o in self.objects if o.get("kind") == "Namespace"}
            known.discard(None)
            if self.namespace:
                known.add(self.namespace)
            if not known:  # nothing revealed a namespace: try the context's, as a namespaced role expects
                known.add(self.default_namespace)
            for kind in pending:
                self._fallback(kind, sorted(n for n in known if n))
        return self._result(ns_listed)

    # -- steps -------------------------------------------------------------------------------------

    def _namespaces(self) -> bool:
        """List Namespaces (cluster-scoped); with -n and no list permission, try to get that one."""
        if self._list(Scope(NAMESPACES, None)):
            return True
        self.missing[NAMESPACES] = [None]
        if self.namespace is not None:
            try:
                obj = read_json(self.calls.read(NAMESPACES, self.namespace, self.timeout))
                self.objects.append(clean(obj, NAMESPACES))
            except CLIENT_ERRORS as exc:
                self._check_fatal(exc, NAMESPACES)
        return False

    def _fallback(self, kind: Kind, namespaces: list[str]) -> None:
        """Per-namespace lists for a kind that cannot be listed across all namespaces.

        If none of them is allowed either, the kind is unknown everywhere (recorded as namespace None).
        """
        self.fallbacks[kind] = len(namespaces)
        denied = [ns for ns in namespaces if not self._list(Scope(kind, ns))]
        if len(denied) == len(namespaces):
            self.fallbacks.pop(kind)
            self.missing.setdefault(kind, []).append(None)
        else:
            self.missing.setdefault(kind, []).extend(denied)

    def _list(self, scope: Scope) -> bool:
        """List one scope into objects/streams; False if forbidden (other failures raise)."""
        try:
            result = list_kind(self.calls.lister(scope.kind, scope.namespace), scope.kind, self.tuning,
                               self.timeout, self.stop)
        except CLIENT_ERRORS as exc:
            if self._check_fatal(exc, scope.kind) == "unserved":
                return True
            return False
        self.objects.extend(result.items)
        self.streams.append(Stream.from_list(scope, result))
        return True

    def _check_fatal(self, exc: BaseException, kind: Kind) -> str:
        """Return 'forbidden' or 'unserved' (404: the server lacks the kind); raise for anything else."""
        failure = classify(exc)
        if failure.kind == FORBIDDEN:
            return "forbidden"
        if failure.kind == FATAL and failure.status == 404:
            if kind not in self.unserved and not kind.optional:
                self.unserved.append(kind)
            return "unserved"
        if failure.kind == UNREACHABLE or failure.status == 401:
            raise unreachable(self.server, failure) from None
        what = f"HTTP {failure.status}" if failure.status else "network error"
        raise UnreachableError(f"cannot list {kind.title} from the server {self.server}: "
                               f"{failure.message} ({what})") from None

    # -- result ------------------------------------------------------------------------------------

    def _result(self, ns_listed: bool) -> Gathered:
        notes: list[str] = []
        for kind, count in self.fallbacks.items():
            notes.append(f"{kind.title}: cannot list across all namespaces (forbidden); listed them in each of "
                         f"{count} known namespace(s) instead")
        uncertain: set[str] = set()
        all_uncertain = False
        for kind in KINDS:
            where = self.missing.get(kind)
            if not where:
                continue
            everywhere = None in where
            if kind is NETWORK_POLICIES:
                all_uncertain = all_uncertain or everywhere
                uncertain.update(n for n in where if n)
            elif not kind.namespaced and kind is not NAMESPACES:
                all_uncertain = True  # unreadable admin policies may decide any pair
            notes.append(_missing_note(kind, everywhere, sorted(n for n in where if n)))
        for kind in self.unserved:
            notes.append(f"the server does not serve {kind.title} ({kind.api_version}); none were read")
        return Gathered(self.objects, self.streams, notes, uncertain, all_uncertain)


def _missing_note(kind: Kind, everywhere: bool, namespaces: list[str]) -> str:
    """One note: what could not be read (403) and what that means for the result."""
    where = "in any namespace" if everywhere else f"in namespace(s) {', '.join(namespaces)}"
    if kind is NAMESPACES:
        return ("Namespaces: cannot list (forbidden): namespace labels are unknown, so rules with a "
                "namespaceSelector are evaluated without them and verdicts that depend on them may be wrong")
    if kind is NETWORK_POLICIES:
        if everywhere:
            return ("NetworkPolicies: cannot list in any namespace (forbidden): no policy is known, so every "
                    "verdict is uncertain")
        return (f"NetworkPolicies: cannot list {where} (forbidden): their policies are unknown, so verdicts for "
                "traffic to or from pods there are uncertain")
    if kind is PODS:
        return f"Pods: cannot list {where} (forbidden): those pods are missing from the matrix"
    if not kind.namespaced:
        return (f"{kind.title}: cannot list (forbidden): if the cluster has any, they are unknown, so every verdict "
                "may differ from the one shown")
    return (f"{kind.title}: cannot list {where} (forbidden): pods they own are grouped under the owner named in "
            "their ownerReferences, which may not be the top-level workload")
