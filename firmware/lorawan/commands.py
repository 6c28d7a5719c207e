"""Commands from the farm office (FPorts 20..25, payload_codec/commands.py), applied by the node.

A command is persisted (in state.settings, on flash with the downlink's
FCntDown) before it takes effect, and confirmed in the next status message:
the status carries how many commands were applied and the last one
(docs/payload-format.md, "FPort 2: status"). set_interval, set_batch and
set_calibration change settings that firmware/node.py lays over config.json
from the next wake-up on; a new config.json deployed later clears them.
"""

from payload_codec.commands import decode


def apply(node, fport, payload):
    st = node.state
    try:
        command = decode(fport, payload)
    except ValueError as err:
        st.dl_errors += 1
        node.log.write("command dropped: %s" % err)
        return
    name = command["cmd"]
    settings = st.settings
    settings["crc"] = node.config_crc
    if name == "set_interval":
        settings["interval_s"] = command["seconds"]
    elif name == "set_batch":
        settings["samples_per_uplink"] = command["samples"]
    elif name == "set_calibration":
        probes = node.cfg["sensors"]["soil_moisture"]
        if command["probe"] >= len(probes) or command["dry"] == command["wet"]:
            st.dl_errors += 1
            node.log.write("command dropped: set_calibration: no probe %d fitted, or dry == wet" % command["probe"])
            return
        cal = settings.get("cal", {})
        cal[str(command["probe"])] = [command["dry"], command["wet"]]
        settings["cal"] = cal
    elif name == "reset_trap":
        st.traps[command["trap"]] = 0
    elif name == "reboot":
        node.reboot = True
    st.last_status_ms = -1  # every command is confirmed by a status; request_status asks for nothing else
    st.commands += 1
    st.last_command = "%02x%s" % (fport, payload.hex())
    node.log.write("command %d applied: %s" % (st.commands, name))
