"""Faults: a misbehaving API server, files that vanish, Ctrl-C at any point, and "nothing lost".

The watch-level faults (dropped stream, 410 Gone, 500s, 429 with Retry-After, a server that goes away
and comes back, the stale/fresh states) are covered in depth in tests/live/test_live_watch.py; here the
one-shot views are driven end to end through the CLI.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubectl_microseg.cli import main
from kubectl_microseg.io import atomic
from tests.fakeapi import FakeApiServer
from tests.fakeapi.fixtures import fake_api, fake_kubeconfig, isolated_kubeconfig  # noqa: F401
from tests.simulate.helpers import DEMO

REPO = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).with_name("kubectl-microseg")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    old = signal.getsignal(signal.SIGPIPE)
    try:
        code = main(list(argv))
    finally:
        signal.signal(signal.SIGPIPE, old)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def demo_cluster(fake_api: FakeApiServer, fake_kubeconfig) -> FakeApiServer:  # noqa: F811
    fake_api.load_yaml(*(p.read_text() for p in sorted(DEMO.glob("*.yaml"))))
    return fake_api


# ------------------------------------------------------------------------------ the API server
def test_transient_500_and_429_do_not_change_the_matrix(demo_cluster: FakeApiServer, capsys) -> None:
    code, want, err = run(capsys, "matrix", "-o", "json")
    assert code == 0, err
    demo_cluster.faults.fail(500, verb="list", resource="pods", times=2)
    demo_cluster.faults.fail(429, verb="list", resource="networkpolicies", times=1, retry_after=1)
    t0 = time.monotonic()
    code, got, err = run(capsys, "matrix", "-o", "json")
    assert code == 0, err
    assert got == want
    assert time.monotonic() - t0 >= 0.9, "Retry-After was not honoured"


def test_a_server_that_disappears_is_exit_3_with_a_clear_message(demo_cluster: FakeApiServer, capsys) -> None:
    demo_cluster.stop()
    t0 = time.monotonic()
    code, out, err = run(capsys, "matrix", "--request-timeout", "2s")
    assert code == 3, err
    assert out == "" and err.startswith("error: ") and "Traceback" not in err
    assert time.monotonic() - t0 < 30


def test_persistent_server_errors_are_exit_3(demo_cluster: FakeApiServer, capsys) -> None:
    demo_cluster.faults.fail(500, verb="list", times=None)
    code, _out, err = run(capsys, "matrix", "--request-timeout", "2s")
    assert code == 3 and "Traceback" not in err, err


# ------------------------------------------------------------------------------------- files
def test_a_file_that_vanishes_between_listing_and_reading(tmp_path: Path, monkeypatch, capsys) -> None:
    from kubectl_microseg.plugins import manifests

    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    (tmp_path / "b.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n")
    real = manifests.expand_paths

    def expand_then_delete(paths):
        files = real(paths)
        os.unlink(tmp_path / "b.yaml")  # another process removes it right after the directory was listed
        return files
    monkeypatch.setattr(manifests, "expand_paths", expand_then_delete)
    code, _out, err = run(capsys, "matrix", "-f", str(tmp_path))
    assert code == 2 and err.strip() == f"error: {tmp_path / 'b.yaml'}: no such file or directory"


def test_reading_the_live_ruleset_without_root_is_a_clear_exit_3(monkeypatch, capsys) -> None:
    from kubectl_microseg.plugins import nftables as src

    class NoPerm:
        name = "nft"

        def list_ruleset(self):
            raise src.NftError("Operation not permitted (you must be root)")
    monkeypatch.setattr(src, "backend", NoPerm)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code, _out, err = run(capsys, "nft", "matrix")
    assert code == 3 and "root" in err and "Traceback" not in err, err


# ----------------------------------------------------------------------------------- Ctrl-C
def _no_stray_files(directory: Path, allowed: set[str]) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in allowed)


@pytest.mark.parametrize("at", ["write", "fsync", "link"])
def test_interrupt_inside_the_atomic_writer_leaves_no_partial_file(tmp_path: Path, monkeypatch, at: str) -> None:
    """KeyboardInterrupt at each step of atomic_write: the target is absent or complete, no temp file left."""
    target = tmp_path / "policy.yaml"

    def boom(*a, **k):
        raise KeyboardInterrupt
    if at == "fsync":
        monkeypatch.setattr(atomic.os, "fsync", boom)
    elif at == "link":
        monkeypatch.setattr(atomic.os, "link", boom)
    else:
        monkeypatch.setattr(atomic.os, "chmod", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic.atomic_write(target, "kind: NetworkPolicy\n" * 1000)
    assert _no_stray_files(tmp_path, set()) == []


def test_interrupted_scaffold_out_leaves_no_partial_file(tmp_path: Path, monkeypatch, capsys) -> None:
    """Ctrl-C while `scaffold --out` writes its second file: exit 130, complete files only, no temp files."""
    calls = []
    real_fsync = os.fsync

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_fsync(fd)
    monkeypatch.setattr(atomic.os, "fsync", fsync)
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = run(capsys, "--demo", "scaffold", "tiers", "frontend -> api:8080 -> postgresql:5432",
                       "-n", "production", "--out", str(out))
    assert code == 130, err
    for p in out.iterdir():
        assert not p.name.startswith("."), f"temporary file left: {p.name}"
        assert p.read_text().rstrip().endswith(("}", "]")) or "kind: NetworkPolicy" in p.read_text()


def test_sigint_to_a_subprocess_writing_a_scaffold_leaves_no_partial_file(tmp_path: Path) -> None:
    """The real thing: SIGINT to the installed command at several moments while it runs."""
    for delay in (0.05, 0.3, 0.8):
        out = tmp_path / f"out{delay}"
        out.mkdir()
        p = subprocess.Popen([str(EXE), "--demo", "scaffold", "tiers", "frontend -> api:8080 -> postgresql:5432",
                              "-n", "production", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        _, _err = p.communicate(timeout=60)
        # (a SIGINT while Python is still importing the tool shows Python's own KeyboardInterrupt trace:
        # the CLI's handler does not exist yet; what matters here is that no file is half-written)
        for f in out.iterdir():
            assert not f.name.startswith("."), f"temporary file left: {f.name}"
            assert f.read_text().startswith(("#", "apiVersion", "---")), f.name


@pytest.fixture(params=["terminal", "background"])
def sigint_at_start(request):
    """SIGINT as the suite may find it: Python's handler (a terminal) or ignored (a shell's background job)."""
    saved = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler if request.param == "terminal" else signal.SIG_IGN)
    yield
    signal.signal(signal.SIGINT, saved)


def test_ctrl_c_during_apply_stops_between_objects_and_reports(demo_cluster: FakeApiServer, tmp_path: Path,
                                                               capsys, sigint_at_start) -> None:
    f = tmp_path / "three.yaml"
    f.write_text("---\n".join(
        f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p{i}, namespace: production}}\n"
        f"spec: {{podSelector: {{matchLabels: {{app: none{i}}}}}, policyTypes: [Ingress]}}\n" for i in range(3)))
    patches = []

    def hook(req) -> None:
        if req.method == "PATCH" and "dryRun" not in req.query:
            patches.append(req.path)
            if len(patches) == 2:  # Ctrl-C while the second object is on the wire
                os.kill(os.getpid(), signal.SIGINT)
    demo_cluster.faults.on_request(hook, times=None)
    # the handler found at the start is the one to restore: SIG_IGN when the suite runs in the background
    # (a shell starts background jobs with SIGINT ignored), Python's default_int_handler in a terminal
    before = signal.getsignal(signal.SIGINT)
    code, _out, err = run(capsys, "apply", "-f", str(f), "--yes")
    assert code == 130, err
    assert "Interrupted: stopped between objects" in err
    assert "production/p0" in err and "production/p1" in err and "Not applied: NetworkPolicy production/p2" in err
    np = ("networking.k8s.io/v1", "NetworkPolicy")
    assert demo_cluster.get(*np, "p0", "production") and demo_cluster.get(*np, "p1", "production")
    assert demo_cluster.get(*np, "p2", "production") is None
    assert signal.getsignal(signal.SIGINT) is before


# ----------------------------------------------------------------------------- nothing lost
ALLOWED_WRITERS = {"kubectl_microseg/io/atomic.py", "kubectl_microseg/io/jsonl.py"}
"""The only modules that may open files for writing: the atomic writer, and the append-only audit log."""


def _writes(path: Path) -> list[int]:
    """Lines that open a file for writing without the atomic writer (open(..., 'w'/'a'/'x'), write_text, ...)."""
    tree = ast.parse(path.read_text())
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
        if name in ("write_text", "write_bytes"):
            lines.append(node.lineno)
        if name in ("open", "fdopen"):
            modes = list(node.args[1:2]) + [k.value for k in node.keywords if k.arg == "mode"]
            if any(isinstance(m, ast.Constant) and isinstance(m.value, str) and set(m.value) & set("wax+")
                   for m in modes):
                lines.append(node.lineno)
        if name == "open" and isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) and fn.value.id == "os":
            lines.append(node.lineno)
    return sorted(set(lines))


def test_every_file_the_tool_writes_goes_through_the_atomic_writer() -> None:
    offenders = []
    for root in ("kubectl_microseg", "plugins", "tui"):
        for p in sorted((REPO / root).rglob("*.py")):
            rel = p.relative_to(REPO).as_posix()
            if rel in ALLOWED_WRITERS:
                continue
            offenders += [f"{rel}:{n}" for n in _writes(p)]
    assert offenders == [], "write through kubectl_microseg.io.atomic: " + ", ".join(offenders)


def test_the_audit_of_writers_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("open('x', 'w').write('y')\nPath('z').write_text('q')\nopen('r').read()\n")
    assert _writes(bad) == [1, 2]


def test_nft_scaffold_output_file_is_never_replaced_without_force(tmp_path: Path, capsys) -> None:
    target = tmp_path / "host.nft"
    target.write_text("# my own ruleset\n")
    code, _, err = run(capsys, "nft", "scaffold", "--demo", "--output-file", str(target))
    assert code == 2 and "exists" in err and "--force" in err
    assert target.read_text() == "# my own ruleset\n"
    code, _, err = run(capsys, "nft", "scaffold", "--demo", "--output-file", str(target), "--force")
    assert code == 0, err
    assert "table inet" in target.read_text()
    assert _no_stray_files(tmp_path, {"host.nft"}) == []


def test_tui_writes_pick_a_free_name_instead_of_replacing(tmp_path: Path) -> None:
    first = tmp_path / "scaffold-x.yaml"
    first.write_text("mine\n")
    got = atomic.write_new(first, "new\n")
    assert first.read_text() == "mine\n" and Path(got).name == "scaffold-x-1.yaml" and Path(got).read_text() == "new\n"
