"""A field survey read off the node, judged per data rate: can the network hear the node from here?

The node measures (firmware/lorawan/survey.py: a LinkCheckReq at each data
rate, DR5 to DR0, written to survey.json); this module reads the rows through
the raw REPL and judges each by the margin the network reported: at least
10 dB is good (the installation margin ChirpStack's ADR keeps), 5 to 10 dB
marginal (rain, a growing crop or a wet canopy can take it), under 5 dB too
weak. `akker check --port PORT --survey` prints the table.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.workshop.device import Device, DeviceError

SHOW = "from firmware.lorawan.survey import show; show()"
GOOD_DB = 10
MARGINAL_DB = 5


class SurveyError(DeviceError):
    """The board answered without survey rows; the message says what to do."""


def verdict(row: dict[str, Any]) -> str:
    if not row.get("sent"):
        return "not sent: the radio failed (see the node's log)"
    margin = row.get("margin_db")
    if margin is None:
        return "no answer: no gateway heard it, or the network did not answer"
    if margin >= GOOD_DB:
        return "good"
    if margin >= MARGINAL_DB:
        return "marginal"
    return "too weak"


def read(dev: Device) -> list[dict[str, Any]]:
    try:
        rows = json.loads(dev.exec(SHOW).strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SurveyError(f"the board on {dev.port} gave no survey rows: deploy this akker's firmware") from None
    except DeviceError as err:
        if "survey" in str(err) or "lorawan" in str(err):
            raise SurveyError(
                f"the firmware on {dev.port} has no survey (firmware.lorawan.survey): deploy this akker's firmware"
            ) from None
        raise
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "dr" in r for r in rows):
        raise SurveyError(f"the survey file on {dev.port} is damaged: run the survey again")
    return rows


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["DR  SF    margin  gateways  verdict"]
    for r in rows:
        margin = "-" if r.get("margin_db") is None else f"{r['margin_db']} dB"
        lines.append(f"DR{r['dr']} SF{r.get('sf', 12 - r['dr']):<3} {margin:>7}  {r.get('gw_cnt', 0):>8}  {verdict(r)}")
    return lines
