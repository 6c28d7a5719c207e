"""payload_codec/js/device-repository/: The Things Network's device-repository entry for the Akker node.

tests/js/device_repository.js validates it as the lorawan-devices repository does (its schemas, kept in
tests/js/lorawan-devices/, its rules beside them) and runs every codec example the way The Things Stack
runs a formatter: a fresh context per call, the output compared exactly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
JS_DIR = ROOT / "tests" / "js"
ENTRY = ROOT / "payload_codec" / "js" / "device-repository"


def validate(root: Path = ENTRY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", str(JS_DIR / "device_repository.js"), "--root", str(root)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def broken_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "device-repository"
    shutil.copytree(ENTRY, copy, symlinks=False)  # the formatter link becomes a copy of decoder.js
    return copy


def test_the_entry_passes_the_device_repositorys_validation() -> None:
    out = validate()
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    summary = out.stdout.strip().splitlines()[-1]
    assert summary.startswith(tuple(f"{n} ok, 0 failed" for n in range(30, 100))), summary
    codec = yaml.safe_load((ENTRY / "vendor/akker/field-node-codec.yaml").read_text())
    shown = sum(len(codec[s]["examples"]) for s in ("uplinkDecoder", "downlinkEncoder", "downlinkDecoder"))
    assert shown >= 10 and out.stdout.count("output equal") == shown
    assert out.stdout.count("normalizeUplink(output) equal") == sum(
        1 for e in codec["uplinkDecoder"]["examples"] if "normalizedOutput" in e
    )


def test_the_formatter_in_the_entry_is_the_projects_codec() -> None:
    formatter = ENTRY / "vendor/akker/field-node.js"
    assert formatter.resolve() == (ROOT / "payload_codec/js/decoder.js").resolve()


def test_an_example_the_formatter_does_not_give_fails(tmp_path: Path) -> None:
    copy = broken_copy(tmp_path)
    codec_file = copy / "vendor/akker/field-node-codec.yaml"
    codec = yaml.safe_load(codec_file.read_text())
    codec["uplinkDecoder"]["examples"][0]["output"]["data"]["samples"][0]["battery_v"] = 3.9
    codec_file.write_text(yaml.safe_dump(codec, sort_keys=False))
    out = validate(copy)
    assert out.returncode == 1 and "output differs" in out.stdout


def test_a_device_named_after_its_vendor_fails(tmp_path: Path) -> None:
    copy = broken_copy(tmp_path)
    device = copy / "vendor/akker/field-node.yaml"
    device.write_text(device.read_text().replace("name: Field Node", "name: Akker Field Node"))
    out = validate(copy)
    assert out.returncode == 1 and "FAIL" in out.stdout


def test_normalized_measurements_carry_their_time_when_the_network_gives_recv_time() -> None:
    # The Things Stack and ChirpStack give decodeUplink the reception time: each batched sample gets its
    # own, and normalizeUplink passes it on; without it (the repository's examples) there is none.
    script = """
    var c = require(DECODER);
    var bytes = [160, 199, 8, 142, 200, 141, 84, 128, 117, 39, 8, 45, 33, 65, 128, 21, 93, 162, 181, 67, 166,
                 34, 200, 86, 108];
    // ChirpStack v4's input shape: bytes, fPort, recvTime and the device's variables.
    var up = c.decodeUplink({fPort: 1, bytes: bytes, recvTime: new Date("2026-06-01T06:00:00Z"), variables: {}});
    var bare = c.decodeUplink({fPort: 1, bytes: bytes});
    console.log(JSON.stringify([c.normalizeUplink({data: up.data}).data, bare.data.samples[0].time]));
    """.replace("DECODER", json.dumps(str(ROOT / "payload_codec/js/decoder.js")))
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    measurements, bare_time = json.loads(out.stdout)
    assert [m["time"] for m in measurements] == [
        "2026-06-01T05:15:00.000Z",
        "2026-06-01T05:30:00.000Z",
        "2026-06-01T05:45:00.000Z",
        "2026-06-01T06:00:00.000Z",
    ]
    assert measurements[0]["soil"] == {"moisture": 23.4, "temperature": 12.3} and bare_time is None
