"""``kubectl microseg nft apply FILE``: replace tables of the live ruleset safely.

Steps: load FILE in a scratch namespace (syntax and semantics), dry-run the replace batch against the
live ruleset (``nft -c``), show the flows that change, refuse when the current SSH session or a
``--keep`` address would be cut (unless ``--force``), ask (unless ``--yes``), save the current ruleset,
start the rollback timer when ``--confirm-within`` is given, then apply one atomic transaction that
replaces only the tables FILE defines. With ``--confirm-within`` the change is kept only if the user
confirms in time; otherwise the detached timer restores the saved tables, even if this process and the
SSH session are gone.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import time
from typing import Any

from ..errors import EXIT_FAILED, UsageError
from ..nft import transaction as tx
from ..nft.lockout import lockouts, parse_keep, parse_ssh_connection, required_flows
from ..nft.parse import parse_ruleset
from ..nft.simulate import change_lines, host_changes

DEFAULT_STATE_DIR = "/var/lib/kubectl-microseg/nft"


def add_apply_parser(nsub: Any) -> None:
    a = nsub.add_parser("apply", help="apply a ruleset file safely (check, diff, lock-out guard, atomic, rollback)",
                        description=__doc__)
    a.add_argument("file", metavar="FILE", help="ruleset in nft -f syntax (or nft -j JSON)")
    a.add_argument("--keep", action="append", default=[], metavar="ADDR[:PORT]",
                   help="an address that must keep SSH (or PORT) access; repeatable")
    a.add_argument("--force", action="store_true", help="apply even if it would cut the SSH session or a --keep")
    a.add_argument("--yes", "-y", action="store_true", help="do not ask before applying")
    a.add_argument("--confirm-within", type=int, metavar="SECONDS",
                   help="roll back automatically unless confirmed within SECONDS")
    a.add_argument("--state-dir", default=os.environ.get("KUBECTL_MICROSEG_STATE_DIR", DEFAULT_STATE_DIR),
                   help=f"where backups and rollback batches are kept (default {DEFAULT_STATE_DIR})")
    a.add_argument("--dry-run", action="store_true", help="check and show the diff; change nothing")
    a.set_defaults(func=run_apply)


def _ask(prompt: str, timeout: float | None = None) -> str | None:
    """A line from stdin (None on EOF or timeout)."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    if timeout is not None:
        ready, _, _ = select.select([sys.stdin], [], [], timeout)
        if not ready:
            return None
    line = sys.stdin.readline()
    return line.strip().lower() if line else None


def run_apply(args: argparse.Namespace) -> int:
    from kubectl_microseg.plugins import nftables as src

    keeps = []
    for k in args.keep:
        try:
            keeps.append(parse_keep(k))
        except ValueError as exc:
            raise UsageError(f"--keep {k!r}: {exc}") from None
    if args.confirm_within is not None and args.confirm_within < 1:
        raise UsageError("--confirm-within must be at least 1 second")

    new_input = src.read_file(args.file)  # scratch namespace: syntax and kernel semantics
    new_input.ruleset()  # what nft -c cannot see (a jump loop passes it) is refused here, naming FILE
    new_doc = new_input.doc
    tables = tx.tables_of(new_doc)
    if not tables:
        raise UsageError(f"{args.file} defines no table: nothing to apply")
    live = src.read_live()
    batch = tx.replace_batch(new_doc)
    src.apply_batch(batch, check=True)  # nft -c: the exact transaction, against the live ruleset
    current = live.ruleset()
    merged = parse_ruleset(tx.merged_listing(live.doc, new_doc), description=f"after applying {args.file}")

    session = parse_ssh_connection(os.environ.get("SSH_CONNECTION"))
    iif: dict[str, str | None] = {}
    local: dict[int, str] = {}
    for addr in ([session.client] if session else []) + [k[0] for k in keeps]:
        dev, pref = src.local_route(addr)
        iif[addr] = dev
        if pref:
            local.setdefault(6 if ":" in pref else 4, pref)
    addresses = sorted(set(local.values()) | ({session.server} if session else set()))
    lines = change_lines(host_changes(current, merged, "this host", addresses))
    print(f"tables replaced: {', '.join(f'{f} {n}' for f, n in tables)} (all other tables are left as they are)")
    print("flows that change:" if lines else "no connectivity changes")
    for ln in lines:
        print(f"  {ln}")

    cut = lockouts(merged, required_flows(session, keeps, local, iif))
    if cut:
        for why, flow, ev in cut:
            print(f"LOCK-OUT: {why}: {flow.describe()} would be {ev.verdict}", file=sys.stderr)
            for b in ev.because():
                print(f"    because {b}", file=sys.stderr)
        if not args.force:
            print("refusing to apply (use --force to apply anyway)", file=sys.stderr)
            return EXIT_FAILED
        print("--force: applying anyway", file=sys.stderr)
    if args.dry_run:
        print("dry run: nothing applied")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("stdin is not a terminal: give --yes to apply without a prompt")
        if _ask(f"apply {args.file}? [y/N] ") not in ("y", "yes"):
            print("not applied")
            return EXIT_FAILED

    os.makedirs(args.state_dir, exist_ok=True)
    backup = os.path.join(args.state_dir, time.strftime("backup-%Y%m%d-%H%M%S.json"))
    from ..io.atomic import atomic_write

    for n in range(1, 1000):  # atomic and never over an earlier backup (two applies in one second)
        try:
            atomic_write(backup, json.dumps(live.doc))
            break
        except FileExistsError:
            backup = os.path.join(args.state_dir, time.strftime("backup-%Y%m%d-%H%M%S") + f"-{n}.json")
    restore = tx.restore_batch(live.doc, tables)
    timer = None
    if args.confirm_within:
        timer = src.start_rollback_timer(args.confirm_within, restore, args.state_dir)
    try:
        src.apply_batch(batch)
    except Exception:
        if timer:
            os.kill(timer[0], 15)
        raise
    print(f"applied; previous ruleset saved to {backup}")
    if not timer:
        return 0
    _pid, _, confirm = timer
    deadline = time.monotonic() + args.confirm_within
    answer = _ask(f"type 'yes' within {args.confirm_within}s to keep the new ruleset: ",
                  timeout=max(0.1, deadline - time.monotonic() - 0.5))
    if answer == "yes" and time.monotonic() < deadline:
        atomic_write(confirm, "confirmed\n", overwrite=True)
        print("\nconfirmed: the new ruleset stays")
        return 0
    print("\nnot confirmed: rolling back to the saved ruleset", file=sys.stderr)
    while time.monotonic() < deadline + 10 and not os.path.exists(confirm + ".rolled-back"):
        time.sleep(0.1)
    if not os.path.exists(confirm + ".rolled-back"):
        src.apply_batch(restore)  # the timer did not make it: restore ourselves
    print(f"rolled back (tables {', '.join(f'{f} {n}' for f, n in tables)} restored)", file=sys.stderr)
    return EXIT_FAILED
