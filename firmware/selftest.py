"""The board's side of `akker check` and `akker calibrate`: measure, catch every error, print one JSON line.

The host runs a one-line call through the raw REPL (report() or
soil_readings()) and parses the line printed here. Only facts are measured on
the board; limits, advice and the PASS/FAIL verdict are the host's
(gateway/workshop/check.py, gateway/workshop/calibrate.py), so they can change without a
deploy and cost the board no heap. Each check runs on its own and catches its
own errors: a missing sensor, a radio that does not answer or an invalid
config is a result, never a crash.

The board is built as firmware/start.py builds it: its id from the one file in
/boards; "sim" is the simulated board (a fresh virtual clock and field),
anything else firmware/board.py's Board. docs/cli.md, `akker check`.
"""

import gc
import json
import sys

from micropython import const

from .unload import unload
from .version import VERSION

_FORMAT = const(1)  # the "selftest" key of every line: bumped when its layout changes
_ENOENT = const(2)  # errno: no such file or folder
_CAL_PAUSE_MS = const(20)  # between two calibration readings, so that they spread over a moment
# What a bus driver's bare errno means (machine.I2C raises OSError(19) on a NACK); errno.h numbers.
_ERRNO = (
    (5, "I/O error (EIO)"),
    (19, "no device answers (ENODEV)"),
    (110, "timed out (ETIMEDOUT)"),  # Linux (the unix port)
    (116, "timed out (ETIMEDOUT)"),  # newlib (ESP32)
)


def _why(err):
    """One line for an exception: the driver's own text, or what its errno means."""
    args = err.args
    if isinstance(err, OSError) and args:
        if type(args[0]) is not int:
            return str(args[0])
        text = str(args[1]) if len(args) > 1 else ""
        if not text or text == text.upper():  # none, or only the errno's name ("ENODEV")
            for code, meaning in _ERRNO:
                if code == args[0]:
                    return meaning
            return text or "OSError %d" % args[0]
        return text
    text = str(err)
    if isinstance(err, ValueError) and text:  # ConfigError and the drivers' ValueErrors say it all
        return text
    return "%s: %s" % (type(err).__name__, text) if text else type(err).__name__


def _board(root):
    from .start import board_id

    try:
        bid = board_id(root)
    except OSError as err:
        if err.args and err.args[0] == _ENOENT:
            raise OSError(_ENOENT, "no %s/boards folder: the firmware is not deployed" % root) from None
        raise
    if bid == "sim":
        from .sim.board import SimBoard
        from .sim.clock import SimClock
        from .sim.field import Field

        return SimBoard(root, SimClock(), Field())
    from .board import Board

    return Board(bid, root, root + "/boards")


def _heap():
    if not hasattr(gc, "mem_free"):  # CPython
        return None
    gc.collect()
    free = gc.mem_free()
    return {"free": free, "total": free + gc.mem_alloc(), "bits": 64 if sys.maxsize > 0x7FFFFFFF else 32}


def _config_summary(cfg):
    """What the host shows and judges; never a key."""
    s = cfg["sensors"]
    soil = []
    for cal in s["soil_moisture"]:
        soil.append([cal["dry"], cal["wet"]])
    out = {
        "role": cfg["role"],
        "board": cfg["board"],
        "interval_s": cfg["interval_s"],
        "sf": cfg["radio"]["sf"],
        "channels_khz": cfg["radio"]["channels_khz"],
        "low_battery_v": cfg["low_battery_v"],
        "soil_moisture": soil,
        "soil_temp": s["soil_temp"],
        "air": s["air"],
        "traps": s["traps"],
        "battery": s["battery"],
    }
    if "dev_addr" in cfg:
        out["dev_addr"] = "%08x" % cfg["dev_addr"]
    return out


def _sensors(board, cfg, checks):
    """A live reading from every sensor the config lists, built as the node cycle builds them."""
    from .sensors.fitted import Sensors

    board.power_sensors(True)
    try:
        try:
            sensors = Sensors(board, cfg, None)
        except Exception as err:  # a config the board's wiring cannot hold, a missing bus module
            checks.append(["sensors", None, _why(err)])
            return
        for i in range(len(sensors.soil)):
            name = "soil_moisture[%d]" % i
            try:
                probe = sensors.soil[i]
                checks.append([name, [probe.read(), probe.raw()], None])
            except Exception as err:
                checks.append([name, None, _why(err)])
        if sensors.soil_temp is not None:
            _soil_temp(sensors.soil_temp, sensors.soil_temp_count, checks)
        if sensors.air is not None:
            try:
                checks.append(["air", list(sensors.air.read()), None])
            except Exception as err:
                checks.append(["air", None, _why(err)])
        if sensors.battery_fitted:
            if sensors.battery is None:
                checks.append(["battery", None, "the board file gives no battery divider"])
            else:
                try:
                    checks.append(["battery", sensors.battery.read(), None])
                except Exception as err:
                    checks.append(["battery", None, _why(err)])
    finally:
        board.power_sensors(False)


def _soil_temp(probes, count, checks):
    try:
        temps = probes.read()
    except Exception as err:
        for i in range(count):
            checks.append(["soil_temp[%d]" % i, None, _why(err)])
        return
    for i in range(count):
        name = "soil_temp[%d]" % i
        if i >= len(temps):
            checks.append([name, None, "%d of %d probes found on the 1-Wire bus" % (len(temps), count)])
        elif temps[i] is None:
            checks.append([name, None, "no valid reading (CRC error, power-on value or out of range)"])
        else:
            checks.append([name, temps[i], None])


def _radio(board):
    """The chip answers: the modem built through the board layer (which resets and checks it), then standby."""
    spec = getattr(board, "spec", None)
    chip = spec["radio"]["chip"] if spec else board.id
    try:
        board.modem().standby()
    except Exception as err:  # RuntimeError from the driver's status check, OSError, ImportError (no driver)
        return ["radio", chip, _why(err)]
    return ["radio", chip, None]


def _state(root, board):
    """The persisted counters: RTC memory when it holds them (newer), else the flash slots."""
    from .state import FlashStore, NodeState

    st = NodeState()
    source = None
    try:
        if board is not None and st.from_rtc(board.rtc_read()):
            source = "rtc"
        else:
            store = FlashStore(root)
            st.restore_flash(store)
            if store.seq:
                source = "flash"
    except Exception as err:  # StateError: slots exist but none is readable
        return ["state", None, _why(err)]
    if source is None:
        return ["state", None, None]  # a node that has not sent its first frame yet
    value = {
        "source": source,
        "boots": st.boots,
        "fcnt": st.fcnt,
        "tx_frames": st.tx_frames,
        "sensor_errors": st.sensor_errors,
        "radio_errors": st.radio_errors,
        "faults": st.faults,
        "traps": st.traps,
    }
    return ["state", value, None]


def report(root=""):
    """Print the self-test as one JSON line: {selftest, firmware, heap, checks: [[name, value, why], ...]}.

    why is None when the check could measure (the host judges the value), else the reason it could not.
    """
    out = {"selftest": _FORMAT, "firmware": list(VERSION), "heap": _heap()}
    checks = []
    out["checks"] = checks
    board = None
    try:
        board = _board(root)
        checks.append(["board", board.id, None])
    except Exception as err:
        checks.append(["board", None, _why(err)])
    cfg = None
    try:
        from .config import load

        cfg = load(root + "/config.json")
        checks.append(["config", _config_summary(cfg), None])
    except Exception as err:
        checks.append(["config", None, _why(err)])
    finally:
        unload("firmware.config")  # as firmware/app.py does: its tables are heap the sensors need
    if board is not None and cfg is not None:
        _sensors(board, cfg, checks)
    if board is not None:
        checks.append(_radio(board))
    checks.append(_state(root, board))
    print(json.dumps(out))


def soil_readings(probe, samples=16, root=""):
    """Print {selftest, board, readings: [raw, ...]} (or {..., error}): soil input `probe` read `samples` times.

    Each reading is the driver's raw(), the averaged ADC count the calibration stores.
    """
    out = {"selftest": _FORMAT}
    try:
        board = _board(root)
        out["board"] = board.id
        from .sensors.soil_moisture import SoilMoisture

        board.power_sensors(True)
        try:
            try:
                adc = board.soil_adc(probe)
            except IndexError:
                raise OSError(19, "the board has no soil input %d" % probe) from None
            # raw() needs no calibration: dry and wet, the points being measured, are placeholders here.
            sensor = SoilMoisture(adc, 65535, 0)
            readings = []
            for _ in range(samples):
                readings.append(sensor.raw())
                board.clock.sleep_ms(_CAL_PAUSE_MS)
        finally:
            board.power_sensors(False)
        out["readings"] = readings
    except Exception as err:
        out["error"] = _why(err)
    print(json.dumps(out))
