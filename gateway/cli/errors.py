"""The one error type a CLI handler raises for the person at the keyboard, and how an OSError is told."""

import errno


class CliError(Exception):
    """A problem the user can fix; the message says what to do next."""


_ADVICE = {
    errno.EROFS: "the disk is read-only: give a path on a disk that can be written",
    errno.EACCES: "you may not write there: give a path in a folder of yours, or change its permissions",
    errno.EPERM: "you may not write there: give a path in a folder of yours, or change its permissions",
    errno.ENOSPC: "the disk is full: free some space or give a path on another disk",
    errno.EDQUOT: "your disk quota is used up: free some space or give a path on another disk",
}


def os_problem(err: OSError) -> str:
    """An OSError as one line: the path, what the system said, and what to do about it."""
    where = f"{err.filename}: " if err.filename else ""
    advice = _ADVICE.get(err.errno or 0, "check the path and try again")
    return f"{where}{err.strerror or err}: {advice}"
