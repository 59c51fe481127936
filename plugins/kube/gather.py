"""Provides gather(): the initial list of every kind, with the fallbacks a least-privilege user needs.

- Namespaced kinds are listed across all namespaces first (one request per page), also with ``-n``:
  the views focus on that namespace, but its connectivity depends on the pods and the policies of the
  namespaces it talks to, so the result equals that of the same objects given as files. Where a
  cluster-wide list is forbidden (403), the kind is listed namespace by namespace, over the namespace
  given with ``-n`` and those known from the Namespace list and the other kinds' objects (or, when
  nothing reveals one, the context's namespace): a user with a namespaced role gets their namespace.
- What stays unreadable is recorded, and turned into warnings that say what it means for the result;
  NetworkPolicies that cannot be read make their namespaces (or all namespaces) *uncertain*, and so do
  policies that select peers by namespace labels when the Namespaces cannot be read. When the Namespace
  list is forbidden and a kind had to be listed per namespace, namespaces nobody revealed are missing:
  the view is partial, and says so.
- A 403 is not always a permission problem: authorization comes before routing, so a reader gets 403
  for an API the server does not serve at all. Discovery (readable by every authenticated user) tells
  the two apart; an API that is not served is "none", not "forbidden".
- When nothing at all could be read, the load fails (exit 3) rather than showing an empty cluster.
- Each successful list becomes a Stream: the scope to watch and the resourceVersion to watch from.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from kubectl_microseg.errors import UnreachableError, UsageError

from .failures import CLIENT_ERRORS, FATAL, FORBIDDEN, UNREACHABLE, classify, unreachable
from .kinds import KINDS, NAMESPACES, NETWORK_POLICIES, PODS, SERVICE_ACCOUNTS, Calls, Kind, clean, object_key
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
    def from_list(cls, scope: Scope, result: ListResult) -> Stream:
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
    warnings: list[str] = field(default_factory=list)
    uncertain_reasons: dict[str, str] = field(default_factory=dict)
    namespaces_complete: bool = True


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
        self._served: dict[str, set[str] | None] = {}

    def run(self) -> Gathered:
        ns_listed = self._namespaces()
        if ns_listed and self.namespace is not None and not any(
                o.get("kind") == "Namespace" and o["metadata"].get("name") == self.namespace for o in self.objects):
            raise UsageError(f'namespace "{self.namespace}" not found on the server {self.server}'
                             f"{_did_you_mean(self.namespace, self._namespace_names())}")
        pending: list[Kind] = []
        for kind in KINDS:
            if kind.instead_of and self._group_served(kind.instead_of):
                continue  # the same objects are read in their other form
            if kind.optional and self._group_served(kind.api_version) is False:
                continue  # discovery says the CRD is not installed: nothing to list (a normal cluster)
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
                if classify(exc).status == 404:  # the namespace does not exist (a typo): not "none read"
                    raise UsageError(f'namespace "{self.namespace}" not found on the server {self.server}') from None
                self._check_fatal(exc, NAMESPACES)
        return False

    def _namespace_names(self) -> list[str]:
        return [o["metadata"]["name"] for o in self.objects if o.get("kind") == "Namespace"]

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
            return self._check_fatal(exc, scope.kind) == "unserved"
        self.objects.extend(result.items)
        self.streams.append(Stream.from_list(scope, result))
        return True

    def _check_fatal(self, exc: BaseException, kind: Kind) -> str:
        """Return 'forbidden' or 'unserved' (404: the server lacks the kind); raise for anything else."""
        failure = classify(exc)
        if failure.kind == FORBIDDEN:
            if not self._is_served(kind):
                return self._check_fatal_unserved(kind)
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

    def _check_fatal_unserved(self, kind: Kind) -> str:
        if kind not in self.unserved and not kind.optional:
            self.unserved.append(kind)
        return "unserved"

    def _group_served(self, group_version: str) -> bool | None:
        """Whether discovery lists ``group_version`` with at least one resource (None: it cannot tell)."""
        self._discover(group_version)
        names = self._served[group_version]
        return None if names is None else bool(names)

    def _discover(self, gv: str) -> None:
        if gv not in self._served:
            path = "/api/v1" if gv == "v1" else f"/apis/{gv}"
            try:
                doc = read_json(self.calls.get(path, [], self.timeout))
                self._served[gv] = {str(r.get("name")) for r in doc.get("resources") or [] if isinstance(r, dict)}
            except CLIENT_ERRORS as exc:
                self._served[gv] = set() if classify(exc).status == 404 else None

    def _is_served(self, kind: Kind) -> bool:
        """Whether the server serves ``kind``, from discovery; True when discovery cannot tell.

        Discovery (/api/v1, /apis/GROUP/VERSION) is granted to every authenticated user (the
        system:discovery ClusterRole); a 404 there, or a resource list without the kind, means not served.
        """
        gv = kind.api_version
        self._discover(gv)
        names = self._served[gv]
        return names is None or kind.plural in names

    # -- result ------------------------------------------------------------------------------------

    def _result(self, ns_listed: bool) -> Gathered:
        if not self.streams and not self.objects and self.missing:
            what = ", ".join(k.title for k in KINDS if k in self.missing)
            raise UnreachableError(f"cannot read anything from the server {self.server}: listing {what} was "
                                   "forbidden (403); the views need the microseg-view role of deploy/rbac.yaml "
                                   "(kubectl auth can-i list pods -A)")
        notes: list[str] = []
        warnings: list[str] = []
        for kind, count in self.fallbacks.items():
            notes.append(f"{kind.title}: cannot list across all namespaces (forbidden); listed them in each of "
                         f"{count} known namespace(s) instead")
        reasons: dict[str, str] = {}
        for kind in KINDS:
            where = self.missing.get(kind)
            if not where:
                continue
            everywhere = None in where
            if kind is NETWORK_POLICIES:
                if everywhere:
                    reasons["*"] = "NetworkPolicies could not be read (forbidden)"
                for n in where:
                    if n:
                        reasons.setdefault(n, f"NetworkPolicies in namespace {n} could not be read (forbidden)")
            elif not kind.namespaced and kind is not NAMESPACES:
                reasons["*"] = f"{kind.title} could not be read (forbidden): they may decide any pair"
            # unreadable ServiceAccounts only matter to Calico's label matches, which mark themselves uncertain
            (notes if kind is SERVICE_ACCOUNTS else warnings).append(
                _missing_note(kind, everywhere, sorted(n for n in where if n)))
        if NAMESPACES in self.missing:
            for n in self._label_selecting_namespaces():
                reasons.setdefault(n, f"namespace labels could not be read (forbidden) and a policy in {n} "
                                      "selects peers by namespace labels")
            if self.fallbacks:
                seen = sorted({str(o["metadata"].get("namespace")) for o in self.objects
                               if o.get("kind") != "Namespace" and o["metadata"].get("namespace")}
                              | ({self.namespace} if self.namespace else set()))
                warnings.append(f"partial view: only namespace(s) {', '.join(seen) or 'none'} could be read "
                                "(Namespaces cannot be listed): pods and policies of other namespaces are unknown, "
                                "so flows to or from them (such as DNS to kube-system) are not shown")
        for kind in self.unserved:
            notes.append(f"the server does not serve {kind.title} ({kind.api_version}); none were read")
        uncertain = {n for n in reasons if n != "*"}
        return Gathered(self.objects, self.streams, warnings + notes, uncertain, "*" in reasons, warnings, reasons,
                        namespaces_complete=ns_listed)

    def _label_selecting_namespaces(self) -> list[str]:
        """Namespaces of readable NetworkPolicies with a peer that selects namespaces by label."""
        out = set()
        for o in self.objects:
            if o.get("kind") != "NetworkPolicy":
                continue
            spec = o.get("spec") or {}
            peers = [p for d in ("ingress", "egress") for r in spec.get(d) or [] if isinstance(r, dict)
                     for p in (r.get("from") or r.get("to") or []) if isinstance(p, dict)]
            if any(isinstance(p.get("namespaceSelector"), dict) and p["namespaceSelector"] for p in peers):
                out.add(str(o["metadata"].get("namespace")))
        return sorted(out)


def _did_you_mean(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


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
    if kind is SERVICE_ACCOUNTS:
        return (f"ServiceAccounts: cannot list {where} (forbidden): Calico policies that select service accounts "
                "by label see their names only, and the verdicts they decide are marked uncertain")
    if kind.api_version.startswith("security.istio.io/"):
        return (f"{kind.title}: cannot list {where} (forbidden): the service-mesh verdicts (docs/mesh.md) are "
                "shown without them and may be wrong")
    if not kind.namespaced:
        return (f"{kind.title}: cannot list (forbidden): if the cluster has any, they are unknown, so every verdict "
                "may differ from the one shown")
    return (f"{kind.title}: cannot list {where} (forbidden): pods they own are grouped under the owner named in "
            "their ownerReferences, which may not be the top-level workload")
