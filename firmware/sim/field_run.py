"""One node of the field simulator: the real firmware on the sim board, on a farm, with a battery.

    micropython -m firmware.sim.field_run ROOT SEED NODE START_MS END_MS CHARGE DRIFT_PPM [--network]

(`akker sim --runtime cpython` imports run() instead.) ROOT holds the node's
config.json and flash. Prints one JSON line per event: "tx" for every frame
the radio sent (virtual time, frequency, SF, time on air, PHYPayload), "sample"
for the truth of every wake-up (what the sensors saw, the catches since the
previous wake-up, the battery), and "end" with the energy totals.

net (`akker sim` with OTAA nodes): a network in lockstep with the node
(gateway/sim/network_air.py): net.start(board, farm) once, net.wake(t) before
every wake-up and net.sent(record) after every transmission, where it may
queue a downlink for the node's receive windows. Under MicroPython, --network
makes it firmware/sim/stdio_net.py, which asks the host over stdin/stdout.
"""

import json
import sys

from firmware.sim.wake import wake

from .board import SimBoard
from .clock import SimClock
from .energy import Battery
from .farm import FarmField

_SHT = 0  # fault switches: FarmField.fault(t, sensor)
_DS18B20 = 1


def _probes(root):
    with open(root + "/config.json") as f:
        sensors = json.load(f).get("sensors", {})
    return len(sensors.get("soil_moisture", [])), sensors.get("soil_temp", 0), sensors.get("traps", 0)


def run(root, seed, node, start_ms, end_ms, charge, out, drift_ppm=0, net=None):
    n_soil, n_temp, n_traps = _probes(root)
    battery = Battery(charge)
    field = FarmField(seed, node, battery)
    # A node's clock starts at its power-on, as a board's does, and runs fast or slow by drift_ppm (an
    # ESP32's deep-sleep clock is an RC oscillator, off by up to a few percent): every node's slots
    # keep their own phase and drift past the others'. Times out are farm time.
    clock = SimClock(0)
    rate = 1.0 + drift_ppm / 1000000

    def farm(t):
        return start_ms + int(t * rate)

    end_ms = int((end_ms - start_ms) / rate)
    board = SimBoard(root, clock, field)
    modem = board.modem()
    modem.keep_sent = False
    tx = [0]

    def sent(record):
        tx[0] += record["airtime_us"]
        out({"kind": "tx", "node": node, "t_ms": farm(record["time_ms"]), "freq_khz": record["freq_khz"],
             "sf": record["sf"], "bw_khz": record["bw_khz"], "airtime_us": record["airtime_us"],
             "tx_power_dbm": modem.cfg.get("output_power", 14),
             "phy": "".join("%02x" % b for b in record["payload"])})  # fmt: skip
        if net:
            net.sent(record)

    modem.on_send = sent
    if net:
        net.start(board, farm)
    last = 0
    awake_total = 0
    tx_total = 0
    while clock.time_ms() < end_ms:
        t = clock.time_ms()
        if net:
            net.wake(farm(t))
        board.sht_nack = field.fault(t, _SHT)
        board.absent_probes = (0,) if field.fault(t, _DS18B20) else ()
        temp, rh = field.air(t)
        out({"kind": "sample", "node": node, "t_ms": farm(t),
             "soil_moisture_pct": [field.soil_moisture_pct(t, i) for i in range(n_soil)],
             "soil_temp_c": [field.soil_temp_c(t, i) for i in range(n_temp)],
             "air_temp_c": temp, "air_rh_pct": rh,
             "catches": [field.catches(last, t, i) for i in range(n_traps)],
             "battery_v": battery.voltage(),
             "faults": [board.sht_nack, bool(n_temp and 0 in board.absent_probes)]})  # fmt: skip
        last = t
        tx[0] = 0
        modem.rx_ms = modem.wait_ms = 0
        modem.last_end = None
        sleep_ms = wake(board)
        if sleep_ms is None:
            break  # no valid config or maintenance: the node stays awake at its REPL
        if board.cause == "soft":
            sleep_ms = 0  # it reset (a reboot command) instead of sleeping: the next wake-up is at once
        awake_ms = clock.time_ms() - t - sleep_ms
        battery.spend(awake_ms, tx[0] // 1000, sleep_ms, modem.wait_ms, modem.rx_ms)
        awake_total += awake_ms
        tx_total += tx[0] // 1000
    out({"kind": "end", "node": node, "t_ms": farm(clock.time_ms()), "used_mah": battery.used_mah,
         "battery_v": battery.voltage(), "charge": battery.charge(), "awake_ms": awake_total,
         "tx_ms": tx_total})  # fmt: skip


def _print(event):
    print(json.dumps(event))


if __name__ == "__main__":
    a = sys.argv[1:]
    net = None
    if "--network" in a:
        from .stdio_net import StdioNet

        net = StdioNet()
    run(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]), float(a[5]), _print, int(a[6]), net)
