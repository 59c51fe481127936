"""Parsing files in several processes gives exactly what serial parsing gives, errors and lines included."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kubectl_microseg.errors import InputError
from kubectl_microseg.plugins import manifests

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from generate import generate


def load(directory: Path, parallel: bool, monkeypatch) -> list:
    monkeypatch.setattr(manifests, "PARALLEL_MIN_BYTES", 0 if parallel else 1 << 60)
    return manifests.ManifestSource([str(directory)]).load().objects


def test_parallel_equals_serial(tmp_path, monkeypatch):
    generate("S", str(tmp_path))
    serial = load(tmp_path, False, monkeypatch)
    parallel = load(tmp_path, True, monkeypatch)
    assert [(o.raw, o.origin) for o in serial] == [(o.raw, o.origin) for o in parallel]
    # line lookups of objects parsed in a worker read the file again, lazily
    assert [o.line_of(("metadata", "name")) for o in serial[:20]] == [o.line_of(("metadata", "name")) for o in parallel[:20]]


def test_parallel_error_names_file_document_and_line(tmp_path, monkeypatch):
    generate("S", str(tmp_path))
    bad = tmp_path / "zz-broken.yaml"
    bad.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\nkind: Pod\nmetadata: {name: [unclosed\n")
    with pytest.raises(InputError) as err:
        load(tmp_path, True, monkeypatch)
    text = str(err.value)
    assert "zz-broken.yaml" in text and "document 2" in text and "line 7" in text
