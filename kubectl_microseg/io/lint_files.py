"""The files ``lint`` reads besides the model: a manifest's lines (for YAML comments) and the ignore file.

Shared by the ``lint`` command and the TUI's findings screen, so both read the same lines and apply the same
ignore file (``./.microseg-ignore`` unless another is named or none is wanted).
"""

from __future__ import annotations

import os

from ..demo import CLUSTER_DIR
from ..errors import InputError, Origin
from ..lint.ignore import IgnoreEntry, parse_ignore
from ..lint.registry import catalogue

DEFAULT_IGNORE_FILE = ".microseg-ignore"
DEMO_PREFIX = "demo/cluster/"
"""How the demo source names its files (they live inside the package)."""


def read_lines(path: str, demo: bool = False) -> list[str] | None:
    """A manifest's lines (for YAML comments), or None when it cannot be read.

    With ``demo``, the demo's display names (``demo/cluster/x.yaml``) are read from the package.
    """
    if demo and path.startswith(DEMO_PREFIX):
        path = os.path.join(CLUSTER_DIR, path[len(DEMO_PREFIX):])
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None


def load_ignores(path: str | None, use_default: bool = True) -> tuple[list[IgnoreEntry], str | None]:
    """The ignore entries and the file they came from: ``path``, else ./.microseg-ignore if present and
    ``use_default``; no file gives no entries."""
    if path is None and use_default and os.path.isfile(DEFAULT_IGNORE_FILE):
        path = DEFAULT_IGNORE_FILE
    if path is None:
        return [], None
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read ignore file: {exc.strerror}", Origin(file=path)) from None
    return parse_ignore(text, path, {r.id for r in catalogue()}), path
