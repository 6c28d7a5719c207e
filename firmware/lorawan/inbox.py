"""Downlinks kept by firmware/lorawan/downlink.py, applied at the next wake-up before its uplinks.

The MAC and command code loads into a heap that the sensors have left and the
encoders and the radio's code have not yet taken, and is unloaded again.
"""

from ..unload import unload

_MODULES = ("firmware.lorawan.mac", "payload_codec.mac_commands", "firmware.lorawan.commands", "payload_codec.commands")


def apply_inbox(node):
    st = node.state
    inbox = st.inbox
    st.inbox = []
    for mac, fport, payload, snr_db, uplink_end_ms in inbox:
        if mac:
            from .mac import apply

            apply(node, bytes.fromhex(mac), snr_db, uplink_end_ms)
        if fport:
            from .commands import apply as command

            command(node, fport, bytes.fromhex(payload))
    apply = command = None
    for name in _MODULES:
        unload(name)
    # Applied and gone from the inbox in one write: a command takes effect only once it is on flash.
    st.save_flash()
