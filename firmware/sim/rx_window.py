"""What a simulated node hears in a receive window: queued downlinks, heard only when they arrive in time.

SimModem.downlinks is the air as a node's windows see it: a list of packets
that a network (a test, or `firmware.sim.run --network`) put there, each a
dict {"t_ms": when its preamble starts, on the board clock, "freq_khz",
"sf", "bw_khz" (125), "phy": bytes or hex, "rssi_dbm" (-80), "snr_db" (10),
"iq_inverted" (true)}. A receive that starts at `open` with a timeout hears
the first packet on its frequency, SF, bandwidth and IQ whose preamble it can
lock on: at least _LOCK_SYMBOLS of the 8 preamble symbols still to come when
it starts listening, and locked before the timeout. Then the clock runs to
the end of that packet; otherwise to the timeout. Packets whose preamble has
passed by then are gone; later ones wait for a later window. This is the chips' rule in
small (the symbol timeout of the SX1276, the header-stopped timer of the
SX1262), so a window opened too late or too early misses its downlink here
as it would in the field.
"""

from ..airtime import time_on_air_us
from .rx_packet import RxPacket

_PREAMBLE = 8
_LOCK_SYMBOLS = 5


def recv(modem, timeout_ms, rx_packet):
    clock = modem.clock
    c = modem.cfg
    sf = c.get("sf", 7)
    bw = int(c.get("bw", "125"))
    opened = clock.ticks_ms()
    deadline = opened + (timeout_ms or 0)
    tsym = (1 << sf) / bw  # ms
    heard = None
    later = []
    for p in modem.downlinks:
        t = p["t_ms"]
        if heard is None and _catches(c, p, sf, bw, opened, deadline, tsym):
            phy = p["phy"] if type(p["phy"]) is not str else bytes.fromhex(p["phy"])
            end = t + time_on_air_us(len(phy), sf, bw, 5, _PREAMBLE) / 1000
            heard = (p, phy, end)
        elif t + (_PREAMBLE - _LOCK_SYMBOLS) * (1 << p.get("sf", 7)) / p.get("bw_khz", 125) > deadline:
            later.append(p)  # a later window may still catch its preamble
    modem.downlinks = later
    modem.state = "rx"
    if modem.last_end is not None:
        modem.wait_ms += opened - modem.last_end
    if heard is None:
        clock.sleep_ms(deadline - opened)
    else:
        p, phy, end = heard
        clock.sleep_ms(int(end - opened + 0.999))
    modem.state = "standby"
    modem.rx_ms += clock.ticks_ms() - opened
    modem.last_end = clock.ticks_ms()
    if heard is None:
        return None
    if rx_packet is None or len(rx_packet) != len(phy):
        rx_packet = RxPacket(phy)
    else:
        rx_packet[:] = phy
    rx_packet.ticks_ms = clock.ticks_ms()
    rx_packet.rssi = p.get("rssi_dbm", -80)
    rx_packet.snr = round(p.get("snr_db", 10) * 4)  # the driver's unit: dB x 4
    rx_packet.crc_error = False
    return rx_packet


def _catches(c, p, sf, bw, opened, deadline, tsym):
    if p["freq_khz"] != c.get("freq_khz") or p.get("sf", 7) != sf or p.get("bw_khz", 125) != bw:
        return False
    if p.get("iq_inverted", True) != c.get("invert_iq_rx", False):
        return False
    t = p["t_ms"]
    lock = max(t, opened) + _LOCK_SYMBOLS * tsym
    return t + (_PREAMBLE - _LOCK_SYMBOLS) * tsym >= opened and lock <= deadline
