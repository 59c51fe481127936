"""Provides the TUI's screens: explanation, policy, help, export, simulate (and scaffold when available)."""
