"""``kubectl microseg lint`` end to end: demo goldens (text, json, sarif), exit codes, ignore files, SARIF shape.

Rewrite the goldens after an intended change with ``pytest tests/lint --update-golden`` and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubectl_microseg.cli import main
from kubectl_microseg.lint import catalogue

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
PLANTED = [("MS001", "Namespace batch"), ("MS002", "Namespace batch"), ("MS003", "CronJob batch/report-generator"),
           ("MS004", "NetworkPolicy monitoring/grafana")]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("fmt,ext", [("text", "txt"), ("json", "json"), ("sarif", "sarif")])
def test_demo_golden(fmt: str, ext: str, capsys, golden) -> None:
    code, out, _ = run(capsys, "lint", "--demo", "--no-ignore-file", "-o", fmt)
    assert code == 0
    golden(GOLDEN / f"demo.{ext}", out)


def test_demo_reports_exactly_the_planted_mistakes(capsys) -> None:
    """docs/demo.md: lint reports the three planted mistakes at warning or above, and nothing else."""
    _, out, _ = run(capsys, "lint", "--demo", "--no-ignore-file", "-o", "json")
    doc = json.loads(out)
    serious = [(f["rule"], f["object"]) for f in doc["findings"] if f["severity"] in ("warning", "error")]
    assert serious == PLANTED
    assert {f["location"]["file"] for f in doc["findings"]} <= {"demo/cluster/00-namespaces.yaml",
                                                                 "demo/cluster/batch.yaml", "demo/cluster/monitoring.yaml"}
    grafana = next(f for f in doc["findings"] if f["rule"] == "MS004")
    assert grafana["fix"] == "did you mean app.kubernetes.io/name=grafana?" and grafana["location"]["line"] > 1


def test_fail_on_thresholds(capsys) -> None:
    assert run(capsys, "lint", "--demo", "--no-ignore-file")[0] == 0  # default: error
    assert run(capsys, "lint", "--demo", "--no-ignore-file", "--fail-on", "warning")[0] == 1
    assert run(capsys, "lint", "--demo", "--no-ignore-file", "--fail-on", "info")[0] == 1
    assert run(capsys, "lint", "--demo", "--no-ignore-file", "--fail-on", "none")[0] == 0


def test_ignore_file_scopes_rules_to_objects(capsys, tmp_path) -> None:
    ign = tmp_path / "ignore"
    ign.write_text("# accepted risks\nMS001 Namespace batch\nMS002 batch      # egress too\n"
                   "MS003 CronJob batch/*\nMS004 */other\n")
    code, out, _ = run(capsys, "lint", "--demo", "--ignore-file", str(ign), "--fail-on", "warning", "-o", "json")
    doc = json.loads(out)
    # MS024: the demo's PCI zone has no mesh authorization (info)
    assert code == 1 and [f["rule"] for f in doc["findings"]] == ["MS024", "MS004"]
    assert doc["summary"]["suppressed"] == 3 and doc["ignoreFile"] == str(ign)


def test_default_ignore_file_in_working_directory(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".microseg-ignore").write_text("MS001\nMS002\nMS003\nMS004\n")
    code, out, _ = run(capsys, "lint", "--demo", "--fail-on", "warning")
    assert code == 0 and "4 suppressed by .microseg-ignore" in out
    code, _, _ = run(capsys, "lint", "--demo", "--fail-on", "warning", "--no-ignore-file")
    assert code == 1


def test_unknown_rule_in_ignore_file_is_an_input_error(capsys, tmp_path) -> None:
    ign = tmp_path / "ignore"
    ign.write_text("MS001\nMS999 x\n")
    code, _, err = run(capsys, "lint", "--demo", "--ignore-file", str(ign))
    assert code == 2 and "line 2" in err and "MS999" in err


def test_files_and_namespace_filter(capsys, tmp_path) -> None:
    (tmp_path / "a.yaml").write_text((ROOT / "kubectl_microseg/demo/cluster/monitoring.yaml").read_text())
    _code, out, _ = run(capsys, "lint", "-f", str(tmp_path), "-o", "json")
    rules = {(f["rule"], f["object"]) for f in json.loads(out)["findings"]}
    assert ("MS004", "NetworkPolicy monitoring/grafana") in rules
    # the DNS and ingress-nginx namespaces are not in the input: their peers match nothing here
    assert any(r == "MS005" for r, _ in rules)
    _, out, _ = run(capsys, "lint", "--demo", "-n", "monitoring", "--no-ignore-file", "-o", "json")
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["MS004"]


def test_nftables_rulesets_alone_need_no_cluster(capsys, tmp_path) -> None:
    from tests.lint.helpers import ACCEPT, DROP, TCP_DPORT, m, nft_doc

    path = tmp_path / "open.json"
    path.write_text(json.dumps(nft_doc([{"name": "input", "hook": "input", "rules": [[m(TCP_DPORT, 22), ACCEPT], [DROP]]}])))
    code, out, _ = run(capsys, "lint", "--ruleset", str(path), "-o", "json")
    doc = json.loads(out)
    assert code == 1  # NF002 is an error
    assert sorted({f["rule"] for f in doc["findings"]}) == ["NF002", "NF003", "NF004"]
    assert doc["source"].startswith("nftables: ")


def test_list_rules(capsys) -> None:
    code, out, _ = run(capsys, "lint", "--list-rules")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == [r.id for r in catalogue()]


# -- SARIF 2.1.0 as GitHub code scanning reads it --------------------------------------------------
def check_sarif(doc: dict) -> None:
    """The properties GitHub code scanning requires (docs: 'SARIF support for code scanning')."""
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(doc["runs"], list) and len(doc["runs"]) == 1
    run_ = doc["runs"][0]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "kubectl-microseg" and driver["version"]
    ids = [r["id"] for r in driver["rules"]]
    assert len(ids) == len(set(ids))
    for r in driver["rules"]:
        assert r["shortDescription"]["text"] and r["fullDescription"]["text"] and r["help"]["text"]
        assert r["defaultConfiguration"]["level"] in ("note", "warning", "error")
        assert isinstance(r["properties"]["tags"], list)
    for res in run_["results"]:
        assert res["ruleId"] == ids[res["ruleIndex"]]
        assert res["level"] in ("note", "warning", "error") and res["message"]["text"]
        assert len(res["locations"]) == 1
        phys = res["locations"][0]["physicalLocation"]
        uri = phys["artifactLocation"]["uri"]
        assert uri and "\\" not in uri and not uri.startswith("/")
        assert isinstance(phys["region"]["startLine"], int) and phys["region"]["startLine"] >= 1
        assert all(isinstance(v, str) for v in res["partialFingerprints"].values())


def test_sarif_shape(capsys) -> None:
    _, out, _ = run(capsys, "lint", "--demo", "--no-ignore-file", "-o", "sarif")
    doc = json.loads(out)
    check_sarif(doc)
    res = doc["runs"][0]["results"]
    # the demo's warnings, plus MS024 (info: the PCI zone has no mesh authorization), first by location
    assert [r["ruleId"] for r in res] == ["MS024"] + [r for r, _ in PLANTED]
    assert res[4]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "demo/cluster/monitoring.yaml", "uriBaseId": "%SRCROOT%"}


def test_sarif_for_live_objects_names_the_object() -> None:
    from kubectl_microseg.lint.finding import Finding, Location
    from kubectl_microseg.lint.report import LintReport, to_sarif

    f = Finding("MS004", "warning", "m", "NetworkPolicy shop/x", Location(cluster="prod"), "fix")
    doc = to_sarif(LintReport([f], catalogue()))
    check_sarif(doc)
    loc = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert loc == {"artifactLocation": {"uri": "k8s/prod/NetworkPolicy/shop/x"}, "region": {"startLine": 1}}


def test_docs_catalogue_lists_every_rule_with_its_severity() -> None:
    text = (ROOT / "docs" / "lint.md").read_text()
    for r in catalogue():
        assert f"| {r.id} | {r.severity} | {r.name} |" in text, r.id
