#!/usr/bin/env python3
"""The connectivity diff of a pull request: a Markdown comment, and a verdict for CI.

Runs ``kubectl-microseg diff --git BASE...HEAD PATH`` (the manifests under PATH at the merge base and at
the pull request's head, read with ``git show``: nothing is checked out), writes the Markdown diff as a
pull-request comment (one comment per PATH, updated on every push), and exits 1 when the change newly
denies a flow between workloads that exist before and after, or when a guard fires (DNS cut, an expected
flow cut, a workload newly open to the cluster or the internet). The composite action
``.github/actions/microseg-diff`` calls it; it runs the same anywhere (a shell, another CI)::

    python scripts/microseg_pr_diff.py --base origin/main --head HEAD --path k8s/ --comment-file diff.md

Exit codes: 0 passes; 1 newly denied flows or guard findings; 2 bad usage or input (an unknown
revision, a manifest the tool rejects: the comment says so). Posting needs ``--post`` with
``GITHUB_TOKEN``, ``GITHUB_REPOSITORY`` and the pull request number (``--pr`` or the event file of
``GITHUB_EVENT_PATH``); ``GITHUB_API_URL`` names the API (GitHub Enterprise). A comment that cannot be
posted (a fork's read-only token) is a warning: the diff is still in the job summary and the file.
Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MARKER = "<!-- kubectl-microseg-diff path={path} -->"
MAX_COMMENT = 60_000  # GitHub refuses comments over 65,536 characters
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


@dataclass(frozen=True)
class Outcome:
    """What the diff found, and the comment that says it."""

    newly_denied: int
    findings: int
    changed: bool
    failed: bool
    comment: str
    code: int


def microseg_command(explicit: str | None) -> list[str]:
    """The kubectl-microseg executable: ``--command``, the one beside this Python, or PATH's."""
    if explicit:
        return explicit.split()
    beside = Path(sys.executable).with_name("kubectl-microseg")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("kubectl-microseg")
    return [found] if found else [sys.executable, "-m", "kubectl_microseg"]


def run_diff(command: list[str], rev: str, path: str, expect: list[str], fmt: str) -> subprocess.CompletedProcess:
    argv = [*command, "diff", "--git", rev, path, "-o", fmt]
    for flows in expect:
        argv += ["--expect", flows]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def evaluate(command: list[str], base: str, head: str, path: str, expect: list[str], *,
             fail_on_guard: bool, allow_breaking: bool) -> Outcome:
    """Run the diff (JSON for the verdict, Markdown for people) and decide."""
    rev = f"{base}...{head}"
    marker = MARKER.format(path=path)
    machine = run_diff(command, rev, path, expect, "json")
    if machine.returncode not in (0, 1) or not machine.stdout.lstrip().startswith("{"):
        reason = machine.stderr.strip() or f"exit {machine.returncode}"
        body = (f"{marker}\n### Connectivity diff of `{path}`\n\n:x: **could not be computed** "
                f"(`kubectl microseg diff --git {rev} {path}` exited {machine.returncode}):\n\n```text\n{reason}\n```\n")
        return Outcome(0, 0, False, True, body, EXIT_BAD_INPUT)
    doc = json.loads(machine.stdout)
    summary = doc.get("summary", {})
    denied = int(summary.get("breaking", 0))
    findings = len(doc.get("findings") or [])
    reasons = []
    if denied and not allow_breaking:
        reasons.append(f"{denied} flow(s) newly denied")
    if findings and fail_on_guard:
        reasons.append(f"{findings} guard finding(s)")
    human = run_diff(command, rev, path, expect, "markdown").stdout.rstrip()
    verdict = (f":x: **This check fails**: {', '.join(reasons)}." if reasons else
               ":white_check_mark: **This check passes**: no flow between existing workloads becomes denied"
               + (" and no guard fired." if fail_on_guard else "."))
    body = f"{marker}\n{human}\n\n{verdict}\n"
    if len(body) > MAX_COMMENT:
        cut = "\n\n… (cut: the full diff is in the job summary)\n\n"
        kept = body[: MAX_COMMENT - len(cut) - len(verdict) - 1].rsplit("\n", 1)[0]  # whole lines only
        body = kept + cut + verdict + "\n"
    return Outcome(denied, findings, machine.returncode == 1, bool(reasons), body,
                   EXIT_FAILED if reasons else EXIT_OK)


def pr_number(explicit: int | None) -> int | None:
    """``--pr``, or the pull request of the workflow's event file."""
    if explicit:
        return explicit
    event = os.environ.get("GITHUB_EVENT_PATH")
    if event and Path(event).is_file():
        data = json.loads(Path(event).read_text(encoding="utf-8"))
        number = (data.get("pull_request") or {}).get("number") or data.get("number")
        return int(number) if number else None
    return None


def _api(method: str, url: str, token: str, payload: dict | None = None) -> object:
    request = urllib.request.Request(url, method=method, data=json.dumps(payload).encode() if payload else None,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Accept": "application/vnd.github+json",
                                              "X-GitHub-Api-Version": "2022-11-28",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def post_comment(body: str, marker: str, pr: int) -> str:
    """Update this path's earlier comment on the pull request, or add one; returns its URL."""
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    repo, token = os.environ["GITHUB_REPOSITORY"], os.environ["GITHUB_TOKEN"]
    existing = None
    for page in range(1, 21):  # up to 2,000 comments
        comments = _api("GET", f"{api}/repos/{repo}/issues/{pr}/comments?per_page=100&page={page}", token)
        existing = next((c for c in comments if str(c.get("body", "")).startswith(marker)), None)
        if existing or len(comments) < 100:
            break
    if existing:
        done = _api("PATCH", f"{api}/repos/{repo}/issues/comments/{existing['id']}", token, {"body": body})
    else:
        done = _api("POST", f"{api}/repos/{repo}/issues/{pr}/comments", token, {"body": body})
    return str(done.get("html_url", ""))


def write_github_files(outcome: Outcome, comment_file: Path | None) -> None:
    """Step outputs and the job summary, when running in GitHub Actions."""
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:
            fh.write(f"newly-denied={outcome.newly_denied}\nfindings={outcome.findings}\n"
                     f"changed={'true' if outcome.changed else 'false'}\n"
                     f"result={'fail' if outcome.failed else 'pass'}\n")
            if comment_file:
                fh.write(f"comment-file={comment_file}\n")
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
            fh.write(outcome.comment + "\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="the pull request's base (a sha, or origin/main)")
    p.add_argument("--head", default="HEAD", help="the pull request's head (default HEAD)")
    p.add_argument("--path", default=".", help="the manifests: a file or folder of the repository (default .)")
    p.add_argument("--expect", action="append", default=[], metavar="FLOWS",
                   help="expectations file (the `test` format): a cut expected flow is a guard finding")
    p.add_argument("--no-fail-on-guard", dest="fail_on_guard", action="store_false",
                   help="report guard findings without failing")
    p.add_argument("--allow-breaking", action="store_true", help="report newly denied flows without failing")
    p.add_argument("--comment-file", type=Path, help="also write the comment here")
    p.add_argument("--post", action="store_true", help="post (or update) the comment on the pull request")
    p.add_argument("--pr", type=int, help="pull request number (default: from GITHUB_EVENT_PATH)")
    p.add_argument("--command", help="how to run kubectl-microseg (default: beside this Python, or PATH)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    outcome = evaluate(microseg_command(args.command), args.base, args.head, args.path, args.expect,
                       fail_on_guard=args.fail_on_guard, allow_breaking=args.allow_breaking)
    if args.comment_file:
        args.comment_file.write_text(outcome.comment, encoding="utf-8")
    write_github_files(outcome, args.comment_file)
    sys.stdout.write(outcome.comment)
    if args.post:
        pr = pr_number(args.pr)
        missing = [v for v in ("GITHUB_TOKEN", "GITHUB_REPOSITORY") if not os.environ.get(v)]
        if pr is None or missing:
            print(f"warning: not posting: {'no pull request number' if pr is None else 'no ' + ', '.join(missing)}",
                  file=sys.stderr)
        else:
            try:
                url = post_comment(outcome.comment, MARKER.format(path=args.path), pr)
                print(f"commented: {url}", file=sys.stderr)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                print(f"warning: could not post the comment ({exc}); the diff is in the job summary", file=sys.stderr)
    if outcome.failed and outcome.code == EXIT_FAILED:
        print(f"microseg-diff: fails: {outcome.newly_denied} newly denied flow(s), {outcome.findings} guard finding(s)",
              file=sys.stderr)
    return outcome.code


if __name__ == "__main__":
    sys.exit(main())
