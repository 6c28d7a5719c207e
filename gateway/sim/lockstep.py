"""Nodes that take turns in simulated time, so a network can answer each uplink before the node listens.

A node's firmware sends and then opens its receive windows in one call, so
whatever answers must decide while the node waits: was the frame heard (which
depends on every other frame on the air meanwhile), and what goes back. Each
node runs in its own thread, and only one thread runs at a time. A thread
stops at a turn with a floor, the earliest simulated time (ms, farm time) at
which it can next put anything on the air: before a wake-up its wake time,
after a transmission that transmission's end. The thread with the lowest floor
(then the lowest number) goes next. So when a node's turn after a transmission
comes, every frame that started before that transmission ended is known,
and the same seed gives the same run. A conservative discrete-event
simulation, with threads as its coroutines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence


class Aborted(BaseException):
    """Unwinds a node's thread when the run is over: another failed, or its own network code did (fail()).

    A BaseException, so that the firmware's own `except Exception` (a node sleeps and retries after any
    fault) cannot swallow it and carry on as if the network had merely been silent.
    """


class Lockstep:
    def __init__(self, on_turn: Callable[[int], None] | None = None) -> None:
        self._on_turn = on_turn  # told each turn's floor, in run()'s thread: the simulated time reached (progress)
        self._cv = threading.Condition()
        self._waiting: dict[int, int] = {}  # thread number -> its floor
        self._running: int | None = None
        self._failure: BaseException | None = None

    def turn(self, me: int, floor_ms: int) -> None:
        """Stop until no other thread can act before floor_ms; called by the thread `me`."""
        with self._cv:
            self._waiting[me] = floor_ms
            self._running = None
            self._cv.notify_all()
            self._cv.wait_for(lambda: self._running == me or self._failure is not None)
            if self._failure is not None:
                raise Aborted

    def fail(self, err: BaseException) -> Aborted:
        """Record what went wrong in the calling thread (run() raises it); raise the Aborted returned."""
        with self._cv:
            self._failure = self._failure or err
            self._cv.notify_all()
        return Aborted()

    def run(self, bodies: Sequence[Callable[[], None]]) -> None:
        """Run every body (body i calls turn(i, ...)) in its own thread until all are done; re-raise a failure."""
        threads = []
        for i, body in enumerate(bodies):
            t = threading.Thread(target=self._body, args=(i, body), name=f"akker-sim-node-{i}", daemon=True)
            threads.append(t)
        for i, t in enumerate(threads):
            with self._cv:
                self._running = i  # each starts at once, runs up to its first turn()
            t.start()
            with self._cv:
                self._cv.wait_for(lambda: self._running is None)
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._running is None)
                if self._failure is not None or not self._waiting:
                    break
                me = min(self._waiting, key=lambda k: (self._waiting[k], k))
                floor_ms = self._waiting.pop(me)
                self._running = me
                self._cv.notify_all()
            if self._on_turn is not None:  # outside the lock: printing must not hold up the node that runs
                self._on_turn(floor_ms)
        for t in threads:
            t.join()
        if self._failure is not None:
            raise self._failure

    def _body(self, me: int, body: Callable[[], None]) -> None:
        try:
            body()
        except Aborted:
            pass
        except BaseException as err:  # handed to run(), which raises it in the main thread
            with self._cv:
                self._failure = self._failure or err
        finally:
            with self._cv:
                self._running = None
                self._cv.notify_all()
