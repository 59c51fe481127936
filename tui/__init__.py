"""Provides the Textual app of ``kubectl microseg tui`` (installed as ``kubectl_microseg.tui``).

Importing this package does not import Textual; import :mod:`kubectl_microseg.tui.app` for the app.
"""
