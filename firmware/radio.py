"""The node's radio: channel hopping and the EU868 duty cycle around the micropython-lib lora modem.

The chip itself is micropython-lib's job (lora.SX1262 / lora.SX1276, sync
API); this module decides when and on which channel a frame may go out,
configures the modem for it, and puts the modem to sleep afterwards.
"""

from micropython import const

from .airtime import time_on_air_us
from .dutycycle import DutyCycle

_TIMEOUT_SLACK_MS = const(1000)  # a send longer than twice its airtime plus this has hung
# A receive window opens this early and stays open this much later than the downlink is due:
# the node's and the gateway's timing error together (docs/firmware.md, "Receive windows").
_RX_ERROR_MS = const(20)
_RX_LOCK_SYMBOLS = const(6)  # preamble symbols the chip needs to lock on (LoRaMac-node's MinRxSymbols)


class Radio:
    def __init__(
        self,
        modem,
        clock,
        channels_khz,
        sf=9,
        bw_khz=125,
        tx_power_dbm=14,
        sync_word=0x34,
        coding_rate=5,
        preamble=8,
        duty=None,
    ):
        self.modem = modem
        self.clock = clock
        self.channels_khz = channels_khz
        self.sf = sf
        self.bw_khz = bw_khz
        self.tx_power_dbm = tx_power_dbm
        self.sync_word = sync_word
        self.coding_rate = coding_rate
        self.preamble = preamble
        self.duty = duty if duty is not None else DutyCycle()
        for f in channels_khz:
            self.duty.band(f)  # a channel outside EU868 is a config error, found before any send

    def airtime_ms(self, length):
        us = time_on_air_us(length, self.sf, self.bw_khz, self.coding_rate, self.preamble)
        return (us + 999) // 1000

    def _free(self, now):
        return [f for f in self.channels_khz if self.duty.available_at_ms(f) <= now]

    def ready(self):
        """True when some configured channel's band is out of its off time now."""
        return bool(self._free(self.clock.time_ms()))

    def _sleep_modem(self):
        try:
            self.modem.sleep()
        except (OSError, RuntimeError):
            pass

    def send(self, phy, max_wait_ms=0):
        """Send phy on a free channel; return {freq_khz, sf, airtime_ms, start_ms}, or None if all are off.

        LoRaWAN asks for a pseudo-random channel per frame: the choice among
        the free channels comes from the frame's MIC, which is as good as
        random and needs no generator state across deep sleep.
        """
        now = self.clock.time_ms()
        free = self._free(now)
        if not free:
            soonest = min(self.duty.available_at_ms(f) for f in self.channels_khz)
            if soonest - now > max_wait_ms:
                return None
            self.clock.sleep_ms(soonest - now)
            now = self.clock.time_ms()
            free = self._free(now)
        freq = free[phy[-1] % len(free)]
        airtime = self.airtime_ms(len(phy))
        cfg = {
            "freq_khz": freq,
            "sf": self.sf,
            "bw": str(self.bw_khz),
            "coding_rate": self.coding_rate,
            "preamble_len": self.preamble,
            "output_power": self.tx_power_dbm,
            "syncword": self.sync_word,
            "crc_en": True,
            "invert_iq_tx": False,  # LoRaWAN uplinks use normal IQ; downlinks are inverted
        }
        try:
            self.modem.configure(cfg)
            start = self.clock.time_ms()
            end = self.modem.send(phy)  # ticks_ms when the last symbol went out: the windows count from it
            took = self.clock.time_ms() - start
        except (OSError, RuntimeError) as err:
            self._sleep_modem()
            raise OSError("radio: %s" % err) from None
        # The frame may have gone out even when the call was slow: count its airtime either way.
        self.duty.record(freq, start, airtime)
        self._sleep_modem()
        if took > 2 * airtime + _TIMEOUT_SLACK_MS:
            raise OSError("radio: send took %d ms for a %d ms frame (timeout)" % (took, airtime))
        return {"freq_khz": freq, "sf": self.sf, "airtime_ms": airtime, "start_ms": start, "end_ticks": end}

    def receive(self, end_ticks, delay_ms, freq_khz, sf):
        """A class A receive window: listen for a downlink due delay_ms after end_ticks; the packet or None.

        The chip is set up first and started _RX_ERROR_MS early; its receive
        timeout (a symbol timeout on the SX1276, a timer stopped by the header
        on the SX1262) ends the window when no preamble came in time, and a
        packet whose preamble it caught is received whole.
        """
        clock = self.clock
        cfg = {
            "freq_khz": freq_khz,
            "sf": sf,
            "bw": str(self.bw_khz),
            "coding_rate": self.coding_rate,
            "preamble_len": self.preamble,
            "syncword": self.sync_word,
            "invert_iq_rx": True,  # downlinks are sent with inverted IQ, so nodes do not hear each other
        }
        try:
            self.modem.configure(cfg)
            wait = clock.ticks_diff(end_ticks, clock.ticks_ms()) + delay_ms - _RX_ERROR_MS
            if wait > 0:
                clock.sleep_ms(wait)
            lock_ms = (_RX_LOCK_SYMBOLS << sf) // self.bw_khz + 1
            return self.modem.recv(2 * _RX_ERROR_MS + lock_ms)
        except (OSError, RuntimeError):
            return None
        finally:
            self._sleep_modem()
