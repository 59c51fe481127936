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
from .errors import (EXIT_BAD_INPUT, AmbiguousName, BadDeletion, BadProbeTarget, MicrosegError, PortRequired,
                     UnknownDeletion)

PROG = "kubectl microseg"


def add_source_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """The kubectl-like options that choose where the model comes from.

    They are accepted both before and after the subcommand (``kubectl microseg --demo matrix`` and
    ``kubectl microseg matrix --demo``); the copies on subcommands use SUPPRESS defaults so they
    never overwrite a value given before the subcommand.
    """
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    g = parser.add_argument_group("source (one of -f, --demo, --source, or the live cluster)")
    g.add_argument("--source", default=d(None), metavar="NAME",
                   help="read with this installed source (entry point group kubectl_microseg.plugins); "
                   "-f is --source manifests, --demo is --source demo, the default is kube"
                   ).completer = installed_sources  # type: ignore[attr-defined]
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
    g.add_argument("--mesh-root-namespace", default=d(None), metavar="NS",
                   help="Istio's root namespace: its policies apply mesh-wide (default: istio-system)")
    g.add_argument("--trust-domain", default=d(None), metavar="DOMAIN",
                   help="Istio trust domain of the principals TRUST_DOMAIN/ns/NS/sa/SA (default: cluster.local)")


def installed_sources(prefix: str, lookup: object) -> list[str]:
    """The values of ``--source`` for shell completion: the registry's names (no source is imported)."""
    from .sources import source_names

    return source_names()


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the subcommand it names is imported (startup stays fast).

    Without ``argv`` (or when it names no known subcommand, e.g. ``--help``), every subcommand is loaded.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="See, explain, simulate and scaffold microsegmentation: NetworkPolicies and nftables "
        "as a connectivity matrix.",
    )
    parser.add_argument("--version", action="version", version=f"kubectl-microseg {__version__}")
    add_source_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = command_names()
    chosen = _subcommand(argv or [], names)
    for mod in iter_command_modules([chosen] if chosen else names):
        mod.register(sub)
    return parser


VALUE_OPTIONS = frozenset({"-f", "--filename", "--source", "--kubeconfig", "--context", "-n", "--namespace",
                           "--request-timeout", "--mesh-root-namespace", "--trust-domain"})
"""Options before the subcommand that take a value (so ``-n test matrix`` means the matrix command)."""


def _subcommand(argv: list[str], names: list[str]) -> str | None:
    """The subcommand named by ``argv``: its first positional word, skipping the values of options."""
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a in VALUE_OPTIONS:
            skip = True
        elif not a.startswith("-"):
            return a if a in names else None
    return None


def command_names() -> list[str]:
    """The subcommand module names, without importing them."""
    return sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))


def iter_command_modules(names: list[str] | None = None) -> list:
    """The subcommand modules (each has ``register``), sorted by name."""
    mods = []
    for name in names if names is not None else command_names():
        mod = importlib.import_module(f"{commands.__name__}.{name}")
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
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        code = int(args.func(args) or 0)
    except MicrosegError as exc:
        print(f"error: {words(exc)}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    return code


def words(exc: MicrosegError) -> str:
    """The command line's wording of an error: a domain error of the core is told with the option that fixes
    it (the core knows no options); every other error says what it says."""
    if isinstance(exc, AmbiguousName):
        return f"{exc.name!r} is ambiguous: {', '.join(exc.candidates)}; give -n NAMESPACE or ns/name"
    if isinstance(exc, BadDeletion):
        return f"--delete {exc.text!r}: expected NAMESPACE/NAME of a NetworkPolicy"
    if isinstance(exc, UnknownDeletion):
        return f"--delete {exc.policy_id}: no NetworkPolicy {exc.policy_id} in the base or the changes"
    if isinstance(exc, PortRequired):
        return ("a probe to an address outside the cluster needs --port" if exc.external
                else f"{exc.destination} declares no containerPorts: give --port")
    if isinstance(exc, BadProbeTarget):
        return f"--external {exc.text!r}: {exc.expected}"
    return str(exc)


def ignore_sigpipe() -> None:
    """For commands that follow a watch: a closed socket is an error, not a signal. :func:`entry` restores
    SIGPIPE's default (for ``| head``), which killed the TUI and ``audit --watch`` with exit 141 when a
    watch thread wrote to a connection the quitting main thread had just closed."""
    import threading

    if hasattr(signal, "SIGPIPE") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # (only the main thread may; tests run commands in threads)


def entry() -> None:
    """The ``kubectl-microseg`` executable: ``main`` with the process-wide settings of a CLI."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly, like kubectl
    sys.exit(main())
