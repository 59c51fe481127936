"""``kubectl microseg diff``: the connectivity difference between two sets of manifests.

Either two paths (``diff OLD NEW``: files or directories), or two revisions of one path in the git
repository of the current directory (``diff --git REV1..REV2 [PATH]``), read with ``git ls-tree`` and
``git show`` so that a reviewer sees what a pull request does to connectivity without checking anything
out. ``REV1...REV2`` compares from the merge base, as ``git diff`` does; ``REV1..`` means ``REV1..HEAD``.
Exit codes follow ``kubectl diff``: 0 no differences, 1 differences, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess

from ..cli import command_parser
from ..engine.analyze import analyze
from ..engine.k8s import Options
from ..engine.simulate import compare
from ..errors import EXIT_FAILED, EXIT_OK, UsageError
from ..model.objects import SourceObject
from ..model.snapshot import Snapshot
from ..sources import load_source_class
from ..load import mesh_options
from ._diffing import add_diff_options, add_engine_options, focus, load_expectations, show

EXTENSIONS = (".yaml", ".yml", ".json")


def register(sub) -> None:
    p = command_parser(
        sub, "diff", "connectivity difference between two sets of manifests (or two git revisions)", source=False,
        description="Compare the connectivity of two sets of manifests: two files or directories (OLD NEW), or "
        "one path at two git revisions (--git REV1..REV2 [PATH], read with git show). Lists flows newly "
        "denied, newly allowed and with ports changed, grouped by namespace, with the policy and rule "
        "responsible. Exit 0 when connectivity is the same, 1 when it differs, 2 on bad input.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="OLD NEW; or, with --git, the one PATH (default: .)")
    p.add_argument("--git", metavar="REV1..REV2", help="compare PATH at two revisions of the current git repository")
    p.add_argument("-n", "--namespace", default=argparse.SUPPRESS, help="only show pairs touching this namespace")
    add_diff_options(p)
    add_engine_options(p)
    p.set_defaults(func=run)


# ------------------------------------------------------------------------------------------------- git
def git(cwd: str, *args: str) -> bytes:
    """Run git and return its stdout; a failure becomes a UsageError with git's own message."""
    exe = shutil.which("git")
    if exe is None:
        raise UsageError("--git needs the git executable on PATH")
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, check=False)
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"git {' '.join(args[:2])}: {msg[-1] if msg else f'exit status {proc.returncode}'}")
    return proc.stdout


def parse_range(text: str, cwd: str) -> tuple[str, str]:
    """'A..B', 'A...B' (from the merge base), 'A..' (to HEAD) -> (old rev, new rev)."""
    if "..." in text:
        a, b = text.split("...", 1)
        a, b = a or "HEAD", b or "HEAD"
        return git(cwd, "merge-base", a, b).decode().strip(), b
    if ".." in text:
        a, b = text.split("..", 1)
        return a or "HEAD", b or "HEAD"
    raise UsageError(f"--git {text!r}: expected REV1..REV2 (or REV1...REV2 from their merge base)")


def git_objects(rev: str, path: str, cwd: str | None = None) -> list[SourceObject]:
    """The objects of every *.yaml/*.yml/*.json file under ``path`` at ``rev`` (none if absent there)."""
    from kubectl_microseg.sources import parse_text

    cwd = cwd or os.getcwd()
    top = git(cwd, "rev-parse", "--show-toplevel").decode().strip()
    try:
        git(top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except UsageError:
        raise UsageError(f"--git: unknown revision {rev!r} in {top}") from None
    rel = os.path.relpath(os.path.realpath(os.path.join(cwd, path)), os.path.realpath(top))
    if rel == ".." or rel.startswith(".." + os.sep):
        raise UsageError(f"{path} is outside the git repository {top}")
    listing = git(top, "ls-tree", "-r", "-z", "--name-only", rev, "--", rel)
    files = sorted(f for f in listing.decode("utf-8", "replace").split("\0") if f.endswith(EXTENSIONS))
    objects: list[SourceObject] = []
    for f in files:
        text = git(top, "show", f"{rev}:{f}").decode("utf-8", "replace")
        objects.extend(parse_text(text, f"{rev}:{f}"))
    return objects


# ----------------------------------------------------------------------------------------------- run
def read_side(paths: list[str]) -> list[SourceObject]:
    return load_source_class("manifests")(list(paths)).load().objects


def run(args: argparse.Namespace) -> int:
    if args.git:
        if len(args.paths) > 1:
            raise UsageError("with --git give one PATH (the directory or file to compare at both revisions)")
        path = args.paths[0] if args.paths else "."
        old_rev, new_rev = parse_range(args.git, os.getcwd())
        old_objs, new_objs = git_objects(old_rev, path), git_objects(new_rev, path)
        if not old_objs and not new_objs:
            raise UsageError(f"no *.yaml, *.yml or *.json files under {path} at {old_rev} or {new_rev}")
        old_title, new_title = f"{old_rev}:{path}", f"{new_rev}:{path}"
    else:
        if len(args.paths) != 2:
            raise UsageError("give OLD and NEW (files or directories), or --git REV1..REV2 [PATH]")
        old_objs, new_objs = read_side([args.paths[0]]), read_side([args.paths[1]])
        old_title, new_title = args.paths
    expectations = load_expectations(args.expect)
    options = Options(ipblock_matches_pods=bool(getattr(args, "ipblock_matches_pods", False)),
                      hostnetwork_as_pods=bool(getattr(args, "hostnetwork_as_pods", False)), mesh=mesh_options(args))
    diff = compare(analyze(Snapshot(old_objs, old_title), options), analyze(Snapshot(new_objs, new_title), options),
                   expectations=expectations, before_title=old_title, after_title=new_title)
    diff = focus(diff, args)
    show(diff, args)
    return EXIT_FAILED if diff.has_differences else EXIT_OK
