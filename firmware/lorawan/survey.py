"""Field survey: a LinkCheckReq at each data rate from DR5 (SF7) down to DR0 (SF12), and what came back.

A node whose config says "survey": true runs one in place of its uplinks at
each wake-up, so a technician can carry it to a spot and see whether the
network hears it there, and how well (TS001-1.0.4 5.2: LinkCheckAns gives the
margin above the demodulation floor at the best gateway, and how many
gateways heard it). The rows go to the log and to ROOT/survey.json, which
`akker check --port PORT --survey` reads with show() and prints as a table with
a verdict per data rate. Each LinkCheckAns costs a downlink (ten a day on TTN).
"""

import json

from micropython import const

from .inbox import apply_inbox
from .session import sf_of
from .uplink import send

_LINK_CHECK_REQ = "02"
_WAIT_STEP_MS = const(10000)  # the watchdog is fed this often while a band is in its off time


def _wait_for_band(node):
    """Sleep, feeding the watchdog, until a channel for the session's data rate may send."""
    clock = node.board.clock
    channels = node.state.lw.uplink_channels()
    if not channels:
        return
    free = min(node.radio.duty.available_at_ms(f) for f in channels)
    while clock.time_ms() < free:
        node.wdt.feed()
        clock.sleep_ms(min(_WAIT_STEP_MS, free - clock.time_ms()))


def survey(node):
    """One LinkCheckReq per data rate, DR5 first; the rows as written to survey.json."""
    st = node.state
    lw = st.lw
    kept_dr = lw.dr
    rows = []
    for dr in range(5, -1, -1):
        lw.dr = dr
        node.link_check = None
        lw.answers = lw.answers + [_LINK_CHECK_REQ]  # a MAC request rides in FOpts like the answers
        _wait_for_band(node)
        sent = send(node, None, b"", "survey DR%d" % dr)
        if st.inbox:
            apply_inbox(node)  # the LinkCheckAns, now: this row needs it
        row = {"dr": dr, "sf": sf_of(dr), "sent": sent, "margin_db": None, "gw_cnt": 0}
        if node.link_check is not None:
            row["margin_db"], row["gw_cnt"] = node.link_check
        rows.append(row)
        node.log.write("survey: DR%d SF%d: %s" % (dr, sf_of(dr), _said(row)))
    lw.dr = kept_dr
    with open(node.board.root + "/survey.json", "w") as f:
        json.dump(rows, f)
    return rows


def _said(row):
    if not row["sent"]:
        return "not sent (radio)"
    if row["margin_db"] is None:
        return "no answer"
    return "margin %d dB, %d gateway(s)" % (row["margin_db"], row["gw_cnt"])


def show(root=""):
    """Print the last survey's rows as one JSON line ([] when none ran): akker check reads it."""
    try:
        with open(root + "/survey.json") as f:
            print(f.read())
    except OSError:
        print("[]")
