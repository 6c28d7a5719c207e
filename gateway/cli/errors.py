"""The one error type a CLI handler raises for the person at the keyboard."""


class CliError(Exception):
    """A problem the user can fix; the message says what to do next."""
