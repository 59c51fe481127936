"""Completion: candidates come from the real parser, values from the model or kubectl, scripts work in shells."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubectl_microseg.cli import build_parser
from kubectl_microseg.commands.completion import SCRIPT_FILES, SCRIPTS
from kubectl_microseg.completion import DIRECTIVE_DEFAULT, DIRECTIVE_NOFILE, complete, options, subcommands

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl")


def _values(words: list[str]) -> list[str]:
    return [c.split("\t", 1)[0] for c in complete(words).candidates]


def _command_paths(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every (path, parser) pair of the parser tree, root first."""
    yield path, parser
    for name in subcommands(parser):
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
        yield from _command_paths(sub, (*path, name))


PARSER = build_parser()
PATHS = list(_command_paths(PARSER))


def test_parser_tree_is_discovered():
    """Guard: the walk sees the subcommands other modules register (matrix is the lead's first one)."""
    top = subcommands(PARSER)
    assert {"matrix", "completion"} <= set(top)
    assert len(PATHS) > len(top)


@pytest.mark.parametrize("path", [p for p, parser in PATHS if subcommands(parser)], ids=" ".join)
def test_every_subcommand_is_a_candidate(path):
    parser = dict(PATHS)[path]
    assert sorted(_values([*path, ""])) == sorted(subcommands(parser))


@pytest.mark.parametrize("path", [p for p, _ in PATHS], ids=lambda p: " ".join(p) or "(root)")
def test_every_option_is_a_candidate(path):
    parser = dict(PATHS)[path]
    assert set(_values([*path, "-"])) == set(options(parser))
    assert "--help" in options(parser)


def test_subcommands_are_filtered_and_described():
    answer = complete(["ma"])
    assert answer.candidates == ["matrix\tshow the effective connectivity matrix"] or \
        [c.split("\t")[0] for c in answer.candidates] == ["matrix"]
    assert answer.directive == DIRECTIVE_NOFILE
    assert "__complete" not in _values(["completion", ""])


def test_choices_and_namespaces_from_the_demo_model():
    assert "json" in _values(["matrix", "-o", ""])
    assert _values(["--demo", "-n", "pro"]) == ["production"]
    assert "production" in _values(["--demo", "matrix", "--namespace", ""])
    assert _values(["--demo", "--namespace=pro"]) == ["--namespace=production"]
    assert _values(["matrix", "--demo", "-n", "kube-"]) == ["kube-system"]


def test_pod_and_workload_names_from_the_model():
    assert "production/api-server" in _values(["--demo", "explain", "pod", "production/"])
    assert "api-server" in _values(["--demo", "-n", "production", "explain", "pod", ""])
    endpoints = _values(["--demo", "explain", "pod", "x", "--to", ""])
    assert "production/api-server" in endpoints
    assert not any(e.startswith("production/api-server-") for e in endpoints), "owned pods stand under workloads"


def test_files_model(tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop}\n"
                        "spec: {containers: [{name: c, image: i}]}\n", encoding="utf-8")
    assert _values(["-f", str(manifest), "-n", ""]) == ["shop"]
    assert _values(["-f", str(manifest), "explain", "pod", ""]) == ["shop/web-1"]
    assert _values(["-f", str(tmp_path / "missing.yaml"), "-n", ""]) == []


def test_file_arguments_leave_completion_to_the_shell():
    answer = complete(["-f", ""])
    assert answer.candidates == [] and answer.directive == DIRECTIVE_DEFAULT
    assert complete(["--kubeconfig", ""]).directive == DIRECTIVE_DEFAULT


def _stub_kubectl(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "args.log"
    stub = tmp_path / "kubectl"
    stub.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {log}\n"
                    "case \"$*\" in *namespaces*) printf 'default\\nkube-system\\nshop\\n' ;;"
                    " *pods*) printf 'web-1\\nweb-2\\n' ;; *get-contexts*) printf 'dev\\nprod\\n' ;; esac\n",
                    encoding="utf-8")
    stub.chmod(0o755)
    return stub, log


def test_live_values_come_from_kubectl_with_the_typed_options(tmp_path, monkeypatch):
    stub, log = _stub_kubectl(tmp_path)
    monkeypatch.setenv("KUBECTL_MICROSEG_KUBECTL", str(stub))
    assert _values(["--kubeconfig", "/k", "--context", "dev", "-n", "s"]) == ["shop"]
    assert _values(["-n", "shop", "explain", "pod", "web"]) == ["web-1", "web-2"]
    assert _values(["--context", ""]) == ["dev", "prod"]
    calls = log.read_text().splitlines()
    assert "get namespaces" in calls[0] and "--kubeconfig /k --context dev --request-timeout 3s" in calls[0]
    assert calls[1].startswith("get pods --namespace shop")
    assert calls[2].startswith("config get-contexts -o name")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_unreachable_cluster_gives_no_candidates_quickly(tmp_path, monkeypatch):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n", encoding="utf-8")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    started = time.monotonic()
    assert _values(["-n", ""]) == []
    assert time.monotonic() - started < 10


def _run_helper(*words: str, env: dict | None = None) -> list[str]:
    proc = subprocess.run([str(BIN / "kubectl_complete-microseg"), *words], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_kubectl_complete_executable_speaks_the_protocol():
    lines = _run_helper("--demo", "-n", "")
    assert lines[-1] == ":4"
    assert "production" in lines[:-1]
    lines = _run_helper("")
    assert lines[-1] == ":4" and any(line.startswith("matrix\t") for line in lines)


def test_complete_subcommand_matches_the_helper():
    proc = subprocess.run([str(BIN / "kubectl-microseg"), "completion", "__complete", "--", "--demo", "-n", ""],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.stdout.splitlines() == _run_helper("--demo", "-n", "")


def _env_with_path(*dirs: Path) -> dict:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([*(str(d) for d in dirs), "/usr/bin", "/bin"])
    return env


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_completes_the_plugin_through_the_helper():
    proc = subprocess.run([KUBECTL, "__complete", "microseg", "--demo", "-n", "pro"], capture_output=True,
                          text=True, env=_env_with_path(BIN), timeout=60, check=False)
    assert proc.stdout.splitlines() == ["production", ":4"], proc.stderr


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_completion_install_writes_a_helper_kubectl_uses(tmp_path):
    """What a krew user does: kubectl-microseg on PATH, no helper; `completion install --dir` adds it."""
    krew_bin = tmp_path / "krew-bin"
    krew_bin.mkdir()
    (krew_bin / "kubectl-microseg").symlink_to(BIN / "kubectl-microseg")
    env = _env_with_path(krew_bin)
    proc = subprocess.run([str(krew_bin / "kubectl-microseg"), "completion", "install"], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    helper = krew_bin / "kubectl_complete-microseg"
    assert helper.exists() and os.access(helper, os.X_OK)
    proc = subprocess.run([KUBECTL, "__complete", "microseg", "mat"], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert proc.stdout.splitlines()[0].startswith("matrix") and proc.stdout.splitlines()[-1] == ":4"
    assert str(helper) in proc.stderr, "kubectl ran the installed helper"
    again = subprocess.run([str(krew_bin / "kubectl-microseg"), "completion", "install"], capture_output=True,
                           text=True, env=env, timeout=60, check=False)
    assert again.returncode == 0 and "already" in again.stdout


def test_completion_scripts_in_the_repo_are_the_ones_printed():
    for shell, name in SCRIPT_FILES.items():
        assert (REPO / "completions" / name).read_text(encoding="utf-8") == SCRIPTS[shell], (
            f"completions/{name} differs from `kubectl-microseg completion {shell}`: regenerate it")
    proc = subprocess.run([str(BIN / "kubectl-microseg"), "completion", "bash"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout == SCRIPTS["bash"]


_BASH_DRIVER = r"""
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_kubectl_microseg
printf '%s\n' "${COMPREPLY[@]}"
"""


def _bash_complete(*words: str) -> list[str]:
    proc = subprocess.run(["bash", "-c", _BASH_DRIVER, "driver", str(REPO / "completions" / SCRIPT_FILES["bash"]),
                           "kubectl-microseg", *words], capture_output=True, text=True, env=_env_with_path(BIN),
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_script_completes_with_comp_words():
    assert _bash_complete("ma") == ["matrix"]
    assert set(_bash_complete("")) >= {"matrix", "completion"}
    assert _bash_complete("--demo", "-n", "pro") == ["production"]
    # bash splits --namespace=pro into three words at '='; the script glues them and answers the tail
    assert _bash_complete("--demo", "--namespace", "=", "pro") == ["production"]
    assert _bash_complete("--demo", "matrix", "-o", "j") == ["json"]
    assert "--namespace" in _bash_complete("matrix", "--")


@pytest.mark.parametrize("shell, check", [("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"])])
def test_zsh_and_fish_scripts_parse(shell, check):
    if shutil.which(check[0]) is None:
        pytest.skip(f"{shell} is not installed")
    proc = subprocess.run([*check, str(REPO / "completions" / SCRIPT_FILES[shell])], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_fish_script_completes():
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    script = REPO / "completions" / SCRIPT_FILES["fish"]
    proc = subprocess.run(["fish", "--no-config", "-c", f"source {script}; complete -C 'kubectl-microseg --demo -n pro'"],
                          capture_output=True, text=True, env=_env_with_path(BIN), timeout=60, check=False)
    assert proc.stdout.split() == ["production"], proc.stderr


_ZSH_DRIVER = r"""
compdef() { : }
_describe() { print -rl -- "${described[@]}" }
_files() { print -r -- "<files>" }
source "$1"; shift
words=("$@"); CURRENT=$#words
_kubectl_microseg
"""


def test_zsh_script_completes():
    """zsh's completion widgets need a terminal: _describe and _files are stubbed to print what they get."""
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed")

    def run(*words: str) -> list[str]:
        proc = subprocess.run(["zsh", "-f", "-c", _ZSH_DRIVER, "driver", str(REPO / "completions" / SCRIPT_FILES["zsh"]),
                               "kubectl-microseg", *words], capture_output=True, text=True, env=_env_with_path(BIN),
                              timeout=60, check=False)
        return proc.stdout.splitlines()

    assert run("--demo", "-n", "pro") == ["production"]
    assert run("ma") == ["matrix:show the effective connectivity matrix"]
    assert run("-f", "") == ["<files>"]
    assert run("--demo", "--namespace=kube") == ["--namespace=kube-system"]


def test_repeated_files_are_all_read(tmp_path):
    for ns in ("alpha", "beta"):
        (tmp_path / f"{ns}.yaml").write_text(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n",
                                             encoding="utf-8")
    words = ["-f", str(tmp_path / "alpha.yaml"), f"--filename={tmp_path / 'beta.yaml'}", "-n", ""]
    assert _values(words) == ["alpha", "beta"]
