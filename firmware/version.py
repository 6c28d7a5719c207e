"""The firmware's version, reported in every status message."""

VERSION = (0, 1, 0)
