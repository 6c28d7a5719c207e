"""Akker's version, defined here only: firmware and host toolkit are released together.

The node reports VERSION in every status message (three bytes) and the gateway
board in its PONG. pyproject.toml reads VERSION_TEXT as the package's version,
so importlib.metadata.version("akker"), the bridge's status and `akker
--version` give the same text. It is this file and not the package metadata
because a board cannot read metadata.
"""

VERSION = (0, 1, 0)  # major, minor, patch: one byte each in the status message, so 0..255
VERSION_TEXT = "%d.%d.%d" % VERSION
