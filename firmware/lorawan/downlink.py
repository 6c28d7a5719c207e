"""A frame heard in a receive window: checked, counted, and its commands kept for the next wake-up.

TS001-1.0.4 4.3.1.5 (FCntDown: 32 bits rebuilt from 16, only ever forward),
4.4 (MIC), 4.3.1.6 (MAC commands in FOpts or in FPort 0, never both). A frame
for another DevAddr is not ours and is ignored; one that fails its MIC, is
replayed or is malformed changes nothing and is counted in dl_errors. What
passes goes to flash with its FCntDown at once, into state.inbox: its MAC and
application commands are applied at the next wake-up (firmware/lorawan/inbox.py),
whose heap the radio's code does not hold, and their answers go out in that
wake-up's uplink, the next one, as TS001-1.0.4 5 asks.
"""

from micropython import const
from payload_codec.lorawan import open_downlink

_MTYPE_UNCONFIRMED_DOWN = const(3)
_MTYPE_CONFIRMED_DOWN = const(5)
_FCTRL_ACK = const(0x20)
_FCTRL_FPENDING = const(0x10)
_COMMAND_PORT_FIRST = const(20)  # payload_codec/commands.py: set_interval .. reboot on FPorts 20..25
_COMMAND_PORT_LAST = const(25)
_INBOX_MAX = const(8)


def handle(node, rx):
    """Open rx with the session; {"ack", "fpending"} when it was a valid downlink for this node, else None."""
    st = node.state
    lw = st.lw
    phy = bytes(rx)
    mtype = phy[0] >> 5 if phy else 0
    if mtype != _MTYPE_UNCONFIRMED_DOWN and mtype != _MTYPE_CONFIRMED_DOWN:
        return None  # a JoinAccept or an uplink heard by chance: not a downlink for a session
    if len(phy) < 12 or int.from_bytes(phy[1:5], "little") != lw.dev_addr:
        return None  # another node's downlink
    try:
        fcnt, fport, plain = open_downlink(
            phy, bytes.fromhex(lw.nwk_skey), bytes.fromhex(lw.app_skey), None if lw.fcnt_down < 0 else lw.fcnt_down
        )
    except ValueError as err:  # FrameError, MicError, ReplayError
        st.dl_errors += 1
        node.log.write("downlink dropped (%d so far): %s" % (st.dl_errors, err))
        return None
    fctrl = phy[5]
    fopts = phy[8 : 8 + (fctrl & 0x0F)]
    lw.fcnt_down = fcnt
    lw.heard_downlink()
    if mtype == _MTYPE_CONFIRMED_DOWN:
        lw.ack = True
    mac = fopts if fopts else (plain if fport == 0 else b"")
    command = fport is not None and _COMMAND_PORT_FIRST <= fport <= _COMMAND_PORT_LAST
    if mac or command:
        # [MAC commands, command FPort or 0, command payload, the request's SNR (dB), when the uplink ended]
        entry = [bytes(mac).hex(), fport if command else 0, plain.hex() if command else "", rx.snr // 4]
        st.inbox = st.inbox[1 - _INBOX_MAX :] + [entry + [node.uplink_end_ms]]
    st.save_flash()
    return {"ack": bool(fctrl & _FCTRL_ACK), "fpending": bool(fctrl & _FCTRL_FPENDING)}
