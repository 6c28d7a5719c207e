"""The firmware's entry point: config, state, one cycle, deep sleep. Never a crash loop.

Role "gateway" runs firmware/gateway_board.py's receive loop instead of the cycle.

main.py on the board calls main(board) with the board built by firmware/board.py;
the desktop simulator calls it with firmware/sim/board.py's SimBoard.
"""

import gc
import sys

from micropython import const

from .ringlog import RingLog
from .unload import unload

_WDT_MS = const(30000)  # longest stretch between two feeds: a DS18B20 conversion plus an SF12 frame
_RETRY_MS = const(60000)  # sleep after an unexpected error, instead of restarting at once

# Blink codes: why a node stays awake at the REPL and sends nothing (docs/firmware.md lists them).
_BLINK_MAINTENANCE = const(1)  # the button pressed in the window after a reset, or a file named maintenance
_BLINK_CONFIG = const(2)  # config.json missing or invalid: the log says why
_BLINK_ROLE = const(3)  # the config's role is not built into this firmware
_BLINK_STATE = const(4)  # state on flash but no slot readable: the frame counter is unknown


def _collect():
    """gc.collect() where the heap is a board's: on CPython (tests, the field simulator) it only costs time."""
    if sys.implementation.name == "micropython":
        gc.collect()


def _stop(board, log, message, pattern):
    """Log why the node will not transmit, blink the pattern, and return to the REPL."""
    log.write(message)
    board.blink(pattern)
    return None


def _load_config(path):
    """(config, None) or (None, why): the config module is unloaded again either way."""
    from . import config

    try:
        return config.load(path), None
    except config.ConfigError as err:
        return None, str(err)
    finally:
        config = None
        unload("firmware.config")


def main(board, root=None):
    """Run one wake-up on board; return the deep-sleep time in ms, or None when staying awake.

    On a board, board.deepsleep() never returns; the simulator's returns after
    advancing virtual time, and main is called again. A gateway board runs its
    receive loop instead, on the USB serial (sys.stdin/stdout), and returns None
    when it leaves the loop for the REPL.
    """
    root = root or board.root
    log = RingLog(root, clock=board.clock, echo=board.echo)
    cfg, why = _load_config(root + "/config.json")
    if cfg is None:
        return _stop(board, log, why, _BLINK_CONFIG)
    if board.maintenance():
        if cfg["role"] == "node" and board.survey_requested():
            # The button held on 5 s past its press: a field survey first (firmware/lorawan/survey.py), for
            # `akker check --survey` to read at the REPL afterwards.
            cfg["survey"] = True
            _wake_node(board, cfg, log, root, survey=True)
        return _stop(board, log, "maintenance: staying awake at the REPL", _BLINK_MAINTENANCE)
    if cfg["role"] == "gateway":
        return _run_gateway(board, cfg, log)
    if cfg["role"] != "node":
        return _stop(board, log, "config: role %s is not built into this firmware yet" % cfg["role"], _BLINK_ROLE)
    return _wake_node(board, cfg, log, root)


def _run_gateway(board, cfg, log):
    """The gateway board's receive loop on the USB serial; None when it leaves the loop for the REPL."""
    from .gateway_board import run

    gc.collect()
    run(board, cfg, log)
    return None


def _wake_node(board, cfg, log, root, survey=False):
    """A node's wake-up: its state back, the cycle (or a trap count) under a guard, state kept, deep sleep.

    survey: the field survey a technician asked for at boot; no watchdog and no deep sleep after it.
    """
    from .dutycycle import DutyCycle
    from .node import Node, config_crc
    from .state import StateError  # with the report's field table: nodes only

    # A survey at the REPL arms no watchdog (timeout 0): on ESP32 one cannot be stopped, and it would reset the REPL.
    wdt = board.watchdog(0 if survey else _WDT_MS)
    reset_cause = board.reset_cause()
    try:
        state, cold = _restore_state(board, log, root, reset_cause)
    except StateError as err:
        return _stop(board, log, str(err), _BLINK_STATE)
    duty = DutyCycle(state.duty)
    sleep_ms = _RETRY_MS
    node = None
    _collect()  # the cycle allocates most; start it on an unfragmented heap
    try:

        def radio():
            # Built at the first frame, inside the guard: a radio chip that does not answer raises
            # there, and the node must still sleep and retry rather than leave the armed watchdog to
            # reset it over and over. Its code loads after the encoders have been and gone.
            from .radio import Radio

            r = cfg["radio"]
            return Radio(
                board.modem(),
                board.clock,
                r["channels_khz"],
                sf=r["sf"],
                bw_khz=r["bw_khz"],
                tx_power_dbm=r["tx_power_dbm"],
                sync_word=r["sync_word"],
                duty=duty,
            )

        node = Node(board, cfg, state, log, radio, wdt, config_crc(root + "/config.json"))
        if not cold and board.woke_by_trap() and state.next_slot_ms - board.clock.time_ms() > 1000:
            sleep_ms = node.trap_wake()
        else:
            sleep_ms = node.cycle(reset_cause)
    except Exception as err:  # the node must sleep and retry, never crash-loop
        state.faults += 1
        log.write("error %d: %s: %s" % (state.faults, type(err).__name__, err))
    state.duty = duty.state()
    reboot = node is not None and node.reboot
    node = None
    _collect()  # the state's text is the wake-up's largest allocation: make room for it
    if reboot:
        state.save_flash()
        log.write("reboot: as the farm office asked")
        board.reset()
        return sleep_ms
    try:
        blob = state.to_rtc()
    except MemoryError:
        # RTC memory stays empty (it was emptied when read): the next wake-up starts from flash, past
        # every reserved counter. Sleeping on beats a crash at the REPL with the watchdog armed.
        blob = b""
    board.rtc_write(blob)
    if survey:
        return None
    board.deepsleep(sleep_ms)
    return sleep_ms


def _restore_state(board, log, root, reset_cause):
    """(state, cold): from RTC memory after a deep sleep, from flash after a power-on.

    Raises StateError when flash holds state but no readable slot: the frame
    counter is unknown, and the node must not guess it.
    """
    from .state import FlashStore, NodeState

    state = NodeState()
    store = FlashStore(root)
    state.store = store
    cold = not state.from_rtc(board.rtc_read())
    if cold:
        state.restore_flash(store)
        state.boots += 1
        state.power_on_ms = board.clock.time_ms()
        state.last_status_ms = -1  # a status at every boot
        state.next_slot_ms = 0
        log.write("boot %d (%s), next frame counter %d" % (state.boots, reset_cause, state.fcnt))
    else:
        store.load()  # learn the slot sequence, so the next write goes to the older slot
        # A wake-up that does not end with its own RTC write (out of memory, a watchdog reset) must not
        # leave this one's state behind: the next would take a frame counter or a DevNonce again.
        # With RTC memory empty it starts from flash, past every reserved counter.
        board.rtc_write(b"")
    return state, cold
