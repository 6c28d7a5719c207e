"""Runs under MicroPython (`-m serial_link_check`): prints its frames as hex lines.

tests/payload_codec/test_serial_link.py imports the same inputs and compares with CPython."""

from binascii import hexlify

from payload_codec.serial_link import (
    ACK,
    PING,
    PONG,
    RX,
    FrameReader,
    decode_frame,
    encode_ack,
    encode_frame,
    encode_pong,
    encode_rx,
)

RX_PACKET = {
    "ticks_ms": 4294967295,
    "freq_khz": 868100,
    "sf": 12,
    "bw_khz": 125,
    "rssi_dbm": -121,
    "snr_db": -17.5,
    "crc_error": True,
    "phy": bytes(range(255)),
}


def frames():
    """The frames both runtimes must produce byte for byte."""
    return [
        encode_frame(RX, 65535, encode_rx(RX_PACKET)),
        encode_frame(PING, 0),
        encode_frame(PONG, 1, encode_pong((0, 1, 0), "heltec_v3")),
        encode_frame(PONG, 2, encode_pong((0, 1, 0), "sim", {"freq_khz": 868100, "sf": 9, "bw_khz": 125})),
        encode_frame(ACK, 3, encode_ack(1, True)),
    ]


def main():
    wire = frames()
    for f in wire:
        print(hexlify(f).decode())
    reader = FrameReader()
    got = reader.feed(b"REPL text\r\n>>> " + b"".join(wire))
    print(len(got), reader.damaged, reader.lost, decode_frame(wire[1][1:-1])[0])


if __name__ == "__main__":
    main()
