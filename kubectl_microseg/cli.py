"""Provides the ``kubectl microseg`` command line: global options, subcommand discovery, exit codes.

Each module of ``kubectl_microseg.commands`` is one subcommand: it defines ``register(subparsers)``
which adds its parser and sets ``func(args) -> int``. Errors derived from MicrosegError are printed to
stderr as one line (never a traceback) and mapped to the contract's exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys

from . import __version__, commands
from .errors import EXIT_BAD_INPUT, MicrosegError

PROG = "kubectl microseg"


def add_source_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """The kubectl-like options that choose where the model comes from.

    They are accepted both before and after the subcommand (``kubectl microseg --demo matrix`` and
    ``kubectl microseg matrix --demo``); the copies on subcommands use SUPPRESS defaults so they
    never overwrite a value given before the subcommand.
    """
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    g = parser.add_argument_group("source (one of -f, --demo, or the live cluster)")
    g.add_argument("-f", "--filename", action="append", metavar="PATH", default=d(None),
                   help="manifest file or directory (recursive); repeatable; '-' reads stdin")
    g.add_argument("--demo", action="store_true", default=d(False), help="use the demo cluster shipped with the tool")
    g.add_argument("--kubeconfig", default=d(None), help="path to the kubeconfig file (as kubectl)")
    g.add_argument("--context", default=d(None), help="kubeconfig context to use (as kubectl)")
    g.add_argument("-n", "--namespace", default=d(None), help="only this namespace (views filter to it)")
    g.add_argument("-A", "--all-namespaces", action="store_true", default=d(False), help="all namespaces (default for views)")
    g.add_argument("--request-timeout", default=d(None), metavar="DURATION",
                   help="timeout for one API request, e.g. 10s, 1m; 0 means none (as kubectl)")
    g.add_argument("--ipblock-matches-pods", action="store_true", default=d(False),
                   help="let ipBlock peers also match pod IPs, as some CNIs do (default: outside addresses only)")
    g.add_argument("--hostnetwork-as-pods", action="store_true", default=d(False),
                   help="apply policies to hostNetwork pods like ordinary pods (default: policies do not apply)")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every discovered subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="See, explain, simulate and scaffold microsegmentation: NetworkPolicies and nftables "
        "as a connectivity matrix.",
    )
    parser.add_argument("--version", action="version", version=f"kubectl-microseg {__version__}")
    add_source_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in iter_command_modules():
        mod.register(sub)
    return parser


def iter_command_modules() -> list:
    """The subcommand modules, sorted by name (each has ``register``)."""
    mods = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(mod, "register"):
            mods.append(mod)
    return mods


def command_parser(sub, name: str, help: str, *, source: bool = True, **kw) -> argparse.ArgumentParser:
    """Add a subcommand parser with the shared source options (for command modules)."""
    p = sub.add_parser(name, help=help, description=kw.pop("description", help), **kw)
    if source:
        add_source_options(p, suppress=True)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``kubectl-microseg``: returns the contract's exit code (the script exits with it)."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly, like kubectl
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        code = int(args.func(args) or 0)
    except MicrosegError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    return code
