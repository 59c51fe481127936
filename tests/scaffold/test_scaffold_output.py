"""--out DIR: one file per policy, atomic, never over an existing file without --force; io.atomic itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from kubectl_microseg.io.atomic import atomic_write, existing, write_files

from .helpers import run_cli

TIERS = ["--demo", "scaffold", "tiers", "frontend -> api:8080 -> postgresql:5432,redis:6379", "-n", "production"]
NAMES = ["production_api-tier.yaml", "production_frontend-tier.yaml", "production_postgresql-tier.yaml",
         "production_redis-tier.yaml"]


def test_out_writes_one_file_per_policy(tmp_path: Path, capsys) -> None:
    out = tmp_path / "policies"
    code, stdout, err = run_cli(capsys, *TIERS, "--out", str(out))
    assert code == 0 and stdout == ""
    assert sorted(os.listdir(out)) == NAMES
    doc = yaml.safe_load((out / "production_api-tier.yaml").read_text())
    assert doc["metadata"] == {"name": "api-tier", "namespace": "production"}
    assert f"wrote {out / NAMES[0]}" in err
    assert "impact on the connectivity matrix" in err  # shown before writing
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]


def test_existing_files_are_never_overwritten(tmp_path: Path, capsys) -> None:
    (tmp_path / NAMES[1]).write_text("mine\n")
    code, _stdout, err = run_cli(capsys, *TIERS, "--out", str(tmp_path))
    assert code == 2
    assert "1 file(s) exist, nothing written" in err and NAMES[1] in err
    assert (tmp_path / NAMES[1]).read_text() == "mine\n"
    assert os.listdir(tmp_path) == [NAMES[1]], "nothing else was written either"


def test_force_replaces(tmp_path: Path, capsys) -> None:
    (tmp_path / NAMES[1]).write_text("mine\n")
    code, _, _ = run_cli(capsys, *TIERS, "--out", str(tmp_path), "--force")
    assert code == 0
    assert "kind: NetworkPolicy" in (tmp_path / NAMES[1]).read_text()


def test_force_without_out_is_a_usage_error(capsys) -> None:
    code, _, err = run_cli(capsys, *TIERS, "--force")
    assert code == 2 and "--force only applies with --out" in err


@pytest.mark.parametrize("argv,message", [
    (["--demo", "scaffold", "tiers"], "tiers needs a CHAIN"),
    (["--demo", "scaffold", "tiers", "a"], "bad chain"),
    (["--demo", "scaffold", "zone", "pci", "-n", "pci"], "expected KEY=VALUE"),
    (["--demo", "scaffold", "zone", "a=b c", "-n", "pci"], "would be rejected by the API server"),
    (["scaffold", "from-matrix", "--between", "pci", "--no-cluster"], "needs a cluster model"),
    (["--demo", "scaffold", "from-matrix"], "exactly one of --flows"),
    (["--demo", "scaffold", "from-matrix", "--between", "nope"], "no namespace nope"),
    (["--demo", "scaffold", "default-deny", "-n", "x", "--no-cluster"], "--no-cluster reads no model"),
    (["--demo", "scaffold", "tiers", "--intent", "/nonexistent/intent.yaml"], "no such file"),
    (["--demo", "scaffold", "egress-external", "-n", "pci", "--ports", "70000"], "bad port"),
    (["--demo", "scaffold", "default-deny", "Bad_NS"], "not a valid namespace name"),
])
def test_usage_errors_are_one_line_exit_2(argv: list[str], message: str, capsys) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_atomic_write_refuses_existing_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    atomic_write(target, "one\n")
    with pytest.raises(FileExistsError):
        atomic_write(target, "two\n")
    assert target.read_text() == "one\n"
    atomic_write(target, "two\n", overwrite=True)
    assert target.read_text() == "two\n"
    assert os.listdir(tmp_path) == ["a.yaml"]


def test_atomic_write_keeps_mode_on_overwrite_and_honours_umask(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    atomic_write(target, "x")
    old = os.umask(0o022)
    os.umask(old)
    assert (target.stat().st_mode & 0o777) == (0o666 & ~old)
    os.chmod(target, 0o600)
    atomic_write(target, "y", overwrite=True)
    assert (target.stat().st_mode & 0o777) == 0o600


def test_write_files_checks_all_before_writing_any(tmp_path: Path) -> None:
    (tmp_path / "b").write_text("keep")
    files = {str(tmp_path / "a"): "1", str(tmp_path / "b"): "2", str(tmp_path / "c"): "3"}
    with pytest.raises(FileExistsError):
        write_files(files)
    assert sorted(os.listdir(tmp_path)) == ["b"]
    assert existing(list(files)) == [str(tmp_path / "b")]
    assert write_files(files, overwrite=True) == list(files)
    assert (tmp_path / "b").read_text() == "2"


def test_atomic_write_leaves_no_temp_file_when_the_directory_is_missing(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        atomic_write(tmp_path / "missing" / "a.yaml", "x")
    assert os.listdir(tmp_path) == []


def test_impact_counts_every_pair_a_default_deny_cuts() -> None:
    from kubectl_microseg.plugins.manifests import ManifestSource
    from kubectl_microseg.scaffold import templates
    from kubectl_microseg.scaffold.impact import Counts, scaffold_diff

    from .helpers import analyzer

    objs = ManifestSource([str(Path(__file__).parent / "data" / "user-app.yaml")]).load().objects
    before = analyzer(objs).matrix()
    touching = [k for k in before.cells if any(e.startswith("shop/") for e in k)]
    assert touching, "nothing isolates the user's app yet: everything is allowed"
    diff, changes = scaffold_diff(objs, [templates.default_deny("shop")], None, "files")
    assert Counts.of(diff) == Counts(newly_allowed=0, newly_denied=len(touching), fewer_ports=0, more_ports=0)
    assert [c.action for c in changes] == ["add"]
    assert {f.kind for f in diff.findings} == {"dns-broken"}


def test_a_namespace_cannot_lead_out_of_the_output_directory(tmp_path: Path, capsys) -> None:
    """The namespace is checked as the API server would (a DNS-1123 label) before any file is named."""
    out = tmp_path / "a" / "b"
    code, _, err = run_cli(capsys, "--demo", "scaffold", "allow-dns", "../../escape", "--out", str(out))
    assert code == 2 and "not a valid namespace name" in err
    assert list(tmp_path.rglob("*")) == [], "nothing written anywhere"


def test_zone_scope_labelled_namespaces_warns_when_the_namespace_lacks_the_label(capsys) -> None:
    code, _, err = run_cli(capsys, "--demo", "scaffold", "zone", "compliance-zone=pci", "-n", "production",
                           "--scope", "labelled-namespaces")
    assert code == 0 and "namespace production does not carry compliance-zone=pci" in err
    code, _, err = run_cli(capsys, "--demo", "scaffold", "zone", "compliance-zone=pci", "-n", "pci",
                           "--scope", "labelled-namespaces")
    assert code == 0 and "does not carry" not in err


def test_a_negative_impact_limit_is_refused(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli(capsys, "--demo", "scaffold", "default-deny", "batch", "--impact-limit", "-1")
    assert exc.value.code == 2 and "must be a whole number >= 0" in capsys.readouterr().err


@pytest.mark.parametrize("kind,text,where", [
    ("flows", "flows:\n  - {from: production/frontend, to: production/api-server, port: 99999}\n", "line 2"),
    ("flows", "flows:\n  - from: production/frontend\n    to: production/nosuch\n    port: 80\n", "line 2"),
    ("intent", "chain:\n  - frontend\n  - api:80800\n", "line 3"),
])
def test_errors_in_scaffold_input_files_name_the_line(tmp_path: Path, capsys, kind: str, text: str, where: str) -> None:
    f = tmp_path / "in.yaml"
    f.write_text(text)
    argv = (["--demo", "scaffold", "from-matrix", "--flows", str(f)] if kind == "flows" else
            ["--demo", "scaffold", "tiers", "--intent", str(f), "-n", "production"])
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == "" and f"in.yaml, document 1, {where}" in err, err


def test_out_that_is_a_file_is_refused_before_anything_else(tmp_path: Path, capsys) -> None:
    f = tmp_path / "afile"
    f.write_text("mine\n")
    code, _, err = run_cli(capsys, "--demo", "scaffold", "default-deny", "batch", "--out", str(f))
    assert code == 2 and "is a file, not a directory" in err and "impact" not in err
    assert f.read_text() == "mine\n"


def test_repeated_ports_are_written_once_and_unknown_named_ports_are_noted(capsys) -> None:
    code, out, _ = run_cli(capsys, "--demo", "scaffold", "allow-from-namespace", "monitoring", "-n", "production",
                           "--ports", "9090,9090")
    rules = [r for d in yaml.safe_load_all(out) for r in d["spec"].get("ingress", []) + d["spec"].get("egress", [])]
    assert code == 0 and rules and all(r["ports"] == [{"protocol": "TCP", "port": 9090}] for r in rules)
    code, _, err = run_cli(capsys, "--demo", "scaffold", "tiers", "frontend -> api:nosuchport", "-n", "production")
    assert code == 0 and "none of its pods declares a TCP port named 'nosuchport'" in err


def test_an_intent_file_holds_one_document(tmp_path: Path, capsys) -> None:
    f = tmp_path / "intent.yaml"
    f.write_text("chain: [frontend, 'api:8080']\n---\nchain: [web]\n")
    code, _, err = run_cli(capsys, "--demo", "scaffold", "tiers", "--intent", str(f), "-n", "production")
    assert code == 2 and "one document expected" in err


# -- issue 15: scaffolds that cannot mislead --------------------------------------------------------------
def test_a_zone_of_a_namespace_label_is_refused(capsys) -> None:
    """`scaffold zone team=pay -n payments` wrote a policy selecting 0 pods (the label was on the namespace)."""
    code, out, err = run_cli(capsys, "--demo", "scaffold", "zone", "team=payments", "-n", "pci")
    assert code == 2 and out == ""
    assert "zone team=payments would select no pod: no workload in namespace pci carries team=payments" in err
    assert "namespace pci carries team=payments, its pods do not" in err
    code, out, _ = run_cli(capsys, "--demo", "scaffold", "zone", "compliance-zone=pci", "-n", "pci", "--impact", "none")
    assert code == 0 and "kind: NetworkPolicy" in out


def test_from_matrix_leaves_system_namespaces_without_default_deny(capsys) -> None:
    code, out, err = run_cli(capsys, "--demo", "scaffold", "from-matrix", "--between", "kube-system,production",
                             "--impact", "none")
    assert code == 0
    denies = [d for d in yaml.safe_load_all(out) if d and d["metadata"]["name"] == "default-deny-all"]
    assert [d["metadata"]["namespace"] for d in denies] == ["production"]
    assert "no default deny for the system namespace(s) kube-system (--include-system adds it" in err
    code, out, _ = run_cli(capsys, "--demo", "scaffold", "from-matrix", "--between", "kube-system,production",
                           "--include-system", "--impact", "none")
    denies = [d for d in yaml.safe_load_all(out) if d and d["metadata"]["name"] == "default-deny-all"]
    assert sorted(d["metadata"]["namespace"] for d in denies) == ["kube-system", "production"]


def test_impact_lists_newly_allowed_pairs(capsys) -> None:
    code, _, err = run_cli(capsys, "--demo", "scaffold", "allow-from-namespace", "development", "-n", "production")
    assert code == 0
    assert "connections newly allowed (check they are intended):" in err
    assert "development/" in err.split("connections newly allowed", 1)[1] and "(was denied)" in err
