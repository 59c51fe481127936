"""The fast YAML path (rapidyaml) returns exactly what the strict libyaml loader returns, or declines.

Every safety property (tags, anchors/billion laughs, duplicate keys with both lines, depth, syntax errors
with file/document/line) is checked with and without rapidyaml: the errors are the same words.
"""

from __future__ import annotations

import os
import subprocess
import threading
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_microseg.errors import InputError
from kubectl_microseg.plugins import fast_yaml, manifests

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from dump import write_dump

needs_ryml = pytest.mark.skipif(not fast_yaml.AVAILABLE, reason="no rapidyaml wheel here")


def strict(text: str) -> list:
    return list(yaml.load_all(text, Loader=manifests.StrictSafeLoader))


def agrees(text: str) -> bool:
    """fast_yaml either declines or returns libyaml's documents (same values and same types)."""
    got = fast_yaml.load(text)
    if got is None:
        return True
    want = strict(text)  # must not raise: what libyaml refuses, fast_yaml must decline
    return got == want and repr(got) == repr(want)


# YAML 1.1 (PyYAML, and go-yaml v2 under kubectl) types these plain scalars; rapidyaml's JSON would not
TYPED_PLAIN = ["yes", "No", "on", "OFF", "True", "FALSE", "~", "Null", "NULL", "0x1F", "017", "0b101", "1_000",
               "+1", "12:30", "1.5e3", "1e3", "-.5", ".5", "1.", ".inf", "-.Inf", ".NaN", "2001-12-14",
               "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "<<", "="]
SAME_PLAIN = ["true", "false", "null", "0", "-0", "8080", "-12", "1.5", "1.0e+3", "10.0.0.0/8", "nginx:1.25",
              "v1", "a b", "http://x:1/y", "f:metadata", 'k:{"name":"x"}', "."]


@needs_ryml
@pytest.mark.parametrize("scalar", TYPED_PLAIN + SAME_PLAIN)
@pytest.mark.parametrize("shape", ["k: {}\n", "k:\n  {}\n", "- {}\n", "k: [a, {}]\n", "k: [{},a]\n", "k: {{a: {}}}\n",
                                   "k: # note\n  {}\n", "{}: v\n", "k:\n  {}: v\n", "- {}: v\n", "{{{}: v}}\n",
                                   "k: '{}'\n", 'k: "{}"\n'])
def test_scalars_typed_as_libyaml_types_them(shape, scalar):
    text = shape.format(scalar)
    assert agrees(text), text


@needs_ryml
@pytest.mark.parametrize("text", [
    "", "# only a comment\n", "---\n", "a: 1\n---\nb: 2\n", "a: 1\n---\n", "--- yes\n", "- a\n- b\n", "just text\n",
    ": v\n", "? k\n: v\n", "k: |\n  a\n  b\n", "k: >\n  a\n  b\n\n  c\n", "k: |-\n  a\n", "k: >+\n  a\n\n",
    'k: "a\\tb\\u00e9\\x41\\N\\_\\L\\P\\e\\0 \\"q\\" \\\\"\n', "k: 'it''s'\n", "k: \"multi\n  line\"\n",
    "k: 'multi\n\n  line'\n", "k: plain\n  continued\n", "k: a\\b\n", "k: \"\\u0001\"\n", "k: caf\u00e9 \U0001F600\n",
    "a: 1\na: 2\n", "a: {b: 1, b: 2}\n", "a: &x 1\nb: *x\n", "a: !!str 1\n", "a: !custom x\n", "a: [1, 2\n",
    "a: b: c\n", "\ta: 1\n", "a: 'x\n", "k: @x\n", "k: `x`\n", "a:\r\n  b: 1\r\n", "\ufeffa: 1\n", "a: 1\u2028b: 2\n",
    "%YAML 1.1\n---\na: 1\n", "a: 1\n...\n---\nb: 2\n", "[1, 2]: x\n", "k: " + "[" * 70 + "]" * 70 + "\n",
    "k: 5.e3\n", "k: 9223372036854775808\n", "k:\n- a\n- b\n", "k: {a: [1, {b: null}], c: ~}\n", "k: !!binary aGk=\n",
    # found by the property test below: flow indicators where rapidyaml reads text and libyaml refuses or
    # types otherwise (a plain scalar cannot start with a flow indicator, YAML 1.1 section 9.1.3)
    "a: }{\n", "a: ]x[\n", "a: [}{]\n", "k: {:x}\n", "{?x}\n", "{? :x}\n", "{1- #\"} \n", "{a  \n?# a\" 1x}",
    "a'{ax}  ,}: \"\n  {#}{'[b#]: b\":", "k: [a,\n  b]\n", "a: |\n  a", "a: >-\n  a\n  b",
])
def test_corpus_agrees_with_libyaml_or_declines(text):
    try:
        strict(text)
    except yaml.YAMLError:
        assert fast_yaml.load(text) is None, "libyaml refuses this; the fast path must decline it"
        return
    assert agrees(text)


@needs_ryml
def test_a_kubectl_dump_takes_the_fast_path_and_equals_libyaml(tmp_path):
    path = tmp_path / "dump.yaml"
    write_dump("S", str(path))
    text = path.read_text()
    got = fast_yaml.load(text)
    assert got is not None, "a kubectl -o yaml dump must not need libyaml"
    assert got == strict(text)


SCALARS = st.one_of(
    st.sampled_from(TYPED_PLAIN + SAME_PLAIN), st.text(max_size=12), st.integers(), st.booleans(), st.none(),
    st.floats(allow_nan=False, allow_infinity=True))
KEYS = st.one_of(st.sampled_from(TYPED_PLAIN + SAME_PLAIN + ["name", "spec"]), st.text(max_size=8), st.integers())
DATA = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
                    max_leaves=20)


@needs_ryml
@settings(max_examples=300, deadline=None)
@given(DATA, st.sampled_from([None, True, False]), st.sampled_from([None, '"', "'"]))
def test_random_documents_agree(data, flow, style):
    """Whatever PyYAML writes (any flow and quoting style), the fast path reads as libyaml does, or declines."""
    text = yaml.safe_dump({"root": data}, default_flow_style=flow, default_style=style, allow_unicode=True)
    assert agrees(text), text


FRAGMENTS = st.sampled_from(["a", "b", ":", ": ", "- ", "\n", "  ", "[", "]", "{", "}", ",", "'", '"', "#", "yes",
                             "1", "0x1", "~", "---\n", "|\n", ">\n", "? ", "\t", "\\", "@", "%", "é", "1.5", ".5"])


@needs_ryml
@settings(max_examples=1000, deadline=None)
@given(st.lists(FRAGMENTS, max_size=25).map("".join))
def test_random_texts_agree_or_decline(text):
    """Malformed or odd text: never accepted where libyaml refuses it, never read differently."""
    try:
        strict(text)
    except yaml.YAMLError:
        assert fast_yaml.load(text) is None, repr(text)
        return
    except RecursionError:  # pragma: no cover
        return
    assert agrees(text), repr(text)


BAD = {
    "tag": "a: !!python/object:os.system x\n",
    "duplicate": "kind: Pod\nmetadata:\n  name: a\n  name: b\n",
    "duplicate-flow": "kind: Pod\nmetadata: {name: a, name: b}\n",
    "billion-laughs": "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(6)),
    "deep": "k: " + "[" * 2000 + "]" * 2000 + "\n",
    "deep-block": "".join(" " * i + "k:\n" for i in range(1100)),
    "syntax": "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\nkind: Pod\nmetadata: {name: [unclosed\n",
    "reserved": "kind: Pod\nmetadata: {name: @x}\n",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_refusals_are_the_same_with_and_without_rapidyaml(case, monkeypatch):
    text = BAD[case]
    errors = []
    for available in (True, False):
        if not available:
            monkeypatch.setattr(fast_yaml, "ryml", None)
        with pytest.raises(InputError) as err:
            manifests.parse_text(text, "bad.yaml")
        errors.append(str(err.value))
    assert errors[0] == errors[1]
    assert "bad.yaml" in errors[0] and "line" in errors[0]


def test_without_rapidyaml_a_dump_loads_the_same(tmp_path, monkeypatch):
    """The fallback where no wheel exists: libyaml reads the dump, to the same objects."""
    path = tmp_path / "dump.yaml"
    write_dump("S", str(path))
    fast = manifests.ManifestSource([str(path)]).load().objects
    monkeypatch.setattr(fast_yaml, "ryml", None)
    assert fast_yaml.load(path.read_text()) is None
    slow = manifests.ManifestSource([str(path)]).load().objects
    assert [(o.raw, o.origin) for o in fast] == [(o.raw, o.origin) for o in slow]
    where = ("items", 3, "metadata", "name")
    assert fast[0].line_of(where) == slow[0].line_of(where) is not None


def test_an_install_without_the_fast_extra_gives_the_same_matrix(tmp_path):
    """Where rapidyaml is not installed (musl Linux, or no ``fast`` extra), the CLI reads YAML with libyaml
    alone and prints the same matrix: a whole process with ``import ryml`` failing."""
    path = tmp_path / "dump.yaml"
    write_dump("S", str(path))
    run = ("import sys\nif sys.argv.pop(1) == 'off': sys.modules['ryml'] = None  # import ryml fails\n"
           "from kubectl_microseg.plugins import fast_yaml; print(fast_yaml.AVAILABLE, file=sys.stderr);"
           "sys.argv = ['kubectl-microseg', 'matrix', '-f', sys.argv[1], '-o', 'json'];"
           "from kubectl_microseg.cli import entry; entry()")
    outs = {}
    for mode in ("on", "off"):
        proc = subprocess.run([sys.executable, "-c", run, mode, str(path)], capture_output=True, text=True,
                              timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        outs[mode] = (proc.stdout, proc.stderr.split()[0])
    assert outs["off"][1] == "False" and outs["on"][1] == str(fast_yaml.AVAILABLE)
    assert outs["on"][0] == outs["off"][0] and '"ConnectivityMatrix"' in outs["on"][0]


@needs_ryml
def test_stderr_is_redirected_only_while_the_process_has_one_thread(monkeypatch):
    """fd 2 pointed at a pipe would swallow (or block) other threads' writes: the TUI's screen is drawn on
    stderr by Textual while a worker loads files; the result is the same either way."""
    calls = []
    real_dup2 = os.dup2
    monkeypatch.setattr(os, "dup2", lambda a, b: (calls.append(b), real_dup2(a, b))[1])
    broken = "kind: Pod\nmetadata: {name: a}\nspec: a: b\n"  # passes the scan; rapidyaml raises
    assert not fast_yaml.needs_libyaml(broken)
    if threading.active_count() == 1:
        assert fast_yaml.load(broken) is None and calls == [2, 2]
    calls.clear()
    results = []
    worker = threading.Thread(target=lambda: results.append(fast_yaml.load(broken)))
    worker.start()
    worker.join()
    assert results == [None] and calls == []


@pytest.mark.parametrize("chunk", [1, 3, 1 << 22])
def test_the_scan_reads_each_distinct_line_once_whatever_the_chunk(chunk):
    """needs_libyaml's line rules run on the distinct lines, split a chunk at a time (bounded memory)."""
    text = "a: 1\nb:\n  - yes\na: 1\n\n  key: [x, y]\nlast"
    lines = fast_yaml._distinct_lines(text, chunk).split("\n")
    assert sorted(set(lines) - {""}) == sorted(set(text.split("\n")) - {""}) and len(lines) == len(set(lines))
