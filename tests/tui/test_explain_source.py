"""Explain shows each deciding policy as written (its comments say why) with the deciding rule marked."""

from __future__ import annotations

import argparse

from kubectl_microseg.plugins.demo import DemoSource
from kubectl_microseg.tui.explain_doc import explanation_blocks, plain_text, rule_lines
from kubectl_microseg.tui.session import build_session


def test_the_deciding_rule_is_highlighted_in_the_yaml_as_written():
    session = build_session(DemoSource().load(), argparse.Namespace())
    blocks = explanation_blocks(session, "production/frontend", "production/api-server")
    yaml_blocks = {b.origin.split(" · ")[0]: b for b in blocks if b.kind == "yaml"}
    egress = yaml_blocks["production/frontend-tier"]
    # the demo file's comments survive (re-serialising dropped them)
    assert "# REST calls to the api tier (api-server, order-service)." in egress.text
    lines = egress.text.splitlines()
    marked = [lines[n - 1] for n in egress.highlight]
    assert marked[0].strip() == "- to:" and marked[-1].strip() == "port: 8080"
    assert not any("ingress" in m for m in marked)  # only the egress rule that decided
    assert "egress rule 1" in egress.note and "as written" in egress.note
    ingress = yaml_blocks["production/api-tier"]
    assert [ingress.text.splitlines()[n - 1].strip() for n in ingress.highlight][-1] == "port: http"
    # a policy that isolates without a deciding rule is shown, nothing highlighted
    assert yaml_blocks["production/default-deny-all"].highlight == ()
    assert "# egress rule 1: lines" in plain_text(blocks).replace("▶ deciding: ", "")


def test_rule_lines_follow_the_path_and_refuse_a_missing_one():
    text = "spec:\n  ingress:\n    - from: []\n    # second\n    - ports:\n        - port: 80\n"
    assert rule_lines(text, ("spec", "ingress", 1)) == (5, 6)
    assert rule_lines(text, ("spec", "egress", 0)) is None
