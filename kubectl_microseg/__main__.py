"""``python -m kubectl_microseg`` runs the CLI."""

from .cli import entry

entry()
