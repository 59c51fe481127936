"""Provides ``parse_intent``: a tiers intent file (already loaded from YAML) -> TierIntent.

Format (every key but ``chain`` optional; command-line options override the file)::

    namespace: production
    labelKey: tier                 # the label that names tiers; default: looked up in the model
    dns: true                      # DNS egress for every tier (default true)
    entry:                         # who may call the first tier
      namespace: ingress-nginx
      selector: app.kubernetes.io/name=ingress-nginx     # kubectl -l syntax, or a matchLabels mapping
    chain: frontend:8443 -> api:8080 -> postgresql:5432,redis:6379
    # or, one item per group (a string in the chain grammar, a list, or a mapping):
    # chain:
    #   - frontend:8443
    #   - {name: api, ports: [8080]}
    #   - [postgresql:5432, {name: redis, selector: {app: redis}, ports: ["6379/tcp"]}]

The file is read by the command; this module only checks its shape and says where it is wrong.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from ..errors import InputError, Origin, UsageError
from .draft import match_labels, parse_port, parse_selector
from .tiers import Entry, Tier, TierIntent, check_groups, parse_chain, parse_tier

KEYS = ("kind", "apiVersion", "namespace", "labelKey", "dns", "entry", "chain")


def _fail(origin: Origin, path: str, message: str) -> InputError:
    return InputError(message, origin, path=path)


def _selector(value: Any, origin: Origin, path: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            return parse_selector(value, path)
        except UsageError as exc:
            raise _fail(origin, path, str(exc)) from None
    if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return match_labels(dict(value))
    raise _fail(origin, path, "a selector is a string in kubectl -l syntax or a mapping of label: value "
                              "(quote values such as 'yes', 'on', 'true' that YAML 1.1 reads as booleans)")


def _tier(item: Any, origin: Origin, path: str) -> Tier:
    try:
        if isinstance(item, str):
            return parse_tier(item)
        if isinstance(item, Mapping):
            unknown = [k for k in item if k not in ("name", "selector", "ports")]
            if unknown:
                raise _fail(origin, f"{path}.{unknown[0]}", 'unknown field (a tier has "name", "selector", "ports")')
            name = item.get("name")
            if not isinstance(name, str) or not name:
                raise _fail(origin, f"{path}.name", "Required value: a tier needs a name")
            ports_raw = item.get("ports") or []
            if not isinstance(ports_raw, list):
                raise _fail(origin, f"{path}.ports", "must be a list of ports")
            ports = tuple(parse_port(str(p)) for p in ports_raw)
            base = parse_tier(name)
            if "selector" in item:
                sel = _selector(item["selector"], origin, f"{path}.selector")
                return Tier(base.name, ports, sel, f"selected by {item['selector']} (intent file)")
            return Tier(base.name, ports, base.selector, base.how)
    except UsageError as exc:
        raise _fail(origin, path, str(exc)) from None
    raise _fail(origin, path, "a tier is a string like 'api:8080' or a mapping with name, selector, ports")


def parse_intent(data: Any, origin: Origin) -> TierIntent:
    """Check an intent document and build the TierIntent (namespace may be '' when the file has none).

    Raises:
        InputError: with the file, the document and the field that is wrong.
    """
    if not isinstance(data, Mapping):
        raise _fail(origin, "", "an intent file is a mapping with at least a 'chain' key")
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        raise _fail(origin, str(unknown[0]), f"unknown field (an intent file has {', '.join(KEYS[2:])})")
    ns = data.get("namespace", "")
    if not isinstance(ns, str):
        raise _fail(origin, "namespace", "must be a string")
    key = data.get("labelKey")
    if key is not None and not isinstance(key, str):
        raise _fail(origin, "labelKey", "must be a string")
    dns = data.get("dns", True)
    if not isinstance(dns, bool):
        raise _fail(origin, "dns", "must be true or false")
    entry = None
    if data.get("entry") is not None:
        e = data["entry"]
        if not isinstance(e, Mapping) or not isinstance(e.get("namespace"), str):
            raise _fail(origin, "entry", "must be a mapping with a namespace (and optionally a selector)")
        entry = Entry(e["namespace"], _selector(e["selector"], origin, "entry.selector") if e.get("selector") else {})
    chain = data.get("chain")
    if isinstance(chain, str):
        try:
            groups = parse_chain(chain)
        except UsageError as exc:
            raise _fail(origin, "chain", str(exc)) from None
    elif isinstance(chain, list) and len(chain) >= 2:
        out = []
        for i, item in enumerate(chain):
            p = f"chain[{i}]"
            if isinstance(item, str) and "," in item:
                out.append(tuple(_tier(s, origin, p) for s in item.split(",") if s.strip()))
            elif isinstance(item, list):
                out.append(tuple(_tier(s, origin, f"{p}[{j}]") for j, s in enumerate(item)))
            else:
                out.append((_tier(item, origin, p),))
        groups = tuple(out)
        try:
            check_groups(groups)
        except UsageError as exc:
            raise _fail(origin, "chain", str(exc)) from None
    else:
        raise _fail(origin, "chain", "Required value: a chain string ('a -> b:8080') or a list of at least two groups")
    return TierIntent(ns, groups, entry, key, dns)
