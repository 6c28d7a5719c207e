"""Akker's host toolkit (CPython): the bridge, the workshop tools and the `akker` command."""
