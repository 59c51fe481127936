"""Provides krew's rules for a plugin manifest, the platform match krew does, and the manifest update.

The rules mirror kubernetes-sigs/krew ``internal/index/validation/validate.go`` (``ValidatePlugin``,
``validatePlatform``, ``validateFiles``, ``validateSelector``) and ``internal/installation/semver``;
:func:`convention_problems` adds what the krew docs ask for but the validator does not enforce.
"""

from __future__ import annotations

import re
from typing import Any

API_VERSION = "krew.googlecontainertools.github.com/v1alpha2"
KIND = "Plugin"

_SAFE_NAME = re.compile(r"^[0-9A-Za-z_-]+$")  # Go's `^[\w-]+$` (\w is ASCII in Go)
_SHA256 = re.compile(r"^[a-f0-9]{64}$")
_IDENT = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_SEMVER = re.compile(rf"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-{_IDENT})?(?:\+{_IDENT})?$")
_WINDOWS_FORBIDDEN = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def plugin_problems(manifest: Any, name: str | None = None) -> list[str]:
    """What krew's ``ValidatePlugin(name, p)`` would reject (empty: valid).

    Args:
        manifest: the decoded YAML document.
        name: the name krew validates against: the index file name without ``.yaml`` for krew-index,
            ``metadata.name`` for ``kubectl krew install --manifest`` (the default).
    """
    if not isinstance(manifest, dict):
        return ["the manifest is not a YAML mapping"]
    problems = []
    if manifest.get("apiVersion") != API_VERSION:
        problems.append(f"apiVersion must be {API_VERSION!r}, not {manifest.get('apiVersion')!r}")
    if manifest.get("kind") != KIND:
        problems.append(f"kind must be {KIND!r}, not {manifest.get('kind')!r}")
    meta = manifest.get("metadata") if isinstance(manifest.get("metadata"), dict) else {}
    pname = str(meta.get("name") or "")
    name = pname if name is None else name
    if not _SAFE_NAME.match(name) or name.upper() in _WINDOWS_FORBIDDEN:
        problems.append(f"the plugin name {name!r} is not allowed, must match ^[\\w-]+$ and not be a Windows device name")
    if pname != name:
        problems.append(f"plugin should be named {name!r}, not {pname!r}")
    spec = manifest.get("spec") if isinstance(manifest.get("spec"), dict) else {}
    short = spec.get("shortDescription")
    if not short:
        problems.append("should have a short description")
    elif not isinstance(short, str) or "\r" in short or "\n" in short:
        problems.append("should not have line breaks in short description")
    platforms = spec.get("platforms")
    if not platforms:
        problems.append("should have a platform specified")
    version = spec.get("version")
    if not version:
        problems.append("should have a version specified")
    elif not isinstance(version, str) or not _SEMVER.match(version):
        problems.append(f"version {version!r} is not semver with a leading 'v' (e.g. v0.1.0)")
    for i, platform in enumerate(platforms or []):
        problems += [f"platforms[{i}]: {p}" for p in platform_problems(platform)]
    return problems


def platform_problems(platform: Any) -> list[str]:
    """krew's ``validatePlatform``: uri, sha256, bin, files, selector."""
    if not isinstance(platform, dict):
        return ["a platform must be a mapping"]
    problems = []
    if not platform.get("uri"):
        problems.append("`uri` has to be set")
    sha = platform.get("sha256")
    if not sha:
        problems.append("`sha256` sum has to be set")
    elif not isinstance(sha, str) or not _SHA256.match(sha):
        problems.append(f"`sha256` value {sha!r} is not valid, must match ^[a-f0-9]{{64}}$")
    if not platform.get("bin"):
        problems.append("`bin` has to be set")
    if "files" in platform and platform["files"] is not None:
        files = platform["files"]
        if not files:
            problems.append("`files` has to be unspecified or non-empty")
        for op in files or []:
            if not isinstance(op, dict) or not op.get("from"):
                problems.append("`files`: `from` field has to be set")
            elif not op.get("to"):
                problems.append("`files`: `to` field has to be set")
    problems += selector_problems(platform.get("selector"))
    return problems


def selector_problems(selector: Any) -> list[str]:
    """krew's ``validateSelector``: non-empty, keys ``os``/``arch`` only."""
    if selector is None:
        return ["nil selector is not supported"]
    if not isinstance(selector, dict):
        return ["the selector must be a mapping"]
    labels = selector.get("matchLabels")
    exprs = selector.get("matchExpressions")
    if labels is None and not exprs:
        return ["empty selector is not supported"]
    keys = list((labels or {}).keys()) + [e.get("key") for e in exprs or [] if isinstance(e, dict)]
    problems = [f"key {k!r} not supported" for k in keys if k not in ("os", "arch")]
    if labels is not None and len(labels) == 0:
        problems.append("`matchLabels` specified but empty")
    if exprs is not None and len(exprs) == 0:
        problems.append("`matchExpressions` specified but empty")
    return problems


def convention_problems(manifest: dict[str, Any]) -> list[str]:
    """What the krew docs ask for beyond the validator (description, homepage, archive types)."""
    spec = manifest.get("spec") or {}
    problems = [f"spec.{key} is missing" for key in ("description", "homepage") if not spec.get(key)]
    for i, platform in enumerate(spec.get("platforms") or []):
        uri = str(platform.get("uri") or "")
        if not uri.endswith((".tar.gz", ".zip")):
            problems.append(f"platforms[{i}]: uri must name a .tar.gz or .zip archive: {uri}")
    return problems


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Does a platform selector match ``{"os": ..., "arch": ...}`` (metav1.LabelSelector semantics)?"""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and (not present or labels[key] not in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def find_platform(manifest: dict[str, Any], os_name: str, arch: str) -> dict[str, Any] | None:
    """The first platform whose selector matches, as krew picks it."""
    for platform in manifest["spec"]["platforms"]:
        if selector_matches(platform.get("selector") or {}, {"os": os_name, "arch": arch}):
            return platform
    return None


TEMPLATE_PATH_NAME = "krew-manifest.yaml"
GENERATED_HEADER = (f"# Generated by `python scripts/build_release.py build` from {TEMPLATE_PATH_NAME}: do not edit.\n"
                    "# Every sha256 below is the one of the archive that build wrote.\n")


def render_manifest(template: str, version: str, built: dict[tuple[str, str], tuple[str, str]]) -> str:
    """The installable manifest: the template with ``spec.version`` and each built platform's uri and sha256.

    Platforms that were not built are left out (a manifest never carries a sha256 that no build made).
    The template's leading comment is replaced by a "generated" header; other comments and the order stay.

    Args:
        template: the text of ``krew-manifest.yaml``.
        version: the project version without ``v``.
        built: (os, arch) -> (uri, sha256) for each archive just built.

    Raises:
        ValueError: an archive was built for a platform the template does not list.
    """
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    body = "".join(line for line in template.splitlines(keepends=True)
                   if not line.startswith("#")) if template.startswith("#") else template
    doc = yaml.load(body)
    doc["spec"]["version"] = f"v{version}"
    platforms = doc["spec"]["platforms"]
    keep = []
    for (os_name, arch), (uri, sha) in sorted(built.items()):
        platform = find_platform(doc, os_name, arch)
        if platform is None:
            raise ValueError(f"the template lists no platform for {os_name}/{arch}")
        platform.insert(1, "uri", uri)
        platform.insert(2, "sha256", sha)
        keep.append(platform)
    for platform in [p for p in platforms if not any(p is k for k in keep)]:
        platforms.remove(platform)
    out = io.StringIO()
    yaml.dump(doc, out)
    return GENERATED_HEADER + out.getvalue()


def sha_mismatches(manifest: dict[str, Any], built: dict[tuple[str, str], str]) -> list[str]:
    """Where a manifest's sha256 disagrees with a build's: one sentence per platform (empty: they agree).

    Args:
        manifest: the decoded manifest (a rendered one, or one published in krew-index).
        built: (os, arch) -> sha256 of the archive a build just made.
    """
    problems = []
    for (os_name, arch), sha in sorted(built.items()):
        platform = find_platform(manifest, os_name, arch)
        if platform is None:
            problems.append(f"{os_name}/{arch}: the manifest has no platform for it")
        elif platform.get("sha256") != sha:
            problems.append(f"{os_name}/{arch}: the manifest says sha256 {platform.get('sha256')}, "
                            f"the build gives {sha}")
    return problems
