"""Provides the Istio security objects (``security.istio.io/v1`` and ``v1beta1``): AuthorizationPolicy and
PeerAuthentication, validated, and the mesh facts of a pod (sidecar, ambient, service-account principal).

References (istio.io/latest/docs/reference/config/security/): authorization-policy/, peer_authentication/,
and the concepts page docs/concepts/security/ ("Authorization policies", "Peer authentication").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping

from .policy import FieldError, type_name
from .selectors import LabelSelector
from .objects import FieldPath
from ..vocab import StrEnum

MESH_API_GROUP = "security.istio.io"
MESH_API_VERSIONS = ("security.istio.io/v1", "security.istio.io/v1beta1")
AUTHZ_KIND = "AuthorizationPolicy"
PEER_AUTHN_KIND = "PeerAuthentication"
MESH_KINDS = (AUTHZ_KIND, PEER_AUTHN_KIND)
DEFAULT_ROOT_NAMESPACE = "istio-system"
DEFAULT_TRUST_DOMAIN = "cluster.local"


@dataclass(frozen=True)
class MeshOptions:
    """How the mesh is installed, where the objects do not say: ``--mesh-root-namespace`` and
    ``--trust-domain`` (parsed once, load.mesh_options; carried by the engine's Options)."""

    root_namespace: str = DEFAULT_ROOT_NAMESPACE
    """Its policies apply mesh-wide (meshConfig.rootNamespace; istio-system by default)."""
    trust_domain: str = DEFAULT_TRUST_DOMAIN
    """The first part of principals TRUST_DOMAIN/ns/NS/sa/SA (meshConfig.trustDomain; cluster.local by default)."""


class AuthzAction(StrEnum):
    """authorization-policy: "The action to take if the request is matched with the rules. Default is ALLOW"."""

    ALLOW = "ALLOW"
    DENY = "DENY"
    AUDIT = "AUDIT"
    CUSTOM = "CUSTOM"


class MtlsMode(StrEnum):
    """peer_authentication, PeerAuthentication.MutualTLS.Mode."""

    UNSET = "UNSET"
    DISABLE = "DISABLE"
    PERMISSIVE = "PERMISSIVE"
    STRICT = "STRICT"


SOURCE_FIELDS = ("principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces",
                 "notNamespaces", "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks",
                 "serviceAccounts", "notServiceAccounts")
OPERATION_FIELDS = ("hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths")


@dataclass(frozen=True)
class Condition:
    """A ``when`` condition: ``key`` in ``values`` (and not in ``not_values``)."""

    key: str
    values: tuple[str, ...] = ()
    not_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthzRule:
    index: int
    """1-based, as explain prints it."""
    sources: tuple[dict[str, tuple[str, ...]], ...]
    """Each ``from[i].source``: field -> values (the fields OR'ed within, AND'ed across)."""
    operations: tuple[dict[str, tuple[str, ...]], ...]
    conditions: tuple[Condition, ...]
    path: FieldPath

    @property
    def is_empty(self) -> bool:
        """The rule ``{}``: "matches everything"."""
        return not self.sources and not self.operations and not self.conditions


@dataclass(frozen=True)
class AuthorizationPolicy:
    namespace: str
    name: str
    action: AuthzAction
    selector: LabelSelector | None
    target_refs: tuple[dict[str, str], ...]
    rules: tuple[AuthzRule, ...]
    provider: str = ""

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class PeerAuthentication:
    namespace: str
    name: str
    selector: LabelSelector | None
    """None: namespace-wide (or mesh-wide in the root namespace)."""
    mode: MtlsMode
    port_modes: tuple[tuple[int, MtlsMode], ...] = ()
    created: str = ""
    """``metadata.creationTimestamp`` (RFC 3339, UTC, so the text sorts by age); "" when the input has none."""

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


HTTP_PROTOCOLS = frozenset({"http", "http2", "grpc", "grpc-web"})
"""Protocols whose requests an Istio sidecar parses as HTTP (istio.io ops/configuration/traffic-management/
protocol-selection, "Explicit protocol selection")."""
OPAQUE_PROTOCOLS = frozenset({"tcp", "tls", "https", "mongo", "mysql", "redis"})
"""Protocols a sidecar treats as TCP for authorization ("https: ... the Sidecar does not decrypt TLS traffic,
this is the same as tls"; mongo, mysql, redis: opaque TCP unless experimentally enabled)."""


def port_protocol(name: str, app_protocol: str) -> str:
    """A Service port's protocol as Istio selects it: ``appProtocol`` "takes precedence over the port name";
    the name is ``<protocol>[-<suffix>]``; '' when neither names one (Istio then detects HTTP itself)."""
    for text in (app_protocol.lower(), name.split("-", 1)[0].lower()):
        if text in HTTP_PROTOCOLS or text in OPAQUE_PROTOCOLS:
            return text  # (an appProtocol Istio does not know leaves the name to say)
    return ""


@dataclass(frozen=True)
class MeshService:
    """What protocol selection reads of a Service: its selector and, per TCP port, the target and protocol."""

    namespace: str
    selector: LabelSelector | None
    """None: no selector (no pods behind it here)."""
    ports: tuple[tuple[int | str, str], ...]
    """(targetPort: a number or a container port name, protocol: one of the sets above or '')."""


def parse_service(raw: Mapping[str, Any]) -> MeshService | None:
    """The Service as protocol selection sees it; None when its shape says nothing usable (Services are the API
    server's to validate: a malformed port is skipped, never an error here)."""
    spec: dict[str, Any] = raw["spec"] if isinstance(raw.get("spec"), dict) else {}
    sel = spec.get("selector")
    selector = (LabelSelector.from_match_labels({str(k): str(v) for k, v in sel.items()})
                if isinstance(sel, dict) and sel else None)
    ports: list[tuple[int | str, str]] = []
    for p in spec.get("ports") or []:
        if not isinstance(p, dict) or str(p.get("protocol") or "TCP").upper() != "TCP":
            continue
        target = p.get("targetPort", p.get("port"))
        if isinstance(target, str) and target.isdigit():
            target = int(target)
        if isinstance(target, (int, str)) and not isinstance(target, bool):
            ports.append((target, port_protocol(str(p.get("name") or ""), str(p.get("appProtocol") or ""))))
    meta: dict[str, Any] = raw["metadata"] if isinstance(raw.get("metadata"), dict) else {}
    return MeshService(str(meta.get("namespace") or "default"), selector, tuple(ports)) if ports else None


@dataclass
class MeshObjects:
    """The mesh objects of a snapshot, with the objects they came from (for file and line)."""

    authz: list[tuple[AuthorizationPolicy, Any]] = field(default_factory=list)
    peer_authn: list[tuple[PeerAuthentication, Any]] = field(default_factory=list)
    services: list[MeshService] = field(default_factory=list)
    """The Services, for protocol selection only (they do not make a mesh: ``bool()`` ignores them)."""

    def __bool__(self) -> bool:
        return bool(self.authz or self.peer_authn)


def _strings(v: Any, path: FieldPath) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise FieldError(path, f"must be a list of strings, not {type_name(v)}")
    for i, s in enumerate(v):
        if not isinstance(s, str):
            raise FieldError(path + (i,), f"must be a string, not {type_name(s)}")
    return tuple(v)


def _obj(v: Any, path: FieldPath) -> dict[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise FieldError(path, f"must be an object, not {type_name(v)}")
    return v


def _known(d: Mapping[str, Any], allowed: tuple[str, ...], path: FieldPath) -> None:
    for k in d:
        if k not in allowed:
            raise FieldError(path + (k,), f'unknown field "{k}"')


def _selector(spec: Mapping[str, Any]) -> LabelSelector | None:
    """``selector.matchLabels``; an absent or empty selector selects every workload of the namespace (the
    reference: "If not set, the policy will be applied to all workloads in the same namespace")."""
    sel = _obj(spec.get("selector"), ("spec", "selector"))
    _known(sel, ("matchLabels",), ("spec", "selector"))
    labels = _obj(sel.get("matchLabels"), ("spec", "selector", "matchLabels"))
    for k, v in labels.items():
        if not isinstance(v, str):
            raise FieldError(("spec", "selector", "matchLabels", k), f"must be a string, not {type_name(v)}")
    return LabelSelector.from_match_labels(labels) if labels else None


def parse_authorization_policy(raw: Mapping[str, Any]) -> AuthorizationPolicy:
    meta = raw.get("metadata") or {}
    spec = _obj(raw.get("spec"), ("spec",))
    _known(spec, ("selector", "targetRef", "targetRefs", "action", "provider", "rules"), ("spec",))
    action_text = spec.get("action") or AuthzAction.ALLOW.value
    try:
        action = AuthzAction(action_text)
    except ValueError:
        raise FieldError(("spec", "action"), f"Unsupported value: {action_text!r}: supported values: "
                         + ", ".join(f'"{a.value}"' for a in AuthzAction)) from None
    provider = ""
    if action is AuthzAction.CUSTOM:
        prov = _obj(spec.get("provider"), ("spec", "provider"))
        provider = str(prov.get("name") or "")
        if not provider:
            raise FieldError(("spec", "provider", "name"), "Required value: a CUSTOM policy names its provider")
    refs: list[dict[str, str]] = []
    if spec.get("targetRef") is not None:
        refs.append(_obj(spec["targetRef"], ("spec", "targetRef")))
    for i, r in enumerate(spec.get("targetRefs") or []):
        refs.append(_obj(r, ("spec", "targetRefs", i)))
    selector = _selector(spec)
    if refs and spec.get("selector") is not None:
        # the reference: "selector and targetRefs are mutually exclusive" (CRD validation)
        raise FieldError(("spec", "targetRefs"), "only one of selector or targetRefs can be set")
    raw_rules = spec.get("rules")
    if raw_rules is not None and not isinstance(raw_rules, list):
        raise FieldError(("spec", "rules"), f"must be a list, not {type_name(raw_rules)}")
    rules = []
    for i, r in enumerate(raw_rules or []):
        rp = ("spec", "rules", i)
        r = _obj(r, rp)
        _known(r, ("from", "to", "when"), rp)
        sources = []
        for j, f in enumerate(r.get("from") or []):
            src = _obj(_obj(f, rp + ("from", j)).get("source"), rp + ("from", j, "source"))
            _known(src, SOURCE_FIELDS, rp + ("from", j, "source"))
            sources.append({k: _strings(v, rp + ("from", j, "source", k)) for k, v in src.items()})
        ops = []
        for j, t in enumerate(r.get("to") or []):
            op = _obj(_obj(t, rp + ("to", j)).get("operation"), rp + ("to", j, "operation"))
            _known(op, OPERATION_FIELDS, rp + ("to", j, "operation"))
            ops.append({k: _strings(v, rp + ("to", j, "operation", k)) for k, v in op.items()})
            for k in ("ports", "notPorts"):
                for p in ops[-1].get(k, ()):
                    if not p.isdigit() or not 0 < int(p) <= 65535:
                        raise FieldError(rp + ("to", j, "operation", k), f"invalid port {p!r}: a number 1-65535")
        conds = []
        for j, c in enumerate(r.get("when") or []):
            c = _obj(c, rp + ("when", j))
            _known(c, ("key", "values", "notValues"), rp + ("when", j))
            if not isinstance(c.get("key"), str) or not c["key"]:
                raise FieldError(rp + ("when", j, "key"), "Required value: a condition names its key")
            conds.append(Condition(c["key"], _strings(c.get("values"), rp + ("when", j, "values")),
                                   _strings(c.get("notValues"), rp + ("when", j, "notValues"))))
        rules.append(AuthzRule(i + 1, tuple(sources), tuple(ops), tuple(conds), rp))
    return AuthorizationPolicy(str(meta.get("namespace") or "default"), str(meta.get("name")), action, selector,
                               tuple(refs), tuple(rules), provider)


def _mode(v: Any, path: FieldPath) -> MtlsMode:
    m = _obj(v, path)
    _known(m, ("mode",), path)
    text = m.get("mode") or MtlsMode.UNSET.value
    try:
        return MtlsMode(text)
    except ValueError:
        raise FieldError(path + ("mode",), f"Unsupported value: {text!r}: supported values: "
                         + ", ".join(f'"{x.value}"' for x in MtlsMode)) from None


def parse_peer_authentication(raw: Mapping[str, Any]) -> PeerAuthentication:
    meta = raw.get("metadata") or {}
    spec = _obj(raw.get("spec"), ("spec",))
    _known(spec, ("selector", "mtls", "portLevelMtls"), ("spec",))
    selector = _selector(spec)
    mode = _mode(spec.get("mtls"), ("spec", "mtls"))
    ports = []
    for k, v in _obj(spec.get("portLevelMtls"), ("spec", "portLevelMtls")).items():
        if not str(k).isdigit() or not 0 < int(k) <= 65535:
            raise FieldError(("spec", "portLevelMtls", k), f"invalid port {k!r}: a number 1-65535")
        ports.append((int(k), _mode(v, ("spec", "portLevelMtls", k))))
    if ports and selector is None:
        # peer_authentication: portLevelMtls "can only be set when selector is set" (CRD validation rule)
        raise FieldError(("spec", "portLevelMtls"), "portLevelMtls requires a workload selector (spec.selector)")
    return PeerAuthentication(str(meta.get("namespace") or "default"), str(meta.get("name")), selector, mode,
                              tuple(sorted(ports)), str(meta.get("creationTimestamp") or ""))


class Dataplane(StrEnum):
    """How a pod is in the mesh."""

    NONE = "none"
    SIDECAR = "sidecar"
    AMBIENT = "ambient"


def pod_dataplane(ns_labels: Mapping[str, str], pod_labels: Mapping[str, str],
                  pod_annotations: Mapping[str, str]) -> Dataplane:
    """Sidecar injection as the injector's webhooks decide it (istio.io docs/setup/additional-setup/
    sidecar-injection, "Controlling the injection policy"): a pod label ``sidecar.istio.io/inject`` (the
    annotation is the older form) overrides; otherwise the namespace label ``istio-injection=enabled`` or an
    ``istio.io/rev`` label enables it (``istio-injection=disabled`` disables it). Ambient: the namespace
    (or pod) label ``istio.io/dataplane-mode=ambient``; a pod label ``istio.io/dataplane-mode=none`` opts
    out; a sidecar wins over ambient."""
    inject = pod_labels.get("sidecar.istio.io/inject", pod_annotations.get("sidecar.istio.io/inject"))
    if inject is not None:
        if inject.lower() == "true":
            return Dataplane.SIDECAR
    elif ns_labels.get("istio-injection") == "enabled" or (
            "istio.io/rev" in ns_labels and ns_labels.get("istio-injection") != "disabled"):
        return Dataplane.SIDECAR
    mode = pod_labels.get("istio.io/dataplane-mode", ns_labels.get("istio.io/dataplane-mode"))
    if mode == "ambient":
        return Dataplane.AMBIENT
    return Dataplane.NONE


def pod_template(kind: str, raw: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The ``metadata`` and ``spec`` of the pods a workload object runs (a Pod's own; a controller's template)."""
    if kind == "Pod" or raw.get("kind") == "Pod":
        return raw.get("metadata") or {}, raw.get("spec") or {}
    tpl = raw.get("spec") or {}
    if kind == "CronJob":
        tpl = (tpl.get("jobTemplate") or {}).get("spec") or {}
    tpl = tpl.get("template") or {}
    return tpl.get("metadata") or {}, tpl.get("spec") or {}


def service_account(pod_spec: Mapping[str, Any]) -> str:
    """The pod's service account (``serviceAccountName``, the deprecated ``serviceAccount``, else default)."""
    return str(pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount") or "default")


def principal(trust_domain: str, namespace: str, service_account: str) -> str:
    """The SPIFFE identity without its scheme, as AuthorizationPolicy principals write it."""
    return f"{trust_domain}/ns/{namespace}/sa/{service_account or 'default'}"
