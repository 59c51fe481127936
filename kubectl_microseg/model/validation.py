"""Provides the API server's value and field rules shared by every kind: names, CIDRs, IPs, known fields.

Each rule follows the Kubernetes source of the version the tool targets (v1.36): apimachinery
``pkg/util/validation`` (DNS labels and subdomains, IsValidCIDRForLegacyField and IsValidIPForLegacyField
with StrictIPCIDRValidation on) and the field lists of the API types, which kubectl's strict field
validation (its default, ``--validate=strict``) uses to refuse unknown fields. A violation raises
policy.FieldError with the offending field's path.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from collections.abc import Mapping
from .objects import FieldPath

Path = FieldPath

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
# ``\Z``, not ``$``: Go's regexp anchors at the very end, Python's ``$`` also before a final newline

OBJECT_META_FIELDS = frozenset((
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
    "managedFields"))
"""metav1.ObjectMeta's JSON fields (apimachinery pkg/apis/meta/v1/types.go)."""

TOP_LEVEL_FIELDS: dict[str, frozenset[str]] = {
    "NetworkPolicy": frozenset(("apiVersion", "kind", "metadata", "spec", "status")),
    "Namespace": frozenset(("apiVersion", "kind", "metadata", "spec", "status")),
    "Pod": frozenset(("apiVersion", "kind", "metadata", "spec", "status")),
    "AdminNetworkPolicy": frozenset(("apiVersion", "kind", "metadata", "spec", "status")),
    "BaselineAdminNetworkPolicy": frozenset(("apiVersion", "kind", "metadata", "spec", "status")),
    "ClusterNetworkPolicy": frozenset(("apiVersion", "kind", "metadata", "spec", "status")),
}
"""The top-level fields of the kinds the tool reads (k8s.io/api types; the workload kinds have the same
fields as a Pod). NetworkPolicy lost its status in v1.27, but manifests exported by older kubectl carry
``status: {}`` (the shared conformance cases do): it is accepted and ignored."""
WORKLOAD_TOP_LEVEL = TOP_LEVEL_FIELDS["Pod"]


def _error(path: Path, message: str) -> Exception:
    from .policy import FieldError

    return FieldError(path, message)


def check_known_fields(m: Mapping[str, Any], known: frozenset[str] | tuple[str, ...], path: Path, what: str) -> None:
    """kubectl's strict field validation: ``unknown field "spec.ingress[0].ports[0].protcol"``."""
    for k in m:
        if k not in known:
            shown = f" ({what} has {', '.join(sorted(known))})" if len(known) <= 6 else ""
            raise _error(path + (k,), f'unknown field "{k}"{shown}')


def check_object_fields(raw: Mapping[str, Any], kind: str, workload: bool = False) -> None:
    """Unknown top-level and metadata fields of a kind the tool reads."""
    top = WORKLOAD_TOP_LEVEL if workload else TOP_LEVEL_FIELDS.get(kind)
    if top is None:
        return
    check_known_fields(raw, top, (), f"a {kind}")
    meta = raw.get("metadata")
    if isinstance(meta, Mapping):
        check_known_fields(meta, OBJECT_META_FIELDS, ("metadata",), "metadata")


def name_problem(value: str, label: bool) -> str | None:
    """Why ``value`` is no valid object name, or None. ``label``: IsDNS1123Label (a Namespace's name: at
    most 63 lower-case alphanumerics or '-'), else IsDNS1123Subdomain (the other kinds: at most 253
    characters, dot-separated labels)."""
    if label and (len(value) > 63 or not DNS1123_LABEL.match(value)):
        return "is not a valid DNS-1123 label"
    if not label and (len(value) > 253 or not DNS1123_SUBDOMAIN.match(value)):
        return "is not a valid DNS subdomain"
    return None


_CIDR_SHAPE = re.compile(r"([0-9A-Fa-f:.]+)/([0-9]+)\Z")
_LEADING_ZERO_OCTET = re.compile(r"(^|[.:])0[0-9]")


def parse_cidr(text: str, path: Path) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """IsValidCIDRForLegacyField with strict validation (apimachinery validation/ip.go, v1.33+ default):
    Go's ParseCIDR (no spaces, no zone, no netmask form), then no leading 0s, no IPv4-mapped IPv6 address
    and no bits set beyond the prefix length (``10.0.0.1/24`` is refused). The same rules hold for the
    CEL ``isCIDR(self) && cidr(self) == cidr(self).masked()`` of AdminNetworkPolicy ``networks``."""
    invalid = f"{text!r}: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
    m = _CIDR_SHAPE.match(text) if isinstance(text, str) else None
    if not m:
        raise _error(path, invalid)
    addr, plen = m.groups()
    v4 = ":" not in addr
    if (len(plen) > 1 and plen.startswith("0")) or (v4 and _LEADING_ZERO_OCTET.search(addr)):
        raise _error(path, f"{text!r}: must not have leading 0s in IP or prefix length")
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        raise _error(path, invalid) from None
    if int(plen) > ip.max_prefixlen:
        raise _error(path, invalid)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        raise _error(path, f"{text!r}: must not have an IPv4-mapped IPv6 address")
    net = ipaddress.ip_network(f"{ip}/{plen}", strict=False)
    if net.network_address != ip:
        raise _error(path, f"{text!r}: must not have bits set beyond the prefix length")
    return net


def parse_ip(value: Any, path: Path) -> str:
    """A pod IP (IsValidIPForLegacyField, strict): a string, an IPv4 or IPv6 address without a zone."""
    if not isinstance(value, str):
        raise _error(path, f"must be an IP address string, not {value!r}")
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise _error(path, f"{value!r}: must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)") from None
    if isinstance(ip, ipaddress.IPv6Address) and (ip.scope_id or ip.ipv4_mapped is not None):
        raise _error(path, f"{value!r}: must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
    return value


TOTAL_ANNOTATION_BYTES = 256 * 1024
"""apimachinery ValidateAnnotations: TotalAnnotationSizeLimitB."""


def check_annotations(value: Any, path: Path) -> None:
    """ValidateAnnotations: a map of qualified-name keys to strings, at most 256 KiB in all."""
    from .policy import type_name, validate_label_key

    if value is None:
        return
    if not isinstance(value, Mapping):
        raise _error(path, f"must be an object, not {type_name(value)}")
    total = 0
    for k, v in value.items():
        validate_label_key(k, path + (k,))
        if v is not None and not isinstance(v, str):
            raise _error(path + (k,), f"annotation value must be a string, not {type_name(v)} ({v!r}); quote it in YAML")
        total += len(str(k)) + len(v or "")
    if total > TOTAL_ANNOTATION_BYTES:
        raise _error(path, f"may not have more than {TOTAL_ANNOTATION_BYTES // 1024} KiB in all (got {total:,} bytes)")
