"""Provides ``hosts_of``: the objects of a host-firewall source as the hosts of a matrix.

A host-firewall source (the registry's ``nftables``, or any other that yields the same objects) gives one
``NftablesRuleset`` object per host; reading files, the kernel or an inventory is the source's business
(plugins/nftables.py), parsing and checking the ruleset is the core's (``parse.parse_ruleset``).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import InputError
from ..model.objects import SourceObject
from .matrix import HostSpec
from .parse import parse_ruleset

RULESET_KIND = "NftablesRuleset"
"""The kind of a host-firewall source's objects: ``metadata.name`` (the host), ``addresses`` (its own),
``nftables`` (the libnftables JSON list), ``defines`` (``define NAME = VALUE`` of the file), ``description``."""


def ruleset_object(name: str, addresses: list[str], doc: object, description: str,
                   defines: dict[str, str] | None = None) -> dict[str, object]:
    """The raw object of one host (what a source puts in its Snapshot)."""
    nftables = doc.get("nftables") if isinstance(doc, dict) else None  # not a document: parse_ruleset says so
    return {"kind": RULESET_KIND, "metadata": {"name": name}, "addresses": list(addresses), "nftables": nftables,
            "defines": dict(defines or {}), "description": description}


def hosts_of(objects: Iterable[SourceObject], description: str) -> list[HostSpec]:
    """The hosts of a source's objects, their rulesets parsed (an InputError names the file)."""
    hosts = []
    for obj in objects:
        if obj.kind != RULESET_KIND:
            raise InputError(f"a host-firewall view needs {RULESET_KIND} objects, not {obj.kind or 'no kind'}",
                             obj.origin)
        raw = obj.raw
        rs = parse_ruleset({"nftables": raw.get("nftables")}, obj.origin, raw.get("defines") or {},
                           str(raw.get("description") or description))
        hosts.append(HostSpec(obj.name, list(raw.get("addresses") or []), rs))
    if not hosts:
        raise InputError(f"{description}: no ruleset")
    return hosts
