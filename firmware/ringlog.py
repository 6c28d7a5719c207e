"""A small ring log on flash: the node's last words, readable by a technician.

log.0 is appended to; when it reaches max_bytes it is renamed to log.1,
replacing the older one, so the log never holds more than twice max_bytes.
Nothing here ever holds a key.
"""

import os


class RingLog:
    def __init__(self, root, max_bytes=4096, clock=None, echo=None):
        self.current = root + "/log.0"
        self.previous = root + "/log.1"
        self.max_bytes = max_bytes
        self.clock = clock
        self.echo = echo  # echo(line): also show it, on the REPL or the simulator's stderr

    def write(self, message):
        t = self.clock.time_ms() // 1000 if self.clock else 0
        line = "%d %s\n" % (t, message)
        if self.echo:
            self.echo(line)
        try:
            try:
                if os.stat(self.current)[6] >= self.max_bytes:
                    os.rename(self.current, self.previous)
            except OSError:
                pass  # no log yet
            with open(self.current, "a") as f:
                f.write(line)
        except OSError:
            pass  # a full or failing flash must not stop the node

    def lines(self):
        """All lines kept, oldest first."""
        out = []
        for path in (self.previous, self.current):
            try:
                with open(path) as f:
                    out.extend(f.read().splitlines())
            except OSError:
                pass
        return out
