"""OTAA join (TS001-1.0.4 6.2): a JoinRequest with the next DevNonce, the JoinAccept in its two windows.

DevNonce is a counter kept on flash and written before the request goes out,
so no value is ever sent twice, whatever happens to power. A JoinAccept counts
only when its MIC passes and its JoinNonce is higher than the last accepted.
Back-off (TS001-1.0.4 7, TR007 4.8): after a request of airtime t the next
waits t x 100 in the first hour after reset (1 %), t x 1000 up to hour 11
(0.1 %), t x 10000 after (0.01 %), each plus up to a quarter more at random,
and the first request after power-on waits a random 0..20 s, so a field that
loses power together does not join all at once. Every second unanswered
request steps one data rate down, to DR0, and then starts again at the configured one:
a gateway board listens at one spreading factor, and a node stuck at DR0 would never be
heard by one set to another. Loaded only while the node is not joined.
"""

from binascii import crc32

from micropython import const
from payload_codec.lorawan_join import build_join_request, open_join_accept

from .session import RX2_KHZ, Session, dr_of, sf_of

_JOIN_DELAY1_MS = const(5000)  # JOIN_ACCEPT_DELAY1; RX2 one second later
_FIRST_JITTER_MS = const(20000)
_HOUR_MS = const(3600000)


def identity(cfg):
    """What a session was joined with: a new DevEUI, JoinEUI or AppKey means a new join."""
    return crc32(cfg["dev_eui"] + cfg["join_eui"] + cfg["app_key"]) & 0x3FFFFFFF


def _backoff_ms(st, now, airtime_ms, board):
    since = now - st.join_first_ms
    factor = 100 if since < _HOUR_MS else (1000 if since < 11 * _HOUR_MS else 10000)
    wait = airtime_ms * factor
    return wait + board.random(wait // 4 + 1)


def join(node):
    """One JoinRequest when the back-off allows; True when the node has joined."""
    st = node.state
    cfg = node.cfg
    board = node.board
    clock = board.clock
    radio = node.radio
    now = clock.time_ms()
    if st.join_first_ms < 0:
        st.join_first_ms = now
        clock.sleep_ms(board.random(_FIRST_JITTER_MS))
        node.wdt.feed()
    elif now < st.join_next_ms:
        node.log.write("join: next JoinRequest in %d s (back-off)" % ((st.join_next_ms - now) // 1000))
        return False
    if st.dev_nonce > 0xFFFF:
        node.log.write("join: every DevNonce is used: register the node again with a new JoinEUI")
        return False
    first = dr_of(cfg["radio"]["sf"])
    dr = first - (st.join_tries // 2) % (first + 1)
    radio.channels_khz = cfg["radio"]["channels_khz"]
    radio.sf = sf_of(dr)
    if not radio.ready():
        node.log.write("radio: join waits: every band is in its duty-cycle off time")
        return False
    nonce = st.dev_nonce
    st.dev_nonce = nonce + 1
    st.save_flash()  # before the request: a DevNonce is never sent twice
    phy = build_join_request(cfg["join_eui"], cfg["dev_eui"], nonce, cfg["app_key"])
    node.wdt.feed()
    try:
        sent = radio.send(phy)
    except OSError as err:
        st.radio_errors += 1
        node.log.write("radio: JoinRequest not sent: %s" % err)
        sent = None
    if sent is None:
        return False
    st.tx_frames += 1
    st.join_tries += 1
    st.join_next_ms = clock.time_ms() + _backoff_ms(st, now, sent["airtime_ms"], board)
    accept = _window(node, sent, _JOIN_DELAY1_MS, sent["freq_khz"], radio.sf, nonce)
    if accept is None:
        accept = _window(node, sent, _JOIN_DELAY1_MS + 1000, RX2_KHZ, 12, nonce)
    if accept is None:
        node.log.write("join: no JoinAccept for DevNonce %d (try %d)" % (nonce, st.join_tries))
        return False
    _start_session(node, accept, dr)
    return True


def _window(node, sent, delay_ms, khz, sf, nonce):
    rx = node.radio.receive(sent["end_ticks"], delay_ms, khz, sf)
    if rx is None:
        return None
    st = node.state
    try:
        accept = open_join_accept(bytes(rx), node.cfg["app_key"], nonce)
    except ValueError as err:
        st.dl_errors += 1
        node.log.write("join: JoinAccept dropped: %s" % err)
        return None
    if accept["join_nonce"] <= st.join_nonce:
        st.dl_errors += 1
        node.log.write("join: JoinAccept dropped: JoinNonce %d was seen before" % accept["join_nonce"])
        return None
    return accept


def _start_session(node, accept, dr):
    st = node.state
    cfg = node.cfg
    lw = Session()
    lw.dev_addr = accept["dev_addr"]
    lw.nwk_skey = accept["nwk_skey"].hex()
    lw.app_skey = accept["app_skey"].hex()
    lw.dr = lw.adr_dr = dr
    lw.rx1_dr_offset = min(5, accept["rx1_dr_offset"])
    lw.rx2_dr = min(5, accept["rx2_data_rate"])
    lw.rx_delay_s = accept["rx_delay_s"]
    khz = list(cfg["radio"]["channels_khz"][:3])
    khz += [0] * (3 - len(khz))
    for hz in accept["cflist"] or ():
        khz.append(hz // 1000)
    lw.set_channels(khz)
    st.lw = lw
    st.join_nonce = accept["join_nonce"]
    st.join_tries = 0
    st.fcnt = 0  # a new session starts its counters at 0 (TS001-1.0.4 4.3.1.5)
    st.fcnt_reserved = 0
    st.save_flash()
    node.log.write("join: joined as DevAddr %08x, RX1 delay %d s, RX2 DR%d" % (lw.dev_addr, lw.rx_delay_s, lw.rx2_dr))
