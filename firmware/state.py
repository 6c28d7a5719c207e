"""Node state that must survive deep sleep (RTC memory) and power loss (flash).

Two tiers, because flash wears out and RTC memory does not survive a flat
battery:
- RTC memory holds everything between two cycles: the next frame counter,
  trap counts, samples waiting to be sent, counters, duty-cycle state.
- Flash holds what must never go back after a power loss: the frame-counter
  reservation and the trap counts as last sent, in two checksummed slots
  written alternately, so a write torn by a power cut leaves the other intact.

Frame counters are reserved in blocks (LoRaWAN stacks do the same): a counter
is used only after flash says it is reserved, and after a power loss the node
starts past the whole reserved block. docs/firmware.md, "State".
"""

import json
import os
from binascii import crc32

from micropython import const
from payload_codec.report_layout import KEY

FCNT_BLOCK = const(32)  # counters reserved per flash write: one write every 32 frames
MAX_PENDING = const(8)  # samples kept for the next uplink (the report's limit)
_SLOTS = ("state.0", "state.1")
# Short keys for samples held in RTC memory, one per field of the report's table (KEY) in its
# order (2 KB on ESP32: eight samples with the report's long key names would not fit beside the rest).
_SHORT = ("m", "s", "a", "h", "i", "b")


class StateError(OSError):
    """Flash state exists but no slot is readable: the node cannot know its frame counter."""


def _pack(seq, data):
    text = json.dumps(data)
    try:
        crc = crc32(text)  # MicroPython reads a str as its bytes: no copy of a 1 KB text on a small heap
    except TypeError:
        crc = crc32(text.encode())  # CPython
    return "%d %d\n%s" % (seq, crc & 0xFFFFFFFF, text)


def _unpack(blob, kind=dict):
    """(seq, data) from a slot (a dict) or the RTC blob (a list), or None when it is torn, corrupt or empty."""
    try:
        if type(blob) is not str:
            blob = bytes(blob).decode()
        head, text = blob.split("\n", 1)
        seq, crc = head.split(" ")
        if int(crc) != crc32(text.encode()) & 0xFFFFFFFF:
            return None
        data = json.loads(text)
        if type(data) is not kind:
            return None
        return int(seq), data
    except (ValueError, UnicodeError, IndexError):
        return None


class FlashStore:
    """Two alternating slots in a directory of the board's flash filesystem."""

    def __init__(self, root):
        self.root = root
        self.seq = 0

    def _path(self, name):
        return self.root + "/" + name

    def load(self):
        """Return (data, fell_back): the newest readable slot, or (None, False) on a fresh node.

        fell_back is True when a slot exists but is unreadable and the older
        one was used: the caller must skip a further counter block.
        """
        best = None
        broken = False
        for name in _SLOTS:
            try:
                with open(self._path(name)) as f:
                    got = _unpack(f.read())
            except OSError:
                continue  # no such slot yet
            if got is None:
                broken = True
            elif best is None or got[0] > best[0]:
                best = got
        if best is None:
            if broken:
                raise StateError("state: no readable state slot on flash: re-provision the node (new keys)")
            return None, False
        self.seq = best[0]
        return best[1], broken

    def save(self, data):
        """Write the slot not holding the newest state: temporary file, then rename."""
        self.seq += 1
        path = self._path(_SLOTS[self.seq % 2])
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(_pack(self.seq, data))
        os.rename(tmp, path)


class NodeState:
    """Everything a node carries from one cycle to the next."""

    def __init__(self):
        self.fcnt = 0  # next frame counter to use
        self.fcnt_reserved = 0  # counters below this are reserved on flash
        self.traps = [0, 0]  # cumulative catches modulo 65536
        self.traps_saved = [0, 0]  # as last written to flash
        self.pending = []  # [time_ms, sample] waiting for the next uplink, oldest first
        self.tx_frames = 0
        self.sensor_errors = 0
        self.radio_errors = 0
        self.boots = 0
        self.faults = 0  # unexpected exceptions caught by app.main
        self.last_status_ms = -1  # -1: a status is due (boot)
        self.duty = None  # DutyCycle.state()
        self.low_battery = False
        self.next_slot_ms = 0  # the sampling slot this wake-up belongs to
        self.power_on_ms = 0  # when the node last started from power-on, for uptime
        self.store = None
        # LoRaWAN (firmware/lorawan/): the Session, None before an OTAA join; a dict in RTC memory and on flash
        self.lw = None
        self.dev_nonce = 0  # the next JoinRequest's DevNonce: a 1.0.4 counter, on flash before it is used
        self.join_nonce = -1  # the last JoinNonce accepted
        self.join_ident = 0  # CRC of the DevEUI, JoinEUI and AppKey the session was joined with
        self.join_tries = 0  # JoinRequests since reset that were not answered
        self.join_next_ms = 0  # back-off: no JoinRequest before this
        self.join_first_ms = -1  # the first JoinRequest since reset, -1 for none yet
        self.dl_errors = 0  # downlinks dropped: malformed, unauthentic or replayed
        self.settings = {}  # what commands from the farm office changed, over config.json (node.py)
        self.commands = 0  # commands applied, reported in the status
        self.last_command = ""  # the last one applied, hex: FPort byte then payload
        self.inbox = []  # downlinks heard but not yet applied (firmware/lorawan/downlink.py)
        self.battery_v = None  # the last reading, for DevStatusAns

    # ------------------------------------------------------------ RTC memory

    _RTC_KEYS = (
        "fcnt",
        "fcnt_reserved",
        "traps",
        "traps_saved",
        "pending",
        "tx_frames",
        "sensor_errors",
        "radio_errors",
        "boots",
        "faults",
        "last_status_ms",
        "duty",
        "low_battery",
        "next_slot_ms",
        "power_on_ms",
        "lw",
        "dev_nonce",
        "join_nonce",
        "join_ident",
        "join_tries",
        "join_next_ms",
        "join_first_ms",
        "dl_errors",
        "settings",
        "commands",
        "last_command",
        "inbox",
        "battery_v",
    )
    # What flash keeps besides the counter reservation and the trap counts: never back after a power loss.
    _FLASH_KEYS = (
        "tx_frames",
        "sensor_errors",
        "radio_errors",
        "boots",
        "faults",
        "lw",
        "dev_nonce",
        "join_nonce",
        "join_ident",
        "dl_errors",
        "settings",
        "commands",
        "last_command",
        "inbox",
    )

    def _get(self, key):
        v = getattr(self, key)
        return v.to_dict() if key == "lw" and v is not None else v

    def _set(self, key, v):
        if key == "lw" and v is not None:
            from .lorawan.session import Session

            v = Session().from_dict(v)
        setattr(self, key, v)

    def to_rtc(self):
        """The blob for RTC memory, a str (the board takes any buffer).

        The values in _RTC_KEYS order, without their names: the text is the
        largest allocation of a wake-up, and half as long this way.
        """
        return _pack(0, [self._get(key) for key in self._RTC_KEYS])

    def from_rtc(self, blob):
        """Take the state kept in RTC memory; False if there is none (power-on) or it is corrupt."""
        got = _unpack(blob, list) if blob else None
        if got is None or len(got[1]) != len(self._RTC_KEYS):
            return False  # none, corrupt, or another firmware's: start as from power-on
        for i in range(len(self._RTC_KEYS)):
            self._set(self._RTC_KEYS[i], got[1][i])
        return True

    # ------------------------------------------------------------ flash

    def _flash_data(self):
        data = {"fcnt_reserved": self.fcnt_reserved, "traps": self.traps}
        for key in self._FLASH_KEYS:
            data[key] = self._get(key)
        return data

    def restore_flash(self, store):
        """Cold boot: resume from flash, starting past every counter that may have been used."""
        self.store = store
        data, fell_back = store.load()
        if data is None:
            return
        self.fcnt_reserved = data["fcnt_reserved"]
        self.traps = list(data["traps"])
        self.traps_saved = list(data["traps"])
        for key in self._FLASH_KEYS:
            if key in data:
                self._set(key, data[key])
        if fell_back:
            # The unreadable slot may have reserved one block more, and used it; and a DevNonce.
            self.fcnt_reserved += FCNT_BLOCK
            self.dev_nonce += 1
        self.fcnt = self.fcnt_reserved

    def save_flash(self):
        self.store.save(self._flash_data())
        self.traps_saved = list(self.traps)

    def take_fcnt(self):
        """The frame counter for the next frame, reserved on flash before it is returned."""
        if self.fcnt >= self.fcnt_reserved:
            self.fcnt_reserved = self.fcnt + FCNT_BLOCK
            self.save_flash()
        fcnt = self.fcnt
        self.fcnt += 1
        return fcnt

    def checkpoint(self, frames):
        """At the start of a wake-up, while the heap is nearly empty, do the flash writes its frames would need.

        The trap counts now, and counters for `frames` frames; take_fcnt and
        before_send then find nothing left to write unless something changed.
        """
        if self.traps != self.traps_saved or self.fcnt + frames > self.fcnt_reserved:
            self.fcnt_reserved = max(self.fcnt_reserved, self.fcnt + FCNT_BLOCK)
            self.save_flash()

    def before_send(self):
        """Trap counts go to flash before a frame carries them, so they never go back."""
        if self.traps != self.traps_saved:
            self.save_flash()

    def add_sample(self, time_ms, sample):
        """Queue a report sample (without age_s) taken at time_ms."""
        short = {}
        for i in range(len(KEY)):
            if KEY[i] in sample:
                short[_SHORT[i]] = sample[KEY[i]]
        self.pending.append([time_ms, short])
        if len(self.pending) > MAX_PENDING:
            self.pending.pop(0)  # a long radio outage: keep the newest readings

    def samples(self, now_ms):
        """The queued samples as report samples, with age_s counted up to now_ms."""
        out = []
        for time_ms, short in self.pending:
            sample = {"age_s": min(86399, max(0, (now_ms - time_ms) // 1000))}
            for i in range(len(_SHORT)):
                if _SHORT[i] in short:
                    sample[KEY[i]] = short[_SHORT[i]]
            out.append(sample)
        return out
