"""EU868 duty cycle per sub-band (after each transmission its band stays silent for an off time),
and the region's payload limits.

Sub-bands and limits: ETSI EN 300 220-2 / ERC Recommendation 70-03, annex 1
(as LoRaWAN RP002 uses them). The off time after a frame of airtime t in a
band with duty cycle d is t * (1/d - 1), so the band's share of any window
starting at a transmission stays at or under d (the LoRaMAC "band off time").
Times are milliseconds on the board's RTC clock, which runs through deep
sleep; they exceed 2**30 and are long ints on a 32-bit board, which is fine
outside interrupt handlers.
"""

# Largest FRMPayload per SF at 125 kHz (RP002-1.0.3 2.4.6: DR5..DR0 = SF7..SF12), without FOpts and
# with repeater compatibility, which is the conservative column for a node.
MAX_PAYLOAD = {7: 222, 8: 222, 9: 115, 10: 51, 11: 51, 12: 51}

# (lowest kHz, highest kHz, 1/duty): 0.1 % -> 1000, 1 % -> 100, 10 % -> 10
_BANDS = (
    (863000, 865000, 1000),
    (865000, 868000, 100),
    (868000, 868600, 100),
    (868700, 869200, 1000),
    (869400, 869650, 10),
    (869700, 870000, 100),
)


class DutyCycle:
    def __init__(self, state=None):
        # When each band may transmit again; `state` is what state() returned before deep sleep.
        self.free_at = list(state) if state and len(state) == len(_BANDS) else [0] * len(_BANDS)

    def band(self, freq_khz):
        for i in range(len(_BANDS)):
            if _BANDS[i][0] <= freq_khz < _BANDS[i][1]:
                return i
        raise ValueError("%d kHz is outside the EU868 sub-bands" % freq_khz)

    def limit(self, freq_khz):
        """The band's duty cycle as a fraction (0.01 for 1 %)."""
        return 1 / _BANDS[self.band(freq_khz)][2]

    def available_at_ms(self, freq_khz):
        return self.free_at[self.band(freq_khz)]

    def record(self, freq_khz, start_ms, airtime_ms):
        b = self.band(freq_khz)
        self.free_at[b] = start_ms + airtime_ms * _BANDS[b][2]

    def hold(self, until_ms):
        """DutyCycleReq's aggregated limit: no band transmits again before until_ms."""
        for b in range(len(self.free_at)):
            self.free_at[b] = max(self.free_at[b], until_ms)

    def state(self):
        return list(self.free_at)
