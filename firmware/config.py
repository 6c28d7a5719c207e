"""The board's config.json: one schema, with defaults, checked before anything transmits.

docs/firmware.md lists every key. A missing or invalid config raises
ConfigError naming the key and what is wrong; the node then never transmits
(firmware/app.py blinks and stays at the REPL). A gateway board needs no
session keys and no sensors: for role "gateway" they may be left out.
"""

import json


class ConfigError(ValueError):
    """config.json is missing or invalid; the message says which key and how to fix it."""


# key: (kind, default, lowest, highest). kind: "int", "bool", "hex4" (4-byte hex
# string), "hex8" (an EUI), "hex16" (16-byte key), "str", "list", "dict". A
# default of None marks a required key; "" a key needed only in some cases.
_TOP = {
    "role": ("str", None, 0, 0),
    "board": ("str", None, 0, 0),
    "activation": ("str", "abp", 0, 0),
    "dev_addr": ("hex4", "", 0, 0),  # abp
    "nwk_skey": ("hex16", "", 0, 0),
    "app_skey": ("hex16", "", 0, 0),
    "dev_eui": ("hex8", "", 0, 0),  # otaa
    "join_eui": ("hex8", "", 0, 0),
    "app_key": ("hex16", "", 0, 0),
    "adr": ("bool", "", 0, 0),  # default: on for otaa; off for abp, whose farms' gateways cannot answer
    "confirmed": ("bool", False, 0, 0),
    "survey": ("bool", False, 0, 0),  # a LinkCheckReq per data rate at each wake-up (firmware/lorawan/survey.py)
    "radio": ("dict", {}, 0, 0),
    "interval_s": ("int", 900, 60, 86400),
    "samples_per_uplink": ("int", 1, 1, 8),
    "status_interval_s": ("int", 86400, 3600, 604800),
    "low_battery_v": ("float", 3.3, 2.0, 4.5),
    "sensors": ("dict", {}, 0, 0),
}
_RADIO = {
    "channels_khz": ("list", [868100, 868300, 868500], 863000, 870000),
    "sf": ("int", 9, 7, 12),
    "bw_khz": ("int", 125, 125, 500),
    "tx_power_dbm": ("int", 14, 0, 22),
    "sync_word": ("int", 0x34, 0, 255),
    # An ABP session's receive windows (an OTAA node learns them from its JoinAccept).
    "rx_delay_s": ("int", 1, 1, 15),
    "rx2_khz": ("int", 869525, 863000, 870000),
    "rx2_sf": ("int", 12, 7, 12),
}
_SENSORS = {
    "soil_moisture": ("list", [], 0, 4),  # one {"dry": raw, "wet": raw} per probe, on board soil_adc[i]
    "soil_temp": ("int", 0, 0, 4),  # DS18B20 probes on the board's 1-Wire pin
    "air": ("str", "", 0, 0),  # "", "sht4x" or "sht3x"
    "traps": ("int", 0, 0, 2),
    "battery": ("bool", True, 0, 0),
}
ROLES = ("node", "gateway")
AIR_SENSORS = ("", "sht4x", "sht3x")


def _hex(value, nbytes, where):
    if type(value) is not str or len(value) != 2 * nbytes:
        raise ConfigError("config: %s must be %d hex digits" % (where, 2 * nbytes)) from None
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ConfigError("config: %s must be %d hex digits" % (where, 2 * nbytes)) from None


def _check(section, table, prefix):
    """Return a copy of section with defaults filled in; raise ConfigError on anything wrong."""
    if type(section) is not dict:
        raise ConfigError("config: %s must be an object" % (prefix or "the file"))
    for key in section:
        if key not in table:
            raise ConfigError("config: unknown key %s%s (a typo?)" % (prefix + "." if prefix else "", key))
    out = {}
    for key in table:
        kind, default, lo, hi = table[key]
        where = prefix + "." + key if prefix else key
        if key not in section:
            if default is None:
                raise ConfigError("config: %s is required" % where)
            out[key] = default
            continue
        v = section[key]
        if kind == "int" or kind == "float":
            ok = type(v) is int or (kind == "float" and type(v) is float)
            if not ok or v < lo or v > hi:
                raise ConfigError("config: %s = %r must be a number in %s..%s" % (where, v, lo, hi))
        elif kind == "bool":
            if type(v) is not bool:
                raise ConfigError("config: %s must be true or false" % where)
        elif kind == "str":
            if type(v) is not str:
                raise ConfigError("config: %s must be a string" % where)
        elif kind == "hex4":
            v = int.from_bytes(_hex(v, 4, where), "big")
        elif kind == "hex8":
            v = _hex(v, 8, where)
        elif kind == "hex16":
            v = _hex(v, 16, where)
        elif kind == "list":
            if type(v) is not list:
                raise ConfigError("config: %s must be a list" % where)
        out[key] = v
    return out


_SESSION = {"abp": ("dev_addr", "nwk_skey", "app_skey"), "otaa": ("dev_eui", "join_eui", "app_key")}


def validate(raw):
    """Check a parsed config.json; return it with defaults filled in and keys as bytes.

    A node's activation says which keys it needs: "abp" dev_addr, nwk_skey and
    app_skey; "otaa" dev_eui, join_eui and app_key. A gateway needs none. Keys
    not needed and not given are absent from the result.
    """
    cfg = _check(raw, _TOP, "")
    if cfg["role"] not in ROLES:
        raise ConfigError("config: role must be node or gateway, not %r" % cfg["role"])
    if cfg["activation"] not in _SESSION:
        raise ConfigError('config: activation must be "otaa" or "abp", not %r' % cfg["activation"])
    needed = _SESSION[cfg["activation"]] if cfg["role"] == "node" else ()
    for key in _SESSION["abp"] + _SESSION["otaa"]:
        if key in raw:
            continue
        if key in needed:
            raise ConfigError("config: %s is required for %s activation" % (key, cfg["activation"]))
        del cfg[key]
    if "adr" not in raw:
        cfg["adr"] = cfg["activation"] == "otaa"
    cfg["radio"] = radio = _check(cfg["radio"], _RADIO, "radio")
    channels = radio["channels_khz"]
    if not channels or len(channels) > 16:
        raise ConfigError("config: radio.channels_khz must list 1..16 frequencies")
    for f in channels:
        if type(f) is not int or f < 863000 or f > 870000:
            raise ConfigError("config: radio.channels_khz entry %r must be kHz in 863000..870000 (EU868)" % (f,))
    if radio["bw_khz"] not in (125, 250, 500):
        raise ConfigError("config: radio.bw_khz must be 125, 250 or 500")
    cfg["sensors"] = sensors = _check(cfg["sensors"], _SENSORS, "sensors")
    probes = sensors["soil_moisture"]
    if len(probes) > 4:
        raise ConfigError("config: sensors.soil_moisture lists %d probes, at most 4" % len(probes))
    for i in range(len(probes)):
        cal = _check(probes[i], {"dry": ("int", None, 0, 65535), "wet": ("int", None, 0, 65535)}, "soil_moisture")
        if cal["dry"] == cal["wet"]:
            raise ConfigError("config: sensors.soil_moisture[%d] has dry == wet: calibrate the probe again" % i)
        probes[i] = cal
    if sensors["air"] not in AIR_SENSORS:
        raise ConfigError('config: sensors.air must be "", "sht4x" or "sht3x", not %r' % sensors["air"])
    return cfg


def load(path):
    """Read and validate config.json at path."""
    try:
        with open(path) as f:
            raw = json.load(f)
    except OSError:
        raise ConfigError("config: %s is missing: deploy it with akker deploy" % path) from None
    except ValueError:
        raise ConfigError("config: %s is not valid JSON: deploy it again" % path) from None
    return validate(raw)
