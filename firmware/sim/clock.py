"""Virtual time for the simulated board: nothing sleeps for real, time jumps."""


class SimClock:
    """Milliseconds since the simulation began; ticks_* mimic MicroPython's time module."""

    def __init__(self, start_ms=0):
        self.now_ms = start_ms

    def ticks_ms(self):
        return self.now_ms

    def ticks_us(self):
        return self.now_ms * 1000

    def ticks_diff(self, a, b):
        return a - b

    def sleep_ms(self, ms):
        if ms > 0:
            self.now_ms += ms

    def sleep_us(self, us):
        if us > 0:
            self.now_ms += (us + 999) // 1000

    def time_ms(self):
        """Wall-clock milliseconds; on a board the RTC keeps them across deep sleep."""
        return self.now_ms
