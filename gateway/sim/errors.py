"""The one error of `akker sim`, raised by every step of the run and turned into a message by the CLI."""

from __future__ import annotations


class SimError(Exception):
    """The simulation cannot run as asked; the message says what to change."""
