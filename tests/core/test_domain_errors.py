"""The core raises typed domain errors with their data and names no command-line option; the CLI words them
(``cli.words``) with the option that fixes them, the same text as before the split."""

from __future__ import annotations

import pytest

from kubectl_microseg.cli import main, words
from kubectl_microseg.engine.analyze import analyze
from kubectl_microseg.engine.explain import find_workload
from kubectl_microseg.engine.simulate import Deletion, apply_changes
from kubectl_microseg.errors import AmbiguousName, BadDeletion, BadProbeTarget, PortRequired, UnknownDeletion
from kubectl_microseg.dataplane.cells import external_cells
from kubectl_microseg.plugins.demo import DemoSource


def test_the_core_says_what_is_wrong_without_naming_an_option() -> None:
    a = analyze(DemoSource().load())
    with pytest.raises(AmbiguousName) as amb:
        find_workload(a, "api", None)
    assert amb.value.candidates == ["development/api", "staging/api"] and "-n" not in str(amb.value)
    with pytest.raises(BadDeletion) as bad:
        Deletion.parse("a/b/c")
    assert bad.value.text == "a/b/c" and "--delete" not in str(bad.value)
    with pytest.raises(UnknownDeletion) as unknown:
        apply_changes([], [], [Deletion("production", "nope")])
    assert unknown.value.policy_id == "production/nope" and "--delete" not in str(unknown.value)
    with pytest.raises(BadProbeTarget) as target:
        external_cells([], ["example.com:443"])
    assert target.value.text == "example.com:443" and "--external" not in str(target.value)


def test_the_command_line_words_them_with_its_options() -> None:
    assert words(AmbiguousName("api", ["a/api", "b/api"])) == ("'api' is ambiguous: a/api, b/api; "
                                                              "give -n NAMESPACE or ns/name")
    assert words(BadDeletion("x/y/z")) == "--delete 'x/y/z': expected NAMESPACE/NAME of a NetworkPolicy"
    assert words(UnknownDeletion("a/b")) == "--delete a/b: no NetworkPolicy a/b in the base or the changes"
    assert words(PortRequired("1.2.3.4", external=True)) == "a probe to an address outside the cluster needs --port"
    assert words(PortRequired("a/web-0", external=False)) == "a/web-0 declares no containerPorts: give --port"
    assert words(BadProbeTarget("x:1")) == ("--external 'x:1': expected ADDRESS:PORT (an IP address: the model judges "
                                            "addresses, not names)")


@pytest.mark.parametrize("argv, message", [
    (["--demo", "explain", "pod", "api"],
     "error: 'api' is ambiguous: development/api, staging/api; give -n NAMESPACE or ns/name"),
    (["--demo", "simulate", "--delete", "a/b/c"], "error: --delete 'a/b/c': expected NAMESPACE/NAME of a NetworkPolicy"),
])
def test_the_cli_prints_its_wording_and_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                 message: str) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == message
