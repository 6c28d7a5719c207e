"""Deploying the firmware to a board: which files go where, what changed, and an order that is safe to break off.

Order (docs/workshop.md): the maintenance flag first, then every changed file,
each verified by its sha256 read back from the board, stale files of an earlier
deploy removed, the manifest written, and the flag removed last. A deploy
broken off anywhere leaves the flag, so the board boots into the maintenance
REPL (firmware/device/main.py checks it before importing any firmware), never
into half-old, half-new modules.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.workshop import mpy_build
from gateway.workshop.device import Device, DeviceError

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
MANIFEST = "/akker.json"  # what the last complete deploy put on the board: path -> sha256
FLAG = "/maintenance"
LIB = "/lib"
_CHUNK = 1024  # bytes per raw-REPL write: a quarter of mpremote's round trips, small enough for any board

# micropython-lib's LoRa driver packages each radio chip needs (installed with mip into /lib).
LORA_PACKAGES = {"sx1262": ("lora", "lora-sync", "lora-sx126x"), "sx1276": ("lora", "lora-sync", "lora-sx127x")}


@dataclass(frozen=True)
class DeployFile:
    remote: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def plan(
    board: dict[str, object], config: bytes, build: Path, lora: dict[str, bytes] | None = None
) -> list[DeployFile]:
    """Every file the board gets, in the order they are copied (config last: it makes the node transmit).

    lora: the LoRa drivers, path below /lib -> content (gateway/workshop/lora_cache.py); a real board needs them.
    """
    board_id = str(board["id"])
    sim = board_id == "sim"
    files: list[DeployFile] = []
    for mpy in sorted(build.rglob("*.mpy")):
        rel = mpy.relative_to(build)
        if rel.parts[0] not in ("firmware", "payload_codec") or rel.parts[:2] == ("firmware", "device"):
            continue
        if rel.parts[:2] == ("firmware", "sim") and not sim:
            continue  # the simulated hardware stays on the desktop
        files.append(DeployFile(f"{LIB}/{rel.as_posix()}", mpy.read_bytes()))
    if not sim:
        if not lora:
            raise ValueError("a real board needs the LoRa drivers")
        for path in sorted(lora):
            files.append(DeployFile(f"{LIB}/{path}", lora[path]))
    files.append(DeployFile("/boot.py", (FIRMWARE / "device" / "boot.py").read_bytes()))
    files.append(DeployFile("/main.py", (FIRMWARE / "device" / "main.py").read_bytes()))
    files.append(DeployFile(f"/boards/{board_id}.json", json.dumps(board, indent=1).encode() + b"\n"))
    files.append(DeployFile("/config.json", config))
    return files


def build_firmware() -> tempfile.TemporaryDirectory[str]:
    """Compile firmware/ and payload_codec/ with mpy-cross into a temporary folder (as `.name`)."""
    tmp = tempfile.TemporaryDirectory(prefix="akker-deploy-")
    mpy_build.build(Path(tmp.name))
    return tmp


@dataclass
class Report:
    copied: list[str]
    unchanged: list[str]
    removed: list[str]


def _dirs(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def remote_sha256(dev: Device, path: str) -> str | None:
    try:
        return dev.transport.fs_hashfile(path, "sha256").hex()
    except OSError:
        return None


def progress_line(n: int, total: int, f: DeployFile) -> str:
    """One copied file, as the technician's terminal and a log both show it: "  [3/12] /lib/lora/modem.mpy 4.1 kB"."""
    return f"  [{n}/{total}] {f.remote} {len(f.data) / 1000:.1f} kB"


def deploy(dev: Device, files: list[DeployFile], progress: Callable[[str], None] = print) -> Report:
    """Copy what differs, verify it, remove what an earlier deploy left and this one does not have.

    progress gets one line per file copied, after its sha256 is read back (progress_line)."""
    t = dev.transport
    old: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        old = dict(json.loads(t.fs_readfile(MANIFEST)))["files"]
    report = Report([], [], [])
    # Compared first, so that each progress line can say how many copies are left.
    changed = [f for f in files if remote_sha256(dev, f.remote) != f.sha256]
    copying = {f.remote for f in changed}
    report.unchanged.extend(f.remote for f in files if f.remote not in copying)
    t.fs_writefile(FLAG, b"deploy in progress\n")  # from here on, an interrupted deploy boots into maintenance
    made: set[str] = set()
    for n, f in enumerate(changed, 1):
        for d in _dirs(f.remote):
            if d not in made:
                with contextlib.suppress(OSError):  # it exists
                    t.fs_mkdir(d)
                made.add(d)
        t.fs_writefile(f.remote, f.data, chunk_size=_CHUNK)
        got = remote_sha256(dev, f.remote)
        if got != f.sha256:
            raise DeviceError(
                f"{f.remote} did not arrive intact on {dev.port} (sha256 {got or 'missing'}): check the cable, "
                "then deploy again; the board stays in maintenance until a deploy completes"
            )
        report.copied.append(f.remote)
        progress(progress_line(n, len(changed), f))
    wanted = {f.remote for f in files}
    for path in sorted(set(old) - wanted):
        try:
            t.fs_rmfile(path)
            report.removed.append(path)
        except OSError:
            pass
    manifest = {"files": {f.remote: f.sha256 for f in files}}
    t.fs_writefile(MANIFEST, json.dumps(manifest, indent=0).encode())
    t.fs_rmfile(FLAG)  # last: the board runs the new firmware only once all of it is there
    return report
