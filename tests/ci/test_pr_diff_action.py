"""The CI integrations, run locally: the PR-diff script the composite action calls (on a temporary git
repository, posting to a fake GitHub API on loopback), the action's own shell step, and the pre-commit hook.

Nothing here contacts GitHub: the script's API base is ``GITHUB_API_URL``, as on GitHub Enterprise.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from typing import ClassVar
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "microseg_pr_diff.py"
ACTION = REPO / ".github" / "actions" / "microseg-diff" / "action.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"
DEMO = REPO / "kubectl_microseg" / "demo" / "cluster"
EXE = Path(sys.executable).with_name("kubectl-microseg")
BATCH_DENY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-all
  namespace: batch
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"""

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}).stdout.strip()


@pytest.fixture
def pr_repo(tmp_path: Path) -> Path:
    """A repository whose main holds the demo's manifests under k8s/, and a branch `pr` that changes them."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shutil.copytree(DEMO, repo / "k8s")
    (repo / "README").write_text("shop\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "pr")
    return repo


class FakeGitHub(http.server.BaseHTTPRequestHandler):
    """The three calls of the issue-comments API the script makes, recorded."""

    requests: ClassVar[list[tuple[str, str, dict | None]]] = []
    comments: ClassVar[list[dict]] = []

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict | None:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n)) if n else None

    def do_GET(self) -> None:
        assert self.headers["Authorization"] == "Bearer secret-token"
        self.requests.append(("GET", self.path, None))
        self._reply(200, self.comments)

    def do_POST(self) -> None:
        body = self._body()
        self.requests.append(("POST", self.path, body))
        self.comments.append({"id": 41, "body": body["body"]})
        self._reply(201, {"id": 41, "html_url": "http://127.0.0.1/c/41"})

    def do_PATCH(self) -> None:
        body = self._body()
        self.requests.append(("PATCH", self.path, body))
        self._reply(200, {"id": 41, "html_url": "http://127.0.0.1/c/41"})

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def github(tmp_path: Path):
    """A fake GitHub API on loopback, and the environment of a pull_request workflow pointing at it."""
    FakeGitHub.requests, FakeGitHub.comments = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    env = {**os.environ, "GITHUB_API_URL": f"http://127.0.0.1:{server.server_address[1]}",
           "GITHUB_REPOSITORY": "shop/platform", "GITHUB_TOKEN": "secret-token", "GITHUB_EVENT_PATH": str(event),
           "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    yield env
    server.shutdown()


def outputs(env: dict) -> dict[str, str]:
    return dict(line.split("=", 1) for line in Path(env["GITHUB_OUTPUT"]).read_text().splitlines())


def run_script(repo: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_newly_denied_flows_and_a_guard_fail_and_the_comment_is_posted_then_updated(pr_repo, github, tmp_path):
    (pr_repo / "k8s" / "batch-default-deny.yaml").write_text(BATCH_DENY)
    git(pr_repo, "add", "-A")
    git(pr_repo, "commit", "-qm", "batch: default deny")
    done = run_script(pr_repo, github, "--base", "main", "--head", "pr", "--path", "k8s",
                      "--comment-file", str(tmp_path / "c.md"), "--post")
    assert done.returncode == 1, done.stderr
    comment = (tmp_path / "c.md").read_text()
    assert comment.startswith("<!-- kubectl-microseg-diff path=k8s -->\n### Connectivity diff")
    assert "dns-broken" in comment and "`batch/report-generator`" in comment
    assert "batch/default-deny-all now isolates the source for egress" in comment, "the rule responsible is named"
    assert comment.rstrip().endswith(":x: **This check fails**: 18 flow(s) newly denied, 1 guard finding(s).")
    assert outputs(github) == {"newly-denied": "18", "findings": "1", "changed": "true", "result": "fail",
                               "comment-file": str(tmp_path / "c.md")}
    assert Path(github["GITHUB_STEP_SUMMARY"]).read_text().strip() == comment.strip()
    assert [(m, p) for m, p, _ in FakeGitHub.requests] == [
        ("GET", "/repos/shop/platform/issues/7/comments?per_page=100&page=1"),
        ("POST", "/repos/shop/platform/issues/7/comments")]
    assert FakeGitHub.requests[1][2] == {"body": comment}

    # the next push updates the same comment instead of adding one
    (pr_repo / "k8s" / "batch-default-deny.yaml").unlink()
    git(pr_repo, "commit", "-qam", "revert")
    done = run_script(pr_repo, github, "--base", "main", "--head", "pr", "--path", "k8s", "--post")
    assert done.returncode == 0, done.stderr
    method, path, body = FakeGitHub.requests[-1]
    assert (method, path) == ("PATCH", "/repos/shop/platform/issues/comments/41")
    assert ":white_check_mark: **This check passes**" in body["body"]


def test_newly_allowed_only_passes(pr_repo, github):
    """Fixing the demo's planted typo opens the intended Grafana flows and denies nothing: the check passes."""
    monitoring = pr_repo / "k8s" / "monitoring.yaml"
    monitoring.write_text(monitoring.read_text().replace("grafanna", "grafana"))
    git(pr_repo, "commit", "-qam", "grafana: fix the selector")
    done = run_script(pr_repo, github, "--base", "main", "--path", "k8s")
    assert done.returncode == 0, done.stderr
    assert outputs(github)["changed"] == "true" and outputs(github)["newly-denied"] == "0"
    assert "newly allowed" in done.stdout and ":white_check_mark:" in done.stdout
    assert FakeGitHub.requests == [], "without --post nothing is sent"


def test_guard_findings_alone_fail_unless_told_not_to(pr_repo, github, tmp_path):
    """An expected flow cut is a guard finding even when ... flows are only newly denied for a new workload."""
    flows = pr_repo / "flows.yaml"
    flows.write_text("flows:\n  - {from: monitoring/grafana, to: monitoring/prometheus, port: 9090, expect: deny}\n")
    monitoring = pr_repo / "k8s" / "monitoring.yaml"
    monitoring.write_text(monitoring.read_text().replace("grafanna", "grafana"))
    git(pr_repo, "add", "-A")
    git(pr_repo, "commit", "-qm", "fix grafana")
    done = run_script(pr_repo, github, "--base", "main", "--path", "k8s", "--expect", "flows.yaml")
    assert done.returncode == 1, done.stderr
    assert "expectation-opened" in done.stdout and "1 guard finding(s)" in done.stdout
    done = run_script(pr_repo, github, "--base", "main", "--path", "k8s", "--expect", "flows.yaml",
                      "--no-fail-on-guard")
    assert done.returncode == 0, done.stderr


def test_a_bad_revision_is_exit_2_with_the_reason_in_the_comment(pr_repo, github):
    done = run_script(pr_repo, github, "--base", "no-such-branch", "--path", "k8s")
    assert done.returncode == 2
    assert "could not be computed" in done.stdout and "no-such-branch" in done.stdout
    assert outputs(github)["result"] == "fail"
    broken = run_script(pr_repo, github, "--base", "main", "--path", "k8s", "--command", "false")
    assert broken.returncode == 2, "a tool that does not run is not a diff (exit 1 without JSON)"
    assert "could not be computed" in broken.stdout


def test_a_comment_that_cannot_be_posted_is_a_warning(pr_repo, github):
    """A fork's pull request gets a read-only token: the check still reports, it does not crash."""
    env = {**github, "GITHUB_API_URL": "http://127.0.0.1:9"}  # nothing listens on the discard port
    done = run_script(pr_repo, env, "--base", "main", "--path", "k8s", "--post")
    assert done.returncode == 0, done.stderr
    assert "warning: could not post the comment" in done.stderr


def _resolve(text: str, values: dict[str, str]) -> str:
    """GitHub's ``${{ ... }}`` for the expressions the action uses."""
    return re.sub(r"\$\{\{\s*([^}]+?)\s*\}\}", lambda m: values[m.group(1)], text)


def test_the_actions_shell_step_runs_the_script(pr_repo, github, tmp_path):
    """The composite action's steps, as GitHub runs them: inputs' defaults, env, then the bash of the
    diff step with ``python`` being this environment's (the install step is pip, left out here)."""
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@")
    step = next(s for s in steps if s.get("id") == "diff")
    (pr_repo / "k8s" / "batch-default-deny.yaml").write_text(BATCH_DENY)
    git(pr_repo, "add", "-A")
    git(pr_repo, "commit", "-qm", "batch: default deny")
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    inputs.update(path="k8s", base=git(pr_repo, "rev-parse", "main"), head=git(pr_repo, "rev-parse", "pr"))
    values = {f"inputs.{k}": v for k, v in inputs.items()}
    values["github.action_path"] = str(ACTION.parent)
    env = {k: _resolve(str(v), values) for k, v in step["env"].items()}
    # after setup-python and the install step, `python` and `kubectl-microseg` are in one bin folder
    run_env = {**github, **env, "RUNNER_TEMP": str(tmp_path), "PATH": f"{EXE.parent}:{os.environ['PATH']}",
               "GITHUB_TOKEN": "secret-token"}
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=pr_repo, env=run_env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert Path(github["GITHUB_OUTPUT"]).exists(), done.stdout + done.stderr
    assert outputs(github)["result"] == "fail" and outputs(github)["newly-denied"] == "18"
    assert (tmp_path / "microseg-diff.md").read_text().startswith("<!-- kubectl-microseg-diff path=k8s -->")
    assert [m for m, _, _ in FakeGitHub.requests] == ["GET", "POST"], "comment defaults to true"
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert (Path(_resolve(install["env"]["ACTION_REPO"], values)) / "pyproject.toml").is_file(), \
        "the install step installs this repository"
    for name in ("result", "newly-denied", "findings", "comment-file"):
        assert action["outputs"][name]["value"] == f"${{{{ steps.diff.outputs.{name} }}}}"


def test_the_pre_commit_hook_lints_the_manifest_folder(tmp_path):
    """The hook as pre-commit runs it (entry + args, no file names): the demo's warnings fail the commit."""
    hooks = yaml.safe_load(HOOKS.read_text())
    hook = next(h for h in hooks if h["id"] == "microseg-lint")
    assert {"id", "name", "entry", "language"} <= set(hook) and hook["language"] == "python"
    assert hook["pass_filenames"] is False and re.search(hook["files"], "k8s/policy.yaml")
    shutil.copytree(DEMO, tmp_path / "k8s")
    argv = hook["entry"].split() + hook["args"]
    assert argv[0] == "kubectl-microseg"
    done = subprocess.run([str(EXE), *argv[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "MS004" in done.stdout and "grafanna" in done.stdout
    shutil.rmtree(tmp_path / "k8s")
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n")
    done = subprocess.run([str(EXE), *argv[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_huge_diff_is_cut_to_what_github_accepts(tmp_path, github):
    """GitHub refuses comments over 65,536 characters: the comment is cut, and still ends with the verdict."""
    fake = tmp_path / "fake-microseg"
    fake.write_text("#!/bin/sh\n"
                    "case \"$*\" in\n"
                    "  *'-o json'*) echo '{\"summary\": {\"breaking\": 3}, \"findings\": []}'; exit 1 ;;\n"
                    "  *) yes '| :no_entry: denied | `a` | `b` | all |' | head -n 5000; exit 1 ;;\n"
                    "esac\n")
    fake.chmod(0o755)
    done = run_script(tmp_path, github, "--base", "main", "--command", str(fake))
    assert done.returncode == 1
    assert len(done.stdout) <= 60_000 and "(cut: the full diff is in the job summary)" in done.stdout
    assert done.stdout.rstrip().endswith(":x: **This check fails**: 3 flow(s) newly denied.")
