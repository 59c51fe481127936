"""Fuzz targets through the command line: mutants of the demo manifests and of the demo nftables JSON
rulesets are run through the commands that read them, in-process (``cli.main``). A target fails on any
traceback (an exception other than the tool's own errors escapes ``main``), on a hang (an example that
runs longer than HANG_SECONDS) and on an exit code outside the contract's 0/1/2/3.

Mutations: a subtree replaced by junk (wrong types, out-of-range numbers, odd strings), a key deleted,
a key misspelt, a key duplicated (in the text), a jump added between chains (loops included), and a
random token inserted in the YAML/JSON text.

Budget: fixed and small in CI (``FUZZ_EXAMPLES``, default 40 examples per target, derandomized, a few
seconds each). A longer run, with fresh randomness each time::

    FUZZ_EXAMPLES=5000 FUZZ_RANDOM=1 .venv/bin/python -m pytest -q tests/reliability/test_fuzz_cli.py
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_microseg.cli import main
from tests.reliability.test_fuzz import JUNK, paths, replace_at

DEMO = Path(__file__).resolve().parents[2] / "kubectl_microseg" / "demo"
MANIFESTS = [DEMO / "cluster" / "00-namespaces.yaml", DEMO / "cluster" / "production.yaml"]
RULESETS = sorted((DEMO / "host").glob("*.json"))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
HANG_SECONDS = 20
CONTRACT_CODES = {0, 1, 2, 3}
BUDGET = settings(derandomize=os.environ.get("FUZZ_RANDOM") != "1", deadline=None, database=None,
                  max_examples=EXAMPLES, print_blob=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.function_scoped_fixture])

TOKENS = ["\n", ": ", "- ", "{", "}", "[", "]", '"', "'", "&a ", "*a", "!!python/object:x ", "\t", "---\n",
          "null", "NaN", "-1", "99999", "1e400", "\\u0000", "\x00", "é", ",", "#"]


class Hang(Exception):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise Hang(f"no answer within {HANG_SECONDS} s")


def run_cli(argv: list[str]) -> tuple[int, str]:
    """Exit code and stderr of one in-process run; any other exception fails the test (a traceback)."""
    err = io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert code in CONTRACT_CODES, (argv, code, err.getvalue())
    if code in (2, 3):
        assert err.getvalue().startswith("error: "), err.getvalue()
    return code, err.getvalue()


def _mutate(doc: Any, data: Any) -> Any:
    where = data.draw(st.sampled_from(paths(doc)), label="path")
    how = data.draw(st.sampled_from(["junk", "delete", "misspell"]), label="mutation")
    if how == "junk" or not where:
        return replace_at(doc, where, data.draw(JUNK, label="junk"))
    parent = doc
    for p in where[:-1]:
        parent = parent[p]
    key = where[-1]
    if not isinstance(parent, dict):
        return replace_at(doc, where, data.draw(JUNK, label="junk"))
    out = replace_at(doc, where[:-1], {(k[:-1] or "x" if (k == key and how == "misspell") else k): v
                                       for k, v in parent.items() if not (k == key and how == "delete")})
    return out


def _text_noise(text: str, data: Any) -> str:
    if not data.draw(st.booleans(), label="text noise"):
        return text
    at = data.draw(st.integers(0, len(text)), label="at")
    return text[:at] + data.draw(st.sampled_from(TOKENS), label="token") + text[at:]


@settings(BUDGET)
@given(data=st.data())
def test_fuzz_manifests_through_the_cli(tmp_path_factory, data) -> None:
    tmp = tmp_path_factory.mktemp("m")
    which = data.draw(st.integers(0, len(MANIFESTS) - 1), label="file")
    docs = [d for d in yaml.safe_load_all(MANIFESTS[which].read_text()) if d]
    i = data.draw(st.integers(0, len(docs) - 1), label="document")
    docs[i] = _mutate(docs[i], data)
    as_json = data.draw(st.booleans(), label="json")
    for n, src in enumerate(MANIFESTS):
        if n != which:
            (tmp / src.name).write_text(src.read_text())
            continue
        try:
            text = json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}, indent=1) if as_json else \
                yaml.safe_dump_all(docs, sort_keys=False)
        except (ValueError, yaml.YAMLError):
            return
        name = src.stem + (".json" if as_json else ".yaml")
        (tmp / name).write_text(_text_noise(text, data), encoding="utf-8", errors="surrogatepass")
    command = data.draw(st.sampled_from([["matrix", "-o", "json"], ["lint", "-o", "json", "--no-ignore-file"],
                                         ["get", "workloads"], ["matrix", "--ipblock-matches-pods", "-o", "json"]]))
    run_cli([command[0], "-f", str(tmp)] + command[1:])


def _add_jump(doc: dict, data: Any) -> dict:
    """A rule jumping from one chain to another of the same table (possibly making a loop)."""
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return doc  # an earlier mutation replaced the document: nothing to jump between
    chains = [x["chain"] for x in items if isinstance(x, dict) and isinstance(x.get("chain"), dict)
              and all(isinstance(x["chain"].get(k), str) for k in ("family", "table", "name"))]
    if not chains:
        return doc
    src = data.draw(st.sampled_from(chains), label="from chain")
    dst = data.draw(st.sampled_from([c for c in chains if c["table"] == src["table"]
                                     and c["family"] == src["family"]]), label="to chain")
    verdict = data.draw(st.sampled_from(["jump", "goto"]), label="verdict")
    doc["nftables"].append({"rule": {"family": src["family"], "table": src["table"], "chain": src["name"],
                                     "expr": [{verdict: {"target": dst["name"]}}]}})
    return doc


@settings(BUDGET)
@given(data=st.data())
def test_fuzz_nft_json_through_the_cli(tmp_path_factory, data) -> None:
    tmp = tmp_path_factory.mktemp("n")
    doc = json.loads(data.draw(st.sampled_from(RULESETS), label="ruleset").read_text())
    for _ in range(data.draw(st.integers(1, 2), label="mutations")):
        doc = _add_jump(doc, data) if data.draw(st.booleans(), label="jump") else _mutate(doc, data)
    try:
        text = json.dumps(doc, indent=1)
    except ValueError:
        return
    if data.draw(st.booleans(), label="duplicate key"):
        text = text.replace('"family": ', '"family": "ip", "family": ', 1)
    f = tmp / "rs.json"
    f.write_text(_text_noise(text, data), encoding="utf-8", errors="surrogatepass")
    command = data.draw(st.sampled_from([
        ["nft", "matrix", "--ruleset", str(f), "-o", "json"],
        ["lint", "--ruleset", str(f), "-o", "json", "--no-ignore-file"],
        ["nft", "explain", "--ruleset", str(f), "--from", "10.0.0.9", "--to", "10.0.10.5", "--port", "22"],
        ["nft", "explain", "--ruleset", str(f), "--from", "fd00::1", "--to", "fd00::2", "--port", "443",
         "--protocol", "udp"],
    ]), label="command")
    run_cli(command)


@pytest.mark.parametrize("argv", [["nft", "explain", "--help"]])
def test_the_fuzzed_commands_exist(argv, capsys) -> None:
    """The targets above would pass vacuously if an option were misspelt (argparse exits 2): check once."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "--protocol" in capsys.readouterr().out
