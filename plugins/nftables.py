"""Provides the nftables source: the live ruleset, ``nft -f`` files and ``nft -j`` JSON files.

Backends, in order: python-nftables (libnftables through ctypes; Debian's ``python3-nftables`` is found
even from a virtualenv that does not see system site-packages), then the ``nft`` binary. A file in
``nft -f`` syntax is loaded into a scratch network namespace (``unshare -n``) and listed back as JSON,
so the host's ruleset is never touched. This module also runs the kernel side of ``nft apply``: the
check (``nft -c``), the atomic batch, the backup and the detached rollback timer.

Run as ``python -m kubectl_microseg.plugins.nftables scratch-load FILE`` it is the helper that runs
inside the scratch namespace; ``rollback-after SECONDS BATCH CONFIRM`` is the rollback timer.
"""

from __future__ import annotations

import glob
import importlib.util
import ipaddress
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from kubectl_microseg import demo
from kubectl_microseg.errors import InputError, Origin, UnreachableError, UsageError
from kubectl_microseg.io import strict_json
from kubectl_microseg.model.objects import SourceObject
from kubectl_microseg.nft.hosts import ruleset_object
from kubectl_microseg.nft.iptables import iptables_to_json, looks_like_iptables
from kubectl_microseg.nft.model import Ruleset
from kubectl_microseg.nft.parse import parse_ruleset, read_defines
from kubectl_microseg.sources import Snapshot
from kubectl_microseg.vocab import SessionKind

SYSTEM_MODULE_DIRS = ("/usr/lib/python3/dist-packages", "/usr/lib/python3/site-packages",
                      "/usr/lib64/python3/site-packages")
"""Where distributions install python-nftables (Debian: python3-nftables)."""
_NFT_LOCATION = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+)(?:-\d+)?: Error: (?P<msg>.*)$", re.M)


class NftError(Exception):
    """libnftables or nft refused a command; ``text`` is its error output."""

    def __init__(self, text: str):
        super().__init__(text.strip())
        self.text = text


def import_nftables() -> ModuleType | None:
    """The python-nftables module: a normal import, else the distribution's copy; None when absent."""
    try:
        import nftables
        return nftables
    except ImportError:
        pass
    for base in SYSTEM_MODULE_DIRS:
        path = os.path.join(base, "nftables", "nftables.py")
        if os.path.exists(path):
            spec = importlib.util.spec_from_file_location("nftables", path)
            if spec is None or spec.loader is None:
                continue
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod
    return None


class Backend(Protocol):
    """What the tool needs from nftables."""

    name: str

    def list_ruleset(self) -> dict[str, Any]: ...

    def run_file(self, path: str, check: bool = False) -> None: ...

    def run_json(self, doc: dict[str, Any], check: bool = False) -> None: ...


class LibBackend:
    """libnftables through python-nftables."""

    name = "libnftables"

    def __init__(self, module: ModuleType):
        self.nft = module.Nftables()
        self.nft.set_handle_output(True)

    def _cmd(self, fn: Any, arg: Any, check: bool) -> Any:
        self.nft.set_dry_run(check)
        try:
            rc, out, err = fn(arg)
        finally:
            self.nft.set_dry_run(False)
        if rc != 0:
            raise NftError(err or f"nft failed with code {rc}")
        return out

    def list_ruleset(self) -> dict[str, Any]:
        for attempt in range(3):  # libnftables 1.0.6 sometimes cuts the JSON of a table with flags short
            self.nft.set_json_output(True)
            try:
                out = self._cmd(self.nft.cmd, "list ruleset", False)
            finally:
                self.nft.set_json_output(False)
            try:
                doc = json.loads(out) if out else {"nftables": []}
                break
            except json.JSONDecodeError as exc:
                if attempt == 2:
                    raise NftError(f"libnftables gave a JSON listing that does not parse ({exc.msg}); "
                                   "nft 1.0.6 does this for tables with flags") from None
        return with_table_flags(doc, self._cmd(self.nft.cmd, "list ruleset", False))

    def run_file(self, path: str, check: bool = False) -> None:
        self._cmd(self.nft.cmd_from_file, path, check)

    def run_json(self, doc: dict[str, Any], check: bool = False) -> None:
        self._cmd(self.nft.json_cmd, doc, check)


class CliBackend:
    """The ``nft`` binary (fallback where python-nftables is missing)."""

    name = "nft"

    def __init__(self, binary: str):
        self.binary = binary

    def _run(self, args: list[str], stdin: str | None = None) -> str:
        p = subprocess.run([self.binary, *args], input=stdin, capture_output=True, text=True, check=False)
        if p.returncode != 0:
            raise NftError(p.stderr or p.stdout or f"nft failed with code {p.returncode}")
        return p.stdout

    def list_ruleset(self) -> dict[str, Any]:
        out = self._run(["-j", "-a", "list", "ruleset"])
        doc = json.loads(out) if out.strip() else {"nftables": []}
        return with_table_flags(doc, self._run(["list", "ruleset"]))

    def run_file(self, path: str, check: bool = False) -> None:
        self._run((["-c"] if check else []) + ["-f", path])

    def run_json(self, doc: dict[str, Any], check: bool = False) -> None:
        self._run((["-c"] if check else []) + ["-j", "-f", "-"], stdin=json.dumps(doc))


_TABLE_FLAGS = re.compile(r"^table (\S+) (\S+) \{(?: # handle \d+)?\n\s*flags ([^\n]+)$", re.M)


def with_table_flags(doc: dict[str, Any], text: str) -> dict[str, Any]:
    """Table flags as the text listing gives them: nft 1.0.6's JSON puts the table's name where its
    flags belong, and ``flags dormant`` decides whether a table's chains run at all."""
    flags = {(m.group(1), m.group(2)): [w.strip() for w in m.group(3).split(",")] for m in _TABLE_FLAGS.finditer(text)}
    for item in doc.get("nftables", []):
        t = item.get("table") if isinstance(item, dict) else None
        if isinstance(t, dict):
            key = (str(t.get("family")), str(t.get("name")))
            if key in flags:
                t["flags"] = flags[key]
            else:
                t.pop("flags", None)
    return doc


def backend() -> Backend:
    """The best available backend; UnreachableError when neither libnftables nor nft is there."""
    mod = import_nftables()
    if mod is not None:
        try:
            return LibBackend(mod)
        except OSError:
            pass  # libnftables.so.1 missing: use the binary
    nft = shutil.which("nft") or next((p for p in ("/usr/sbin/nft", "/sbin/nft") if os.path.exists(p)), None)
    if nft:
        return CliBackend(nft)
    raise UnreachableError("neither python-nftables (libnftables) nor the nft binary is installed "
                           "(Debian/Ubuntu: apt install python3-nftables)")


@dataclass
class RulesetInput:
    """A ruleset read from somewhere: its libnftables JSON, where it came from, its defines."""

    doc: dict[str, Any]
    description: str
    origin: Origin | None = None
    defines: dict[str, str] = field(default_factory=dict)

    def ruleset(self) -> Ruleset:
        return parse_ruleset(self.doc, self.origin, self.defines, self.description)


def read_live() -> RulesetInput:
    """The live ruleset of this host (needs root or CAP_NET_ADMIN)."""
    be = backend()
    try:
        doc = be.list_ruleset()
    except NftError as exc:
        if os.geteuid() != 0 or "not permitted" in exc.text.lower():
            raise UnreachableError("cannot read the live nftables ruleset: it needs root (CAP_NET_ADMIN); "
                                   "run with sudo or give --ruleset FILE") from None
        raise UnreachableError(f"cannot read the live nftables ruleset: {exc}") from None
    if os.geteuid() != 0 and not doc.get("nftables"):
        raise UnreachableError("cannot read the live nftables ruleset: it needs root (CAP_NET_ADMIN); "
                               "run with sudo or give --ruleset FILE")
    return RulesetInput(doc, f"live ruleset ({be.name})", Origin(cluster="live nftables ruleset"))


def read_file(path: str) -> RulesetInput:
    """A ``nft -j list ruleset`` JSON file, or a ruleset in ``nft -f`` syntax (loaded in a scratch netns)."""
    from kubectl_microseg.plugins.manifests import read_text

    text = read_text(path)  # size limit, UTF-8, located errors for missing/unreadable files
    origin = Origin(file=path)
    if text.lstrip().startswith("{"):
        try:
            doc = strict_json.loads(text)
        except strict_json.StrictJSONError as exc:
            raise InputError(f"JSON: {exc}", origin, line=exc.line) from None
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", origin, line=exc.lineno) from None
        except RecursionError:
            raise InputError("JSON nested too deeply", origin) from None
        return RulesetInput(doc, f"file {path}", origin)
    if looks_like_iptables(text):  # iptables-save / ip6tables-save output, legacy or nft backend
        return RulesetInput(iptables_to_json(text, origin), f"file {path} (iptables-save)", origin)
    check_includes(path, text)
    doc = scratch_load(path)
    return RulesetInput(doc, f"file {path}", origin, defines=read_defines(text))


_INCLUDE = re.compile(r'^\s*include\s+"([^"]*)"', re.M)
INCLUDE_ANYWHERE_ENV = "KUBECTL_MICROSEG_NFT_INCLUDE_ANYWHERE"
"""Set to 1 to allow ``include`` of files outside the ruleset's directory (they are read as root)."""
MAX_INCLUDE_DEPTH = 16


def check_includes(path: str, text: str, top_dir: str | None = None, depth: int = 0) -> None:
    """Refuse ``include`` statements nft would follow into trouble, before nft runs (as root):

    - a file outside the directory of the ruleset (``/etc/shadow``: nft reads any file as root and echoes
      its lines in errors), unless KUBECTL_MICROSEG_NFT_INCLUDE_ANYWHERE=1;
    - anything but a regular file (``/dev/zero``, a FIFO: nft would read forever), at any depth;
    - a missing file (nft's own message would blame the top-level file).
    The error names the file and line of the ``include``."""
    top_dir = top_dir or os.path.dirname(os.path.realpath(path))
    anywhere = os.environ.get(INCLUDE_ANYWHERE_ENV) == "1"
    for m in _INCLUDE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        target = m.group(1)
        base = os.path.dirname(os.path.abspath(path))
        pattern = target if os.path.isabs(target) else os.path.join(base, target)
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if depth >= MAX_INCLUDE_DEPTH:
            raise InputError(f"includes nested deeper than {MAX_INCLUDE_DEPTH} levels", Origin(file=path), line=line)
        for f in matches:
            real = os.path.realpath(f)
            if not anywhere and os.path.commonpath([real, top_dir]) != top_dir:
                raise InputError(f"include {target!r} is outside the ruleset's directory (set "
                                 f"{INCLUDE_ANYWHERE_ENV}=1 to allow it)", Origin(file=path), line=line)
            try:
                st = os.stat(real)
            except OSError:
                raise InputError(f"include {target!r}: no such file", Origin(file=path), line=line) from None
            if not stat.S_ISREG(st.st_mode):
                raise InputError(f"include {target!r} is not a regular file", Origin(file=path), line=line)
            from kubectl_microseg.plugins.manifests import read_text

            check_includes(f, read_text(f), top_dir, depth + 1)


def scratch_load(path: str) -> dict[str, Any]:
    """Load an ``nft -f`` file into a new, empty network namespace and list it back as JSON.

    Raises:
        InputError: the file does not load (the message has nft's file and line).
        UnreachableError: no scratch namespace can be made (not root).
    """
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    cmd = [unshare, "-n", "--", sys.executable, "-m", "kubectl_microseg.plugins.nftables", "scratch-load",
           os.path.abspath(path)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60,
                           cwd=os.path.dirname(os.path.abspath(path)) or None)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UnreachableError(f"cannot start a scratch network namespace to load {path}: {exc}") from None
    if p.returncode == 0:
        return json.loads(p.stdout)
    if p.returncode == 2:
        raise nft_input_error(p.stderr, path)
    msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit code {p.returncode}"
    raise UnreachableError(f"cannot load {path} in a scratch network namespace ({msg}); this needs root "
                           "(CAP_SYS_ADMIN and CAP_NET_ADMIN). Give the output of `nft -j list ruleset` instead.")


def nft_input_error(text: str, path: str) -> InputError:
    """nft's located error message as an InputError naming the file and the line."""
    m = _NFT_LOCATION.search(text)
    if m:
        # an error inside an included file names that file (nft prints its path), not the top-level one
        where = m.group("file")
        shown = path if os.path.abspath(where) == os.path.abspath(path) or where in ("-", "/dev/stdin") else where
        return InputError(m.group("msg").strip(), Origin(file=shown), line=int(m.group("line")))
    first = next((ln for ln in text.splitlines() if ln.strip()), "nft refused the ruleset")
    return InputError(first.strip(), Origin(file=path))


def _scratch_main(path: str) -> int:
    """Inside the scratch netns: load the file (creating dummy interfaces it names by ``iif``/``oif``)."""
    be = backend()
    for attempt in range(2):
        try:
            be.run_file(path)
            break
        except NftError as exc:
            if attempt == 0 and "Interface does not exist" in exc.text and _make_dummies(path):
                continue
            sys.stderr.write(exc.text)
            return 2
    json.dump(be.list_ruleset(), sys.stdout)
    return 0


def _make_dummies(path: str) -> bool:
    """Create the interfaces a file names with ``iif``/``oif`` (they must exist for it to load)."""
    with open(path, encoding="utf-8") as fh:
        names = set(re.findall(r'\b(?:iif|oif)\s+"?([A-Za-z0-9_.\-]+)"?', fh.read()))
    made = False
    for name in sorted(names - {"lo"}):
        if len(name) < 16 and subprocess.run(["ip", "link", "add", name, "type", "dummy"],
                                             capture_output=True, check=False).returncode == 0:
            made = True
    return made


def apply_batch(doc: dict[str, Any], check: bool = False) -> None:
    """Run one JSON batch as a single kernel transaction (all or nothing)."""
    try:
        backend().run_json(doc, check=check)
    except NftError as exc:
        raise UnreachableError(f"nftables refused the transaction: {exc}") from None


def start_rollback_timer(seconds: int, batch: dict[str, Any], state_dir: str) -> tuple[int, str, str]:
    """Start a detached process that applies ``batch`` after ``seconds`` unless confirmed.

    It survives the end of this process and of the SSH session (own session, no terminal). Returns
    (pid, batch file, confirm file): creating the confirm file, or killing the pid, cancels it.
    """
    os.makedirs(state_dir, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    batch_file = os.path.join(state_dir, f"rollback-{stamp}.json")
    confirm = os.path.join(state_dir, f"confirmed-{stamp}")
    from kubectl_microseg.io.atomic import atomic_write

    atomic_write(batch_file, json.dumps(batch), overwrite=True)  # the timer never reads half a batch
    proc = subprocess.Popen([sys.executable, "-m", "kubectl_microseg.plugins.nftables", "rollback-after",
                             str(seconds), batch_file, confirm], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return proc.pid, batch_file, confirm


def _rollback_main(seconds: str, batch_file: str, confirm: str) -> int:
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        if os.path.exists(confirm):
            return 0
        time.sleep(0.1)
    if os.path.exists(confirm):
        return 0
    with open(batch_file, encoding="utf-8") as fh:
        backend().run_json(json.load(fh))
    from kubectl_microseg.io.atomic import atomic_write

    atomic_write(confirm + ".rolled-back", time.strftime("%Y-%m-%dT%H:%M:%S\n"), overwrite=True)
    return 0


def local_route(address: str) -> tuple[str | None, str | None]:
    """(interface, local source address) the host would use towards ``address`` (``ip route get``)."""
    try:
        p = subprocess.run(["ip", "-j", "route", "get", address], capture_output=True, text=True, check=False,
                           timeout=5)
        info = json.loads(p.stdout)[0] if p.returncode == 0 and p.stdout.strip() else {}
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None, None
    return info.get("dev"), info.get("prefsrc")


def read_ruleset_file(path: str) -> RulesetInput:
    """A ruleset file; a demo ``.nft`` file is read from its shipped ``nft -j`` listing (works without root)."""
    p = Path(path).resolve()
    listing = p.with_suffix(".json")
    if p.parent == demo.HOST_DIR and p.suffix == ".nft" and listing.exists():
        inp = read_file(str(listing))
        inp.defines = read_defines(p.read_text(encoding="utf-8"))
        inp.description = f"demo {p.name}"
        return inp
    return read_file(path)


@dataclass(frozen=True)
class InventoryHost:
    """One host of an inventory file: its name, its addresses, and its ruleset file (None: the live one)."""

    name: str
    addresses: list[str]
    ruleset: str | None


def read_inventory(path: str) -> list[InventoryHost]:
    """hosts: [{name, addresses, ruleset | live: true}] (ruleset paths relative to the file)."""
    from kubectl_microseg.plugins.manifests import parse_text, read_text

    docs = parse_text(read_text(path), path)
    if not docs or not isinstance(docs[0].raw.get("hosts"), list):
        raise InputError("expected a `hosts:` list", Origin(file=path))
    doc = docs[0]
    base = os.path.dirname(os.path.abspath(path))
    hosts = []
    live_used = False
    for i, h in enumerate(doc.raw["hosts"]):
        where = ("hosts", i)
        if not isinstance(h, dict) or not h.get("name"):
            raise doc.error(where, "each host needs a name")
        addrs = h.get("addresses") or []
        if not isinstance(addrs, list):
            raise doc.error(where + ("addresses",), "addresses must be a list")
        try:
            addrs = [str(ipaddress.ip_address(str(a))) for a in addrs]
        except ValueError as exc:
            raise doc.error(where + ("addresses",), str(exc)) from None
        if h.get("live"):
            if live_used:
                raise doc.error(where, "only one host can be live (the local host)")
            live_used = True
            ruleset = None
        elif h.get("ruleset"):
            ruleset = os.path.join(base, str(h["ruleset"]))
        else:
            raise doc.error(where, "give `ruleset: FILE` or `live: true`")
        hosts.append(InventoryHost(str(h["name"]), addrs, ruleset))
    return hosts


@dataclass
class NftablesSource:
    """The host-firewall source of the registry: rulesets (files, the demo, the live one, an inventory) as a
    Snapshot of one ``NftablesRuleset`` object per host (``nft.hosts``)."""

    rulesets: list[str] = field(default_factory=list)
    """Ruleset files (nft -f syntax, nft -j JSON, iptables-save); none: the demo's or the live ruleset."""
    demo: bool = False
    inventory: str | None = None
    """A hosts file (name, addresses, ruleset or live); with ``demo`` and an empty name: the demo hosts."""
    addresses: list[str] = field(default_factory=list)
    """The addresses of a single host (default: the demo host's for the plain demo, else none)."""
    name: str | None = None
    """The name of a single host (default: the demo host's for the plain demo, else the file's stem when
    several files are given, else 'host')."""

    shows = SessionKind.NFT

    @classmethod
    def from_args(cls, args: Any) -> NftablesSource:
        """From the command line: --ruleset FILE (one or several), --demo, --inventory FILE, --address, --name."""
        rulesets = getattr(args, "ruleset", None) or []
        return cls(rulesets=[rulesets] if isinstance(rulesets, str) else list(rulesets),
                   demo=bool(getattr(args, "demo", False)), inventory=getattr(args, "inventory", None),
                   addresses=list(getattr(args, "address", None) or []), name=getattr(args, "name", None))

    def load(self) -> Snapshot:
        if self.inventory is not None:
            inv = self.inventory or (str(demo.HOST_INVENTORY) if self.demo else "")
            if not inv:
                raise UsageError("--inventory needs a FILE (or --demo for the demo hosts)")
            hosts = [(h.name, h.addresses, read_ruleset_file(h.ruleset) if h.ruleset else read_live())
                     for h in read_inventory(inv)]
            return self._snapshot(hosts, f"hosts of {inv}")
        if len(self.rulesets) > 1:
            hosts = [(Path(p).stem, [], read_ruleset_file(p)) for p in self.rulesets]
            return self._snapshot(hosts, f"{len(hosts)} rulesets")
        plain_demo = self.demo and not self.rulesets
        if self.rulesets:
            inp = read_ruleset_file(self.rulesets[0])
        else:
            inp = read_ruleset_file(str(demo.HOST_RULESET)) if self.demo else read_live()
        name = self.name or (demo.HOST_NAME if plain_demo else "host")
        addresses = self.addresses or ([demo.HOST_ADDRESS] if plain_demo else [])
        return self._snapshot([(name, addresses, inp)], inp.description)

    @staticmethod
    def _snapshot(hosts: list[tuple[str, list[str], RulesetInput]], description: str) -> Snapshot:
        objs = [SourceObject(ruleset_object(name, addrs, inp.doc, inp.description, inp.defines),
                             inp.origin or Origin()) for name, addrs, inp in hosts]
        return Snapshot(objs, description)


def main(argv: list[str]) -> int:
    """The helpers run in a scratch namespace or detached (see the module docstring)."""
    if len(argv) == 2 and argv[0] == "scratch-load":
        return _scratch_main(argv[1])
    if len(argv) == 4 and argv[0] == "rollback-after":
        return _rollback_main(argv[1], argv[2], argv[3])
    sys.stderr.write("usage: scratch-load FILE | rollback-after SECONDS BATCH CONFIRM\n")
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
