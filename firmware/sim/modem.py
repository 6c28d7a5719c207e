"""A simulated LoRa modem with micropython-lib's sync modem interface, on virtual or real time.

configure / send / recv / start_recv / poll_recv / standby / sleep /
get_time_on_air_us behave as the lora.SX1262 sync driver's do from the
caller's side; sending advances the clock by the packet's time on air and
records the packet. Faults: fail_next=N makes the next N sends raise OSError;
hang=True makes a send take 60 s and raise, as a chip stuck in TX would.
Two receive sides, each loaded only when used (every name a loaded module
adds is a qstr, and on the node's heap one more qstr pool costs 7.7 KB):
- start_recv/poll_recv, the gateway board's continuous receive, hear the air
  file (air=PATH), a queue in firmware/sim/air.py;
- recv(timeout_ms), a node's receive window, hears the packets a network put
  in `downlinks`, only when they arrive in time: firmware/sim/rx_window.py.
"""

from ..airtime import time_on_air_us


class SimModem:
    def __init__(self, clock, on_send=None, air=None):
        self.clock = clock
        self.on_send = on_send
        self.air = air  # path of the air file, or None: nothing is ever heard
        self.cfg = {}
        self.sent = []
        self.keep_sent = True  # a long simulator run prints records instead of keeping them
        self.state = "standby"
        self.fail_next = 0
        self.hang = False
        self.downlinks = []  # packets on their way to a node's receive windows (firmware/sim/rx_window.py)
        # Class A's cost, for the energy model: ms listening in windows, and ms waiting for them since the
        # last transmission or window ended (the MCU awake, the radio asleep).
        self.rx_ms = 0
        self.wait_ms = 0
        self.last_end = None

    def configure(self, cfg):
        self.cfg.update(cfg)

    def get_time_on_air_us(self, length):
        c = self.cfg
        return time_on_air_us(
            length, c.get("sf", 7), int(c.get("bw", "125")), c.get("coding_rate", 5), c.get("preamble_len", 12)
        )

    def send(self, packet, tx_at_ms=None):
        if "freq_khz" not in self.cfg:
            raise RuntimeError("modem not configured: freq_khz missing")
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("simulated radio fault")
        if self.hang:
            self.clock.sleep_ms(60000)
            raise OSError("simulated radio hang")
        if tx_at_ms is not None:  # as the sync driver: wait for that tick, then send
            self.clock.sleep_ms(self.clock.ticks_diff(tx_at_ms, self.clock.ticks_ms()))
        self.state = "tx"
        start = self.clock.time_ms()
        airtime = self.get_time_on_air_us(len(packet))
        self.clock.sleep_us(airtime)
        record = {
            "time_ms": start,
            "freq_khz": self.cfg["freq_khz"],
            "sf": self.cfg.get("sf", 7),
            "bw_khz": int(self.cfg.get("bw", "125")),
            "payload": bytes(packet),
            "airtime_us": airtime,
        }
        if self.keep_sent:
            self.sent.append(record)
        self.state = "standby"
        self.last_end = self.clock.ticks_ms()
        if self.on_send:
            self.on_send(record)
        return self.clock.ticks_ms()

    def recv(self, timeout_ms=None, rx_length=0xFF, rx_packet=None):
        """A node's receive window: a queued downlink that arrives in time, or None at the timeout."""
        from .rx_window import recv

        return recv(self, timeout_ms, rx_packet)

    def start_recv(self, timeout_ms=None, continuous=False, rx_length=0xFF):
        from .air import start_recv

        return start_recv(self, timeout_ms, continuous)

    def poll_recv(self, rx_packet=None):
        from .air import poll_recv

        return poll_recv(self, rx_packet)

    def standby(self):
        self.state = "standby"

    def sleep(self):
        self.state = "sleep"
