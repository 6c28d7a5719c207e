"""What a board's ROM does at power-on, for a virtual board on the desktop: run as `micropython -i power_on.py ROOT`.

ROOT becomes the board's flash, mounted as /, so that deployed files are all
the board sees (never the host's); then boot.py and main.py run as on a board,
and `-i` leaves the REPL on the serial port afterwards, as a board does when
main.py returns or is interrupted. Not deployed: it stands in for the firmware image.
"""

import os
import sys

import vfs


def _run(name):
    try:
        os.stat(name)
    except OSError:
        return
    try:
        with open(name) as f:
            code = f.read()
        exec(code, {"__name__": "__main__"})
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
    except Exception as err:  # a board prints the traceback and carries on to the REPL
        sys.print_exception(err)


class _Os:
    """os with a working rename: the unix port's VfsPosix, mounted at / on a folder, fails
    os.rename("/a.tmp", "/a") with ENOENT (MicroPython 1.28) while relative names work. A board's
    littlefs has no such bug, and the firmware renames with absolute paths (its state slots)."""


def _patch_os():
    shim = _Os()
    for name in dir(os):
        if not name.startswith("__"):
            setattr(shim, name, getattr(os, name))

    def rename(a, b, _rename=os.rename):
        _rename(a[1:] if a[:1] == "/" else a, b[1:] if b[:1] == "/" else b)  # the working directory is /

    shim.rename = rename
    sys.modules["os"] = shim  # import looks in sys.modules before the built-in modules


def power_on(root):
    vfs.umount("/")
    vfs.mount(vfs.VfsPosix(root), "/")
    os.chdir("/")
    _patch_os()
    sys.path[:] = ["", "/lib"]
    _run("boot.py")
    _run("main.py")


power_on(sys.argv[1])
