"""``diff``: two directories, and two revisions of a temporary git repository made in the test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .helpers import DEFAULT_DENY_BATCH, DEMO, WIDEN_DATABASE, deny_batch_cuts, run, write

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository made for the test, which runs inside it. Tags:
    demo (the demo under k8s/), widen (production/database-tier admits every namespace),
    deny (plus a default deny for batch), docs (a README only)."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    shutil.copytree(DEMO, root / "k8s")
    commit(root, "demo")
    prod = root / "k8s" / "production.yaml"
    text = prod.read_text()
    start = text.rindex("apiVersion", 0, text.index("kind: NetworkPolicy\nmetadata:\n  name: database-tier"))
    end = text.index("---", start)
    prod.write_text(text[:start] + WIDEN_DATABASE + text[end:])
    commit(root, "widen")
    write(root / "k8s" / "batch-default-deny.yaml", DEFAULT_DENY_BATCH)
    commit(root, "deny")
    (root / "README.md").write_text("docs only\n")
    commit(root, "docs")
    monkeypatch.chdir(root)
    return root


def commit(root: Path, tag: str) -> None:
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", tag)
    git(root, "tag", tag)


def test_git_range_shows_what_a_commit_does(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["diff", "--git", "demo..widen", "k8s", "-o", "json"], capsys)
    assert code == 1, err
    doc = json.loads(out)
    assert doc["before"] == "demo:k8s" and doc["after"] == "widen:k8s"
    assert [(p["from"], p["to"]) for p in doc["added"]] == [("batch/report-generator", "production/postgresql")]
    assert doc["removed"] == [] and doc["changed"] == []
    assert [f["kind"] for f in doc["findings"]] == ["open-to-cluster"]
    code, out, _ = run(["diff", "--git", "widen..deny", "k8s", "-o", "json"], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["summary"]["removed"] == deny_batch_cuts() + 1   # and the widened flow
    assert [f["kind"] for f in doc["findings"]] == ["dns-broken"]


def test_git_range_over_several_commits(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["diff", "--git", "demo..docs", "k8s", "-o", "json"], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["summary"]["removed"] == deny_batch_cuts()
    assert {f["kind"] for f in doc["findings"]} == {"dns-broken", "open-to-cluster"}


def test_git_revisions_without_connectivity_change_exit_0(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["diff", "--git", "deny..docs", "k8s"], capsys)
    assert code == 0 and "no connectivity changes" in out


def test_git_range_forms_and_relative_paths(repo: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(["diff", "--git", "deny..", "k8s", "-o", "json"], capsys)   # REV.. means REV..HEAD
    assert code == 0 and json.loads(out)["after"] == "HEAD:k8s"
    monkeypatch.chdir(repo / "k8s")                                               # PATH relative to the cwd
    code, out, _ = run(["diff", "--git", "HEAD~3..HEAD~2", "-o", "json"], capsys)
    assert code == 1 and json.loads(out)["summary"]["added"] == 1
    git(repo, "checkout", "-q", "-b", "feature", "widen")
    (repo / "k8s" / "notes.yaml").write_text("# nothing\n")
    commit(repo, "feature-notes")
    # A...B compares from the merge base (widen), as a pull request is reviewed: the feature adds nothing
    code, out, _ = run(["diff", "--git", "docs...feature", "-o", "json"], capsys)
    assert code == 0
    code, out, _ = run(["diff", "--git", "docs..feature", "-o", "json"], capsys)     # two dots: tip to tip
    assert code == 1 and json.loads(out)["summary"]["added"] == deny_batch_cuts() + 1


def test_git_one_file(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["diff", "--git", "demo..deny", "k8s/batch-default-deny.yaml", "-o", "json"], capsys)
    doc = json.loads(out)
    # the file alone: no workloads on either side, only the policy appears: connectivity is the same
    assert code == 0 and doc["summary"]["removed"] == 0


def test_git_errors_exit_2(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(["diff", "--git", "nope..HEAD", "k8s"], capsys)
    assert code == 2 and "unknown revision 'nope'" in err
    code, _, err = run(["diff", "--git", "HEAD", "k8s"], capsys)
    assert code == 2 and "expected REV1..REV2" in err
    code, _, err = run(["diff", "--git", "deny..docs", "nowhere"], capsys)
    assert code == 2 and "no *.yaml" in err
    code, _, err = run(["diff", "--git", "deny..docs", str(tmp_path)], capsys)
    assert code == 2 and "outside the git repository" in err


def test_two_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(DEMO, old)
    shutil.copytree(DEMO, new)
    code, out, _ = run(["diff", str(old), str(new)], capsys)
    assert code == 0 and "no connectivity changes" in out
    write(new / "batch-default-deny.yaml", DEFAULT_DENY_BATCH)
    code, out, _ = run(["diff", str(old), str(new), "-o", "markdown"], capsys)
    assert code == 1 and "#### Namespace `batch`" in out
    code, out, _ = run(["diff", str(new), str(old), "-o", "json"], capsys)   # the other way round: all added
    doc = json.loads(out)
    assert code == 1 and doc["summary"]["added"] == deny_batch_cuts() and doc["summary"]["removed"] == 0


def test_a_workload_added_is_reported_but_not_breaking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write(tmp_path / "old" / "a.yaml", """\
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: default, labels: {app: a}}
        spec: {containers: [{name: c, image: x}]}
        """)
    new = tmp_path / "new"
    shutil.copytree(old.parent, new)
    write(new / "b.yaml", """\
        apiVersion: v1
        kind: Pod
        metadata: {name: b, namespace: default, labels: {app: b}}
        spec: {containers: [{name: c, image: x}]}
        """)
    code, out, _ = run(["diff", str(old.parent), str(new), "-o", "json"], capsys)
    doc = json.loads(out)
    assert code == 1
    assert doc["endpointsAdded"] == ["default/b"] and doc["summary"]["breaking"] == 0
    assert all(p.get("newEndpoint") for p in doc["added"])


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["diff", "only-one"], capsys)
    assert code == 2 and "give OLD and NEW" in err
