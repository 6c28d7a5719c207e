"""MAC commands from the network, applied to the session; their answers queued for the next uplink.

TS001-1.0.4 section 5 and RP002-1.0.3 EU868; ../shared/notes/lorawan-mac.md
section 5 has the table. Answers marked sticky there (RXParamSetupAns,
RXTimingSetupAns, DlChannelAns) repeat until a downlink arrives. A block of
LinkADRReq is applied whole or not at all (5.3): every request in it gets the
same LinkADRAns. TxParamSetupReq is neither applied nor answered in EU868.
Parsing (and the refusal of a truncated command) is payload_codec/mac_commands.py.
"""

from micropython import const
from payload_codec.mac_commands import parse

from ..dutycycle import DutyCycle

_DR_MAX = const(5)  # DR6 (SF7/250 kHz) and DR7 (FSK): not used by this node
_TX_POWER_MAX = const(7)
_KEEP = const(15)  # LinkADRReq: DataRate or TXPower 0xF means "keep the current one"


def _khz(freq_hz):
    """freq_hz as kHz when it is a usable EU868 uplink or downlink frequency, else 0."""
    if freq_hz % 1000:
        return 0
    try:
        DutyCycle().band(freq_hz // 1000)
    except ValueError:
        return 0
    return freq_hz // 1000


def apply(node, data, snr_db, uplink_end_ms):
    """Apply the MAC commands in data, heard at snr_db in answer to an uplink that ended at uplink_end_ms."""
    st = node.state
    lw = st.lw
    try:
        commands = parse(data, False)
    except ValueError as err:  # MacError: truncated; nothing from these bytes is applied
        st.dl_errors += 1
        node.log.write("mac: dropped: %s" % err)
        return
    block = []
    for cid, f in commands + [(-1, None)]:  # the sentinel ends a LinkADRReq block at the end
        if cid == 0x03:
            block.append(f)
            continue
        if block:
            _link_adr(node, block)
            block = []
        if cid == 0x02:
            node.link_check = (f["margin_db"], f["gw_cnt"])
            node.log.write("mac: link check: margin %d dB, %d gateway(s)" % node.link_check)
        elif cid == 0x04:
            lw.max_duty = f["max_duty_cycle"]
            lw.answers.append("04")
        elif cid == 0x05:
            _rx_param_setup(lw, f)
        elif cid == 0x06:
            lw.answers.append("06%02x%02x" % (_battery_level(node), max(-32, min(31, snr_db)) & 0x3F))
        elif cid == 0x07:
            _new_channel(lw, f)
        elif cid == 0x08:
            lw.rx_delay_s = f["rx_delay_s"]
            _sticky(lw, "08")
        elif cid == 0x0A:
            _dl_channel(lw, f)
        elif cid == 0x0D:
            # GPS time at the end of the uplink that asked (5.9): how far the node's clock is off.
            gps_ms = f["gps_time_s"] * 1000 + f["fraction"] * 1000 // 256
            lw.gps_offset_ms = gps_ms - uplink_end_ms
            node.log.write("mac: device time: clock offset to GPS time %d ms" % lw.gps_offset_ms)
        elif f is not None and "rest" in f:
            node.log.write("mac: CID 0x%02x not known: %d byte(s) from it ignored" % (cid, len(f["rest"])))


def _sticky(lw, answer):
    lw.sticky = [a for a in lw.sticky if a[:2] != answer[:2]] + [answer]


def _battery_level(node):
    """DevStatusAns battery: 1 (empty) .. 254 (full) from the last reading, 255 when not measured."""
    volts = node.state.battery_v
    if volts is None:
        return 255
    return max(1, min(254, int((volts - 3.3) * 253 / 0.9) + 1))  # a Li-ion cell: 3.3 V empty, 4.2 V full


def _link_adr(node, block):
    lw = node.state.lw
    mask = lw.ch_mask
    mask_ok = True
    for f in block:
        cntl = f["ch_mask_cntl"]
        if cntl == 0:
            mask = f["ch_mask"]
        elif cntl == 6:
            mask = 0
            for i in range(16):
                if lw.channels[i]:
                    mask |= 1 << i
        else:
            mask_ok = False  # RFU in EU868
    for i in range(16):
        if mask >> i & 1 and not lw.channels[i]:
            mask_ok = False  # enables a channel that is not defined
    last = block[-1]
    dr = lw.dr if last["data_rate"] == _KEEP else last["data_rate"]
    power = lw.tx_power if last["tx_power"] == _KEEP else last["tx_power"]
    nb_trans = last["nb_trans"] or lw.nb_trans
    if not mask:
        mask_ok = False
    dr_ok = dr <= _DR_MAX and mask_ok and _mask_allows(lw, mask, dr)
    power_ok = power <= _TX_POWER_MAX
    status = (4 if power_ok else 0) | (2 if dr_ok else 0) | (1 if mask_ok else 0)
    if status == 7:
        lw.ch_mask = mask
        if node.cfg["adr"]:
            lw.dr = lw.adr_dr = dr
            lw.tx_power = power
            lw.nb_trans = nb_trans
    for _ in block:
        lw.answers.append("03%02x" % status)


def _mask_allows(lw, mask, dr):
    for i in range(16):
        ch = lw.channels[i]
        if mask >> i & 1 and ch and ch[1] <= dr <= ch[2]:
            return True
    return False


def _rx_param_setup(lw, f):
    khz = _khz(f["freq_hz"])
    offset_ok = f["rx1_dr_offset"] <= _DR_MAX
    dr_ok = f["rx2_data_rate"] <= _DR_MAX
    status = (4 if offset_ok else 0) | (2 if dr_ok else 0) | (1 if khz else 0)
    if status == 7:
        lw.rx1_dr_offset = f["rx1_dr_offset"]
        lw.rx2_dr = f["rx2_data_rate"]
        lw.rx2_khz = khz
    _sticky(lw, "05%02x" % status)


def _new_channel(lw, f):
    i = f["ch_index"]
    khz = _khz(f["freq_hz"])
    freq_ok = i >= 3 and i < 16 and (khz or f["freq_hz"] == 0)  # 0..2 are EU868's defaults: fixed
    dr_ok = i >= 3 and f["min_dr"] <= f["max_dr"] <= _DR_MAX
    if freq_ok and dr_ok:
        if khz:
            lw.channels[i] = [khz, f["min_dr"], f["max_dr"], 0]
            lw.ch_mask |= 1 << i
        else:
            lw.channels[i] = 0
            lw.ch_mask &= ~(1 << i)
    lw.answers.append("07%02x" % ((2 if dr_ok else 0) | (1 if freq_ok else 0)))


def _dl_channel(lw, f):
    i = f["ch_index"]
    khz = _khz(f["freq_hz"])
    exists = i < 16 and bool(lw.channels[i])
    if exists and khz:
        lw.channels[i][3] = khz
    _sticky(lw, "0a%02x" % ((2 if exists else 0) | (1 if khz else 0)))
