"""What to tell a technician when a serial port will not open: one line per cause, the same for every command.

Used on pyserial's and mpremote's exceptions (deploy, check, calibrate, monitor,
the bridge's --serial) and on esptool's output (flash).
"""

from __future__ import annotations

import re

_CAUSES: tuple[tuple[str, str], ...] = (
    (r"Permission denied", "no permission to open {port}: add yourself to the dialout group "
     "(sudo usermod -aG dialout $USER), log out and in again"),
    (r"exclusively lock|Device or resource busy|Resource temporarily unavailable",
     "{port} is busy: another program holds it (a serial monitor, mpremote, `akker gateway run`); close it and retry"),
    (r"No such file|could not open port", "no port {port}: is the board plugged in? List ports with "
     "`ls /dev/serial/by-id/`"),
)  # fmt: skip


def explain(port: str, text: str) -> str | None:
    """The one-line answer for a failure to open port described by text, or None when it is not one."""
    for pattern, message in _CAUSES:
        if re.search(pattern, text):
            return message.format(port=port)
    return None
