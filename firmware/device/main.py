# main.py, deployed by `akker deploy`. The maintenance flag is checked before anything of the
# firmware is imported: a deploy that was broken off leaves the flag, and its half-copied
# modules must not run (docs/workshop.md).
import os

try:
    os.stat("/maintenance")
    print("akker: maintenance (flag file /maintenance): staying at the REPL")
except OSError:
    from firmware.start import start

    start()
