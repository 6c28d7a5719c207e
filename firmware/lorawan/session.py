"""The LoRaWAN 1.0.4 class A session a node keeps (EU868): address, keys, counters, channels, RX settings, ADR.

A Session is plain data with to_dict()/from_dict(): firmware/state.py keeps it
in RTC memory between cycles and on flash (with the frame-counter reservation)
whenever it changes, so a node joins once, not on every wake-up. What the
fields mean and when they change: docs/firmware.md, "LoRaWAN session".
Data rates are EU868's (RP002-1.0.3 2.4.3): DR0..DR5 = SF12..SF7 at 125 kHz;
DR6 (SF7/250 kHz) and DR7 (FSK) are not used by this node.
"""

from micropython import const

_DR_MAX = const(5)
_NB_TRANS_MAX = const(15)
_ADR_ACK_LIMIT = const(64)  # RP002-1.0.3 table 4: uplinks without a downlink before ADRACKReq
_ADR_ACK_DELAY = const(32)  # ... and between each step back after that
_MAX_EIRP_DBM = const(16)  # EU868 default MaxEIRP; TXPower index i means MaxEIRP - 2i dB
_TX_POWER_MAX = const(7)
_DAY_MS = const(86400000)
_DEVICE_TIME_REQ = b"\x0d"  # asked once a day, in FOpts (TS001-1.0.4 5.9)
RX2_KHZ = const(869525)  # EU868 RX2 default frequency (869.525 MHz, the 10 % sub-band)

_FIELDS = (
    "dev_addr",  # None: an OTAA node that has not joined yet
    "nwk_skey",  # hex
    "app_skey",  # hex
    "fcnt_down",  # last accepted downlink counter, -1 for none yet
    "dr",  # uplink data rate index
    "tx_power",  # TXPower index
    "nb_trans",  # transmissions of each uplink
    "rx1_dr_offset",
    "rx2_dr",
    "rx2_khz",
    "rx_delay_s",  # RECEIVE_DELAY1; RX2 opens a second later
    "channels",  # 16 entries: [uplink kHz, min DR, max DR, RX1 kHz (0: the uplink's)] or 0 for none
    "ch_mask",  # bit i: channel i enabled
    "adr_ack_cnt",
    "max_duty",  # DutyCycleReq: aggregated duty cycle 1 / 2**max_duty, 0 for the regulatory limits only
    "answers",  # MAC answers for the next uplink, one hex string each; sent once
    "sticky",  # sticky MAC answers, one hex string each; repeated until a downlink arrives
    "ack",  # a confirmed downlink arrived: the next uplink sets ACK
    "adr_dr",  # the data rate ADR last set, before any back-off step: 0..5
    "gps_offset_ms",  # GPS time minus the node's clock, from DeviceTimeAns; None until one arrives
    "time_req_ms",  # when DeviceTimeReq last went out
)


def sf_of(dr):
    return 12 - dr


def dr_of(sf):
    return 12 - sf


class Session:
    def __init__(self):
        self.dev_addr = None
        self.nwk_skey = ""
        self.app_skey = ""
        self.fcnt_down = -1
        self.dr = 3
        self.tx_power = 0
        self.nb_trans = 1
        self.rx1_dr_offset = 0
        self.rx2_dr = 0
        self.rx2_khz = RX2_KHZ
        self.rx_delay_s = 1
        self.channels = [0] * 16
        self.ch_mask = 0
        self.adr_ack_cnt = 0
        self.max_duty = 0
        self.answers = []
        self.sticky = []
        self.ack = False
        self.adr_dr = 3
        self.gps_offset_ms = None
        self.time_req_ms = None

    def to_dict(self):
        """The fields as a list in _FIELDS order: RTC memory is 2 KB on ESP32 and names would take a third."""
        return [getattr(self, key) for key in _FIELDS]

    def from_dict(self, data):
        """The session from to_dict()'s list; None when it is not one (another firmware's layout)."""
        if type(data) is not list or len(data) != len(_FIELDS):
            return None
        for i in range(len(_FIELDS)):
            setattr(self, _FIELDS[i], data[i])
        return self

    def set_channels(self, khz_list):
        """Channels 0.. from a list of kHz (0: none at that index), DR0..DR5 each, all on."""
        self.channels = [0] * 16
        self.ch_mask = 0
        for i in range(min(16, len(khz_list))):
            if khz_list[i]:
                self.channels[i] = [khz_list[i], 0, _DR_MAX, 0]
                self.ch_mask |= 1 << i

    def uplink_channels(self):
        """kHz of the enabled channels that allow the current data rate."""
        out = []
        for i in range(16):
            ch = self.channels[i]
            if ch and self.ch_mask >> i & 1 and ch[1] <= self.dr <= ch[2]:
                out.append(ch[0])
        return out

    def rx1_khz(self, uplink_khz):
        for ch in self.channels:
            if ch and ch[0] == uplink_khz and ch[3]:
                return ch[3]
        return uplink_khz

    def tx_power_dbm(self, limit_dbm):
        """The TXPower index as conducted dBm, never above the board's own limit (the config's tx_power_dbm)."""
        return min(limit_dbm, _MAX_EIRP_DBM - 2 * self.tx_power)

    def counted_uplink(self):
        """A new FCntUp went out: count it towards the ADR back-off (TS001-1.0.4 4.3.1.1) and step back if due.

        Returns True when the frame must carry ADRACKReq.
        """
        self.adr_ack_cnt += 1
        n = self.adr_ack_cnt
        if n >= _ADR_ACK_LIMIT + _ADR_ACK_DELAY:
            self.tx_power = 0  # default (highest) power first
        if n >= _ADR_ACK_LIMIT + 2 * _ADR_ACK_DELAY and (n - _ADR_ACK_LIMIT) % _ADR_ACK_DELAY == 0:
            if self.dr > 0:
                self.dr -= 1
            else:
                # At the lowest rate: every default channel back, one transmission per frame.
                for i in range(3):
                    if self.channels[i]:
                        self.ch_mask |= 1 << i
                self.nb_trans = 1
        return n >= _ADR_ACK_LIMIT

    def heard_downlink(self):
        """Any valid class A downlink: the network hears the node, so the back-off and sticky answers end."""
        self.adr_ack_cnt = 0
        self.sticky = []

    def requests(self, now):
        """MAC requests of the node's own for the next uplink's FOpts: DeviceTimeReq once a day."""
        if self.time_req_ms is None or now - self.time_req_ms >= _DAY_MS or now < self.time_req_ms:
            return _DEVICE_TIME_REQ
        return b""

    def fopts_room(self, now):
        """Bytes of FOpts the next uplink will carry (at most 15): a report must leave room for them."""
        n = len(self.requests(now))
        for hexed in self.answers + self.sticky:
            n += len(hexed) // 2
        return min(15, n)

    def take_answers(self):
        """FOpts for the next uplink: answers (sent once) then sticky ones, whole commands up to 15 bytes.

        What does not fit waits for the next uplink.
        """
        out = b""
        rest = []
        for hexed in self.answers + self.sticky:
            raw = bytes.fromhex(hexed)
            if len(out) + len(raw) <= 15:
                out += raw
            elif hexed not in self.sticky:
                rest.append(hexed)
        self.answers = rest
        return out


def from_config(cfg, old):
    """An ABP node's session from config.json; FCntDown carries over while the DevAddr stays the same."""
    lw = Session()
    r = cfg["radio"]
    lw.dev_addr = cfg["dev_addr"]
    lw.nwk_skey = cfg["nwk_skey"].hex()
    lw.app_skey = cfg["app_skey"].hex()
    lw.dr = lw.adr_dr = dr_of(r["sf"])
    lw.rx_delay_s = r["rx_delay_s"]
    lw.rx2_khz = r["rx2_khz"]
    lw.rx2_dr = dr_of(r["rx2_sf"])
    lw.set_channels(r["channels_khz"])
    if old is not None and old.dev_addr == lw.dev_addr:
        lw.fcnt_down = old.fcnt_down
    return lw
