"""Issue 15: an explanation of a denied port says the missing piece, not only the rules that allow another."""

from __future__ import annotations

import json

from kubectl_microseg.cli import main


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_a_denied_port_names_the_allowed_ones(capsys) -> None:
    code, out = run(capsys, "explain", "--demo", "pod", "production/api-server", "--from", "production/frontend",
                    "--port", "443")
    assert code == 0
    assert "DENY  production/frontend -> production/api-server  TCP 443" in out
    # both sides allow only 8080: each says so
    assert "port not allowed: egress allows TCP 8080; TCP 443 is not" in out
    assert "port not allowed: ingress allows TCP 8080; TCP 443 is not" in out
    code, out = run(capsys, "explain", "--demo", "pod", "production/api-server", "--from", "production/frontend",
                    "--port", "443", "-o", "json")
    pair = json.loads(out)["pairs"][0]
    assert pair["verdict"] == "deny" and "port not allowed: ingress allows TCP 8080; TCP 443 is not" in pair["missing"]


def test_an_allowed_port_has_no_missing_piece(capsys) -> None:
    _code, out = run(capsys, "explain", "--demo", "pod", "production/api-server", "--from", "production/frontend",
                    "--port", "8080")
    assert "ALLOW production/frontend -> production/api-server" in out and "port not allowed" not in out
