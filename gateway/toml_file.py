"""Reading a TOML file a person wrote (the bridge's settings, the alert rules): one place, one wording.

Errors come back as the caller's own error type, so each command keeps saying
which file of its own is wrong.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def read_toml(path: Path, what: str, error: type[Exception]) -> dict[str, object]:
    """The file's table; error("cannot read <what> <path>: ...") or error("<path> is not valid TOML: ...")."""
    try:
        return dict(tomllib.loads(path.read_text()))
    except OSError as err:
        raise error(f"cannot read {what} {path}: {err.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise error(f"{path} is not valid TOML: {err}") from None
