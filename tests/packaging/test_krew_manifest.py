"""The krew manifest obeys krew's validation rules and matches the archives the release script builds."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from release import krew
from release.archive import LAUNCHER_NAME, archive_name
from release.common import load_project
from release.targets import TARGETS

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "krew-manifest.yaml"


@pytest.fixture
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_manifest_passes_krew_validation(manifest):
    """Both as `krew install --manifest` validates it and as krew-index does (file plugins/microseg.yaml)."""
    assert krew.plugin_problems(manifest) == []
    assert krew.plugin_problems(manifest, name="microseg") == []
    assert krew.convention_problems(manifest) == []


def test_manifest_matches_project_and_targets(manifest):
    project = load_project()
    spec = manifest["spec"]
    assert manifest["metadata"]["name"] == "microseg"
    assert spec["version"] == f"v{project.version}"
    for target in TARGETS.values():
        platform = krew.find_platform(manifest, target.os, target.arch)
        assert platform is not None, f"no platform for {target.key}"
        assert platform["bin"] == LAUNCHER_NAME
        assert platform["uri"].endswith("/" + archive_name(project.version, target))
        assert f"v{project.version}" in platform["uri"]
        assert "files" not in platform, "krew's best practice: extract everything (LICENSE included)"
    assert krew.find_platform(manifest, "windows", "amd64") is None, "a shell launcher cannot run on Windows"


def test_caveats_state_runtime_requirements(manifest):
    caveats = manifest["spec"]["caveats"]
    assert "Python" in caveats and "3.10" in caveats
    assert "libnftables" in caveats
    assert "completion install" in caveats
    assert "\n" not in manifest["spec"]["shortDescription"]


def test_license_is_apache():
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text


def _broken(manifest: dict, edit) -> list[str]:
    m = copy.deepcopy(manifest)
    edit(m)
    return krew.plugin_problems(m)


@pytest.mark.parametrize("edit, fragment", [
    (lambda m: m.update(apiVersion="krew.googlecontainertools.github.com/v1alpha1"), "apiVersion"),
    (lambda m: m.update(kind="Plugins"), "kind"),
    (lambda m: m["metadata"].update(name="micro seg"), "not allowed"),
    (lambda m: m["metadata"].update(name="NUL"), "not allowed"),
    (lambda m: m["spec"].update(version="0.1.0"), "semver"),
    (lambda m: m["spec"].update(version="v0.1"), "semver"),
    (lambda m: m["spec"].pop("version"), "version specified"),
    (lambda m: m["spec"].update(shortDescription="two\nlines"), "line breaks"),
    (lambda m: m["spec"].pop("shortDescription"), "short description"),
    (lambda m: m["spec"].update(platforms=[]), "platform specified"),
    (lambda m: m["spec"]["platforms"][0].update(sha256="ABC"), "sha256"),
    (lambda m: m["spec"]["platforms"][0].update(sha256="A" * 64), "sha256"),
    (lambda m: m["spec"]["platforms"][0].pop("bin"), "`bin`"),
    (lambda m: m["spec"]["platforms"][0].pop("uri"), "`uri`"),
    (lambda m: m["spec"]["platforms"][0].update(files=[]), "non-empty"),
    (lambda m: m["spec"]["platforms"][0].update(files=[{"from": "*"}]), "`to`"),
    (lambda m: m["spec"]["platforms"][0].pop("selector"), "nil selector"),
    (lambda m: m["spec"]["platforms"][0].update(selector={}), "empty selector"),
    (lambda m: m["spec"]["platforms"][0].update(selector={"matchLabels": {}}), "specified but empty"),
    (lambda m: m["spec"]["platforms"][0]["selector"]["matchLabels"].update(distro="debian"), "not supported"),
])
def test_validator_rejects_what_krew_rejects(manifest, edit, fragment):
    """The validator is not a rubber stamp: each of krew's rules, broken once, is reported."""
    problems = _broken(manifest, edit)
    assert any(fragment in p for p in problems), problems


def test_validator_checks_the_index_file_name(manifest):
    assert any("should be named" in p for p in krew.plugin_problems(manifest, name="microseg-tool"))


def test_selector_matching_follows_label_selector_semantics():
    assert krew.selector_matches({"matchLabels": {"os": "linux"}}, {"os": "linux", "arch": "arm64"})
    assert not krew.selector_matches({"matchLabels": {"os": "linux", "arch": "amd64"}}, {"os": "linux", "arch": "arm64"})
    exprs = {"matchExpressions": [{"key": "os", "operator": "In", "values": ["darwin", "linux"]},
                                  {"key": "arch", "operator": "NotIn", "values": ["386"]}]}
    assert krew.selector_matches(exprs, {"os": "darwin", "arch": "arm64"})
    assert not krew.selector_matches(exprs, {"os": "linux", "arch": "386"})


def test_update_manifest_rewrites_only_uri_sha_and_version(tmp_path, manifest):
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST.read_text(encoding="utf-8"), encoding="utf-8")
    sha = "ab" * 32
    krew.update_manifest(path, "9.8.7", {("linux", "arm64"): ("https://example.invalid/x.tar.gz", sha)})
    text = path.read_text(encoding="utf-8")
    updated = yaml.safe_load(text)
    assert updated["spec"]["version"] == "v9.8.7"
    arm = krew.find_platform(updated, "linux", "arm64")
    assert arm["sha256"] == sha and arm["uri"] == "https://example.invalid/x.tar.gz"
    assert krew.find_platform(updated, "linux", "amd64") == krew.find_platform(manifest, "linux", "amd64")
    assert text.startswith("# krew plugin manifest"), "comments are kept"
    with pytest.raises(ValueError):
        krew.update_manifest(path, "9.8.7", {("windows", "amd64"): ("u", sha)})
