"""Our frames against lora-packet, an independent LoRaWAN implementation, in both directions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payload_codec.lorawan import build_downlink, build_uplink, open_downlink, open_uplink
from tests.lora_packet_peer import LoraPacketPeer

PEER_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def peer() -> Iterator[LoraPacketPeer]:
    p = LoraPacketPeer()
    yield p
    p.close()


@st.composite
def frames(draw: st.DrawFn) -> dict[str, Any]:
    fport = draw(st.one_of(st.integers(1, 223), st.just(0)))
    return {
        "uplink": draw(st.booleans()),
        "dev_addr": draw(st.integers(0, 2**32 - 1)),
        "fcnt": draw(st.one_of(st.integers(0, 70000), st.integers(0, 2**32 - 1))),
        "fport": fport,
        "payload": draw(st.binary(max_size=51)),
        "fopts": b"" if fport == 0 else draw(st.binary(max_size=15)),
        "nwk_skey": draw(st.binary(min_size=16, max_size=16)),
        "app_skey": draw(st.binary(min_size=16, max_size=16)),
        "confirmed": draw(st.booleans()),
        "adr": draw(st.booleans()),
    }


def mtype(f: dict[str, Any]) -> str:
    return ("Confirmed" if f["confirmed"] else "Unconfirmed") + " Data " + ("Up" if f["uplink"] else "Down")


@PEER_SETTINGS
@given(frames())
def test_lora_packet_opens_our_frames(peer: LoraPacketPeer, f: dict[str, Any]) -> None:
    build = build_uplink if f["uplink"] else build_downlink
    args = {
        k: f[k] for k in ("dev_addr", "fcnt", "fport", "payload", "nwk_skey", "app_skey", "confirmed", "adr", "fopts")
    }
    phy = build(**args)
    seen = peer.ask(
        {"op": "open", "phy": phy.hex(), "nwk": f["nwk_skey"].hex(), "app": f["app_skey"].hex(), "fcnt": f["fcnt"]}
    )
    assert seen == {
        "mic_ok": True,
        "mtype": mtype(f),
        "dev_addr": f"{f['dev_addr']:08x}",
        "fcnt16": f["fcnt"] & 0xFFFF,
        "fport": f["fport"],
        "fopts": f["fopts"].hex(),
        "fctrl": (0x80 if f["adr"] else 0) | len(f["fopts"]),
        "plaintext": f["payload"].hex(),
    }


@PEER_SETTINGS
@given(frames())
def test_we_open_lora_packet_frames(peer: LoraPacketPeer, f: dict[str, Any]) -> None:
    built = peer.ask(
        {
            "op": "build",
            "mtype": mtype(f),
            "dev_addr": f"{f['dev_addr']:08x}",
            "fcnt": f["fcnt"],
            "fport": f["fport"],
            "payload": f["payload"].hex(),
            "fopts": f["fopts"].hex(),
            "adr": f["adr"],
            "nwk": f["nwk_skey"].hex(),
            "app": f["app_skey"].hex(),
        }
    )
    assert "phy" in built, built
    open_frame = open_uplink if f["uplink"] else open_downlink
    last = f["fcnt"] - 1 if f["fcnt"] else None
    fcnt, fport, plaintext = open_frame(bytes.fromhex(built["phy"]), f["nwk_skey"], f["app_skey"], last_fcnt=last)
    assert (fcnt, fport, plaintext) == (f["fcnt"], f["fport"], f["payload"])
