"""``python -m kubectl_microseg`` runs the CLI."""

import sys

from .cli import main

sys.exit(main())
