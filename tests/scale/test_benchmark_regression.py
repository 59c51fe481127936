"""CI gate: the engine's speed on sizes S and M, relative to a reference computation, has not regressed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
def test_no_regression_beyond_twice_the_baseline():
    sys.path.insert(0, str(BENCH))
    try:
        import regression
    finally:
        sys.path.remove(str(BENCH))
    ratios = regression.run()
    assert regression.check(ratios, json.loads((BENCH / "baseline.json").read_text())) == []


def test_check_flags_a_regression():
    sys.path.insert(0, str(BENCH))
    try:
        import regression
    finally:
        sys.path.remove(str(BENCH))
    base = {"M": {"analysis": 1.0}}
    assert regression.check({"M": {"analysis": 1.9}}, base) == []
    assert regression.check({"M": {"analysis": 2.5}}, base) != []
