"""A class A uplink: framed with the session, sent NbTrans times, each copy followed by its two receive windows.

TS001-1.0.4 3.3 (windows), 4.3.1 (FCtrl: ADR, ADRACKReq, ACK), 4.3.1.3
(NbTrans: the same FCnt each time, stopping at the first valid downlink, or
for a confirmed uplink at the first one that acknowledges it). A frame heard
in a window is opened by firmware/lorawan/downlink.py, loaded only then.
docs/firmware.md, "Receive windows".
"""

from payload_codec.lorawan import build_uplink

from .session import sf_of


def send(node, fport, payload, what):
    """Frame and send one uplink with its windows; True when it went out at least once."""
    st = node.state
    cfg = node.cfg
    lw = st.lw
    radio = node.radio
    clock = node.board.clock
    radio.channels_khz = lw.uplink_channels()
    radio.sf = sf_of(lw.dr)
    radio.tx_power_dbm = lw.tx_power_dbm(cfg["radio"]["tx_power_dbm"])
    if not radio.channels_khz:
        node.log.write("lorawan: no enabled channel allows DR%d: %s waits" % (lw.dr, what))
        return False
    if not radio.ready():
        # Checked before a counter is taken: a frame that cannot go out must not use one.
        node.log.write("radio: %s waits: every band is in its duty-cycle off time" % what)
        return False
    st.before_send()
    fcnt = st.take_fcnt()
    adr_ack_req = lw.counted_uplink() if cfg["adr"] else False
    now = clock.time_ms()
    asks = lw.requests(now)
    answers = lw.answers
    fopts = lw.take_answers()
    if len(fopts) + len(asks) <= 15:
        fopts += asks
    else:
        asks = b""
    confirmed = cfg["confirmed"]
    phy = build_uplink(
        lw.dev_addr,
        fcnt,
        fport,
        payload,
        bytes.fromhex(lw.nwk_skey),
        bytes.fromhex(lw.app_skey),
        confirmed=confirmed,
        adr=cfg["adr"],
        fopts=fopts,
        ack=lw.ack,
        adr_ack_req=adr_ack_req,
    )
    went = False
    for copy in range(lw.nb_trans):
        node.wdt.feed()
        try:
            sent = radio.send(phy)
        except OSError as err:
            st.radio_errors += 1
            node.log.write("radio: %s not sent: %s" % (what, err))
            break
        if sent is None:
            break  # the duty cycle allows no further copy now: never a retransmission storm
        if not went:
            went = True
            st.tx_frames += 1
            lw.ack = False
            if asks:
                lw.time_req_ms = now
        if lw.max_duty:
            radio.duty.hold(sent["start_ms"] + (sent["airtime_ms"] << lw.max_duty))
        node.uplink_end_ms = clock.time_ms()
        heard = listen(node, sent)
        if heard is not None:
            node.fpending = heard["fpending"]
            if not confirmed or heard["ack"]:
                break
        if confirmed and copy + 1 < lw.nb_trans:
            clock.sleep_ms(1000 + node.board.random(2000))  # RETRANSMIT_TIMEOUT, 2 s +- 1 s
    if not went:
        lw.answers = answers  # nothing went out: the answers wait for the next uplink
    return went


def listen(node, sent):
    """RX1 on the uplink's channel (DR minus RX1DROffset), then RX2 unless RX1 held a valid downlink.

    Returns what firmware/lorawan/downlink.py made of the downlink ({"ack", "fpending"}), or None.
    """
    lw = node.state.lw
    radio = node.radio
    delay = lw.rx_delay_s * 1000
    rx1_sf = sf_of(max(0, lw.dr - lw.rx1_dr_offset))
    rx = radio.receive(sent["end_ticks"], delay, lw.rx1_khz(sent["freq_khz"]), rx1_sf)
    heard = _open(node, rx)
    if heard is None:
        rx = radio.receive(sent["end_ticks"], delay + 1000, lw.rx2_khz, sf_of(lw.rx2_dr))
        heard = _open(node, rx)
    return heard


def _open(node, rx):
    if rx is None:
        return None
    from .downlink import handle

    return handle(node, rx)
