"""Provides the error hierarchy and the exit codes of the contract.

Exit codes (shared/CONTRACT.md): 0 success; 1 a check failed or a diff found changes; 2 bad usage or
bad input; 3 the cluster or the host firewall could not be reached or read.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3


@dataclass(frozen=True)
class Origin:
    """Where an object came from: a file and document (and line), or a live cluster object."""

    file: str | None = None
    """Path of the manifest file; None for objects read from a cluster."""
    document: int | None = None
    """1-based index of the YAML document in the file."""
    line: int | None = None
    """1-based line where the document (or the object inside a List) starts."""
    item: int | None = None
    """0-based index inside a ``kind: List`` document, if the object came from one."""
    cluster: str | None = None
    """For live objects: the context or server the object was read from."""

    def describe(self, line: int | None = None) -> str:
        """'file.yaml, document 2, line 14' (or 'cluster CTX')."""
        if self.file is None:
            return f"cluster {self.cluster}" if self.cluster else "<input>"
        parts = [self.file]
        if self.document is not None:
            parts.append(f"document {self.document}")
        ln = line if line is not None else self.line
        if ln is not None:
            parts.append(f"line {ln}")
        return ", ".join(parts)


class MicrosegError(Exception):
    """Base of every error the tool reports to the user (never a traceback)."""

    exit_code = EXIT_BAD_INPUT


class UsageError(MicrosegError):
    """Bad command-line usage."""


class InputError(MicrosegError):
    """Bad input: the message names the file, the document and, where known, the line."""

    def __init__(self, message: str, origin: Origin | None = None, line: int | None = None, path: str | None = None):
        self.origin = origin
        self.line = line if line is not None else (origin.line if origin else None)
        self.path = path
        self.reason = message
        where = origin.describe(self.line) if origin else ""
        field = f" (at {path})" if path else ""
        super().__init__(f"{where}: {message}{field}" if where else f"{message}{field}")


class UnreachableError(MicrosegError):
    """The cluster or the host firewall could not be reached or read."""

    exit_code = EXIT_UNREACHABLE


# -- domain errors: the core raises them with their data; the views word them (``cli.words`` names the
# command-line options that fix them, the TUI shows the plain message). All are usage errors (exit 2).

class AmbiguousName(UsageError):
    """A name that several workloads answer to."""

    def __init__(self, name: str, candidates: list[str]):
        self.name, self.candidates = name, candidates
        super().__init__(f"{name!r} is ambiguous: {', '.join(candidates)}; give its namespace or ns/name")


class BadDeletion(UsageError):
    """A deletion that does not name a NetworkPolicy as NAMESPACE/NAME."""

    def __init__(self, text: str):
        self.text = text
        super().__init__(f"deletion {text!r}: expected NAMESPACE/NAME of a NetworkPolicy")


class UnknownDeletion(UsageError):
    """A deletion of a NetworkPolicy that is in neither the base nor the changes."""

    def __init__(self, policy_id: str):
        self.policy_id = policy_id
        super().__init__(f"cannot delete {policy_id}: no NetworkPolicy {policy_id} in the base or the changes")


class PortRequired(UsageError):
    """A probe names no port and the destination declares none to try (an outside address, or a pod without
    containerPorts)."""

    def __init__(self, destination: str, external: bool):
        self.destination, self.external = destination, external
        super().__init__("a probe to an address outside the cluster needs a port" if external
                         else f"{destination} declares no containerPorts: give a port")


class BadProbeTarget(UsageError):
    """An outside probe target that is not ADDRESS:PORT."""

    expected = "expected ADDRESS:PORT (an IP address: the model judges addresses, not names)"

    def __init__(self, text: str):
        self.text = text
        super().__init__(f"probe target {text!r}: {self.expected}")
