"""A simulated 1-Wire bus standing in for onewire.OneWire, with DS18B20 models on it.

Desktop only, not deployed. ROM and function commands work as on a real bus,
the search algorithm included; the devices compute the real CRCs and have
fault switches for tests (absent, corrupt, brownout). A test or
firmware/sim/field.py sets the temperatures they measure.

Sources: Maxim DS18B20 datasheet 19-7487 rev. 6 and application notes 27 (CRC)
and 187 (1-Wire search algorithm).
"""

from micropython import const


def maxim_crc8(data):
    """Dallas/Maxim 1-Wire CRC-8: x^8 + x^5 + x^4 + 1, shifted LSB first (0x8C), init 0 (AN27)."""
    crc = 0
    for byte in data:
        for _ in range(8):
            mix = (crc ^ byte) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            byte >>= 1
    return crc


def make_rom(serial):
    """A valid DS18B20 ROM: family 0x28, the 48-bit serial LSB first, CRC."""
    rom = bytearray(8)
    rom[0] = 0x28
    for i in range(6):
        rom[1 + i] = (serial >> (8 * i)) & 0xFF
    rom[7] = maxim_crc8(rom[:7])
    return rom


class SimDS18B20:
    """One DS18B20. The temperature is latched at CONVERT T; until then it reads +85 °C.

    Fault switches: absent (no presence, reads nothing), corrupt (a bit flips on
    the wire after the CRC), brownout (the part resets during the conversion and
    keeps its power-on scratchpad). genuine=False models the common clones whose
    reserved byte 6 stays 0x0C instead of following the conversion.
    """

    def __init__(self, rom, temp_c, genuine=True):
        self.rom = bytes(rom)
        self.temp_c = temp_c
        self.genuine = genuine
        self.absent = False
        self.corrupt = False
        self.brownout = False
        self.conversions = 0
        self.th, self.tl, self.config = 0x4B, 0x46, 0x7F  # factory EEPROM values, 12-bit
        self.power_on()

    def power_on(self):
        self._raw = 0x0550  # +85 °C
        self._byte6 = 0x0C

    def convert(self):
        self.conversions += 1
        if self.brownout:
            self.power_on()
            return
        self._raw = round(self.temp_c * 16) & 0xFFFF
        if self.genuine:
            self._byte6 = 0x10 - (self._raw & 0x0F)

    def scratchpad(self):
        """The 9 bytes READ SCRATCHPAD sends (datasheet "Memory")."""
        pad = bytearray(9)
        pad[0], pad[1] = self._raw & 0xFF, self._raw >> 8
        pad[2], pad[3], pad[4] = self.th, self.tl, self.config
        pad[5], pad[6], pad[7] = 0xFF, self._byte6, 0x10
        pad[8] = maxim_crc8(pad[:8])
        if self.corrupt:
            pad[0] ^= 0x04
        return pad

    def rom_bit(self, i):
        """Bit i (0..63) of the ROM, in the order the search sends it: LSB of byte 0 first."""
        return (self.rom[i >> 3] >> (i & 7)) & 1


class OneWireError(Exception):
    """What onewire.OneWire.reset(required=True) raises (not an OSError there either)."""


# Bus states. const(): inlined, so no global name (nor its qstr) is left at run time (sim/modem.py says why).
_ROM = const(0)  # after a reset: waiting for a ROM command
_MATCH = const(1)  # reading the 8 ROM bytes of MATCH ROM
_SEARCH = const(2)  # in a search
_FUNCTION = const(3)  # a device is selected: waiting for a function command
_READ = const(4)  # sending the scratchpad
_IDLE = const(5)  # nothing to do until the next reset


class SimOneWire:
    """onewire.OneWire's interface over device models: ROM and function commands as on a real bus.

    Several devices answering at once are wired-AND, as the open-drain bus is.
    """

    SEARCH_ROM = 0xF0
    MATCH_ROM = 0x55
    SKIP_ROM = 0xCC

    def __init__(self, devices):
        self.devices = list(devices)
        self.resets = 0
        self._state = _IDLE
        self._selected = []
        self._match = bytearray()
        self._bit = 0  # search: next ROM bit, and which of its three slots comes next
        self._slot = 0
        self._out = b""
        self._pos = 0  # next byte of _out to read (MicroPython's bytearray has no pop)

    def _present(self):
        return [d for d in self.devices if not d.absent]

    def reset(self, required=False):
        self.resets += 1
        self._state = _ROM
        self._selected = []
        self._out = b""
        self._pos = 0
        present = bool(self._present())
        if required and not present:
            raise OneWireError()
        return present

    def writebyte(self, b):
        state = self._state
        if state == _ROM:
            if b == self.SKIP_ROM:
                self._selected = self._present()
                self._state = _FUNCTION
            elif b == self.MATCH_ROM:
                self._match = bytearray()
                self._state = _MATCH
            elif b == self.SEARCH_ROM:
                self._selected = self._present()
                self._bit = 0
                self._slot = 0
                self._state = _SEARCH
            else:
                self._state = _IDLE
        elif state == _MATCH:
            self._match.append(b)
            if len(self._match) == 8:
                self._selected = [d for d in self._present() if d.rom == bytes(self._match)]
                self._state = _FUNCTION
        elif state == _FUNCTION:
            if b == 0x44:  # CONVERT T
                for d in self._selected:
                    d.convert()
                self._state = _IDLE
            elif b == 0xBE:  # READ SCRATCHPAD
                out = bytearray(b"\xff" * 9)
                for d in self._selected:
                    pad = d.scratchpad()
                    for i in range(9):
                        out[i] &= pad[i]
                self._out = out
                self._pos = 0
                self._state = _READ
            else:
                self._state = _IDLE

    def write(self, buf):
        for b in buf:
            self.writebyte(b)

    def readbyte(self):
        if self._state == _READ and self._pos < len(self._out):
            self._pos += 1
            return self._out[self._pos - 1]
        return 0xFF  # nobody drives the bus: the pull-up reads ones

    def readinto(self, buf):
        for i in range(len(buf)):
            buf[i] = self.readbyte()

    def readbit(self):
        """Search: each remaining device sends its ROM bit, then its complement (wired-AND)."""
        if self._state != _SEARCH or self._slot > 1:
            return 1
        bit = 1
        for d in self._selected:
            bit &= d.rom_bit(self._bit) ^ self._slot
        self._slot += 1
        return bit

    def writebit(self, value):
        """Search: the master's choice; the devices whose bit differs drop out until the next reset."""
        if self._state != _SEARCH or self._slot != 2:
            return
        i = self._bit
        self._selected = [d for d in self._selected if d.rom_bit(i) == value]
        self._bit += 1
        self._slot = 0
        if self._bit == 64:
            self._state = _FUNCTION  # the one device left is selected, as after MATCH ROM

    def select_rom(self, rom):
        self.reset()
        self.writebyte(self.MATCH_ROM)
        self.write(rom)

    def scan(self):
        """The ROMs on the bus by the 1-Wire search algorithm (AN187), as onewire.OneWire.scan does.

        Each pass follows the previous ROM's bits up to the last fork where it took
        0, takes 1 there, and 0 at every later fork.
        """
        found = []
        rom = bytearray(8)
        last_fork = 0  # 1-based bit number of the last fork that took 0; 0 when none is left
        for _ in range(len(self.devices) + 1):
            if not self.reset():
                break
            self.writebyte(self.SEARCH_ROM)
            fork = 0
            for i in range(64):
                b = self.readbit()
                nb = self.readbit()
                if b and nb:
                    return found  # nobody answered: a device left the bus mid-search
                if not b and not nb:  # devices differ at this bit
                    n = i + 1
                    if n < last_fork:
                        b = (rom[i >> 3] >> (i & 7)) & 1
                    else:
                        b = 1 if n == last_fork else 0
                    if not b:
                        fork = n
                self.writebit(b)
                if b:
                    rom[i >> 3] |= 1 << (i & 7)
                else:
                    rom[i >> 3] &= ~(1 << (i & 7)) & 0xFF
            found.append(bytearray(rom))
            last_fork = fork
            if not last_fork:
                break
        return found

    def crc8(self, data):
        return maxim_crc8(data)
