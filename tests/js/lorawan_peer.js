// The npm package lora-packet as an independent LoRaWAN 1.0.x peer for tests/test_lorawan_peer.py.
// JSON lines in, JSON lines out:
//   {"op": "open", "phy": hex, "nwk": hex, "app": hex, "fcnt": full 32-bit counter}
//     -> {"mic_ok": bool, "mtype", "dev_addr": hex (big-endian), "fcnt16", "fport", "fopts": hex, "fctrl": int,
//         "plaintext": hex}
//   {"op": "build", "mtype": "Unconfirmed Data Up"..., "dev_addr": hex, "fcnt": int, "fport": int,
//    "payload": hex, "fopts": hex, "adr": bool, "ack": bool, "fpending": bool, "nwk": hex, "app": hex} -> {"phy": hex}
//   {"op": "bench", "phy": [hex...], "nwk", "app", "seconds"} -> {"frames_per_s": n}
//   {"op": "join_request", "join_eui": hex, "dev_eui": hex (both as written), "dev_nonce": int, "app_key": hex}
//     -> {"phy": hex}
//   {"op": "open_join_request", "phy": hex, "app_key": hex} -> {"mic_ok", "join_eui", "dev_eui", "dev_nonce"}
//   {"op": "join_accept", "app_key", "join_nonce": int, "net_id": int, "dev_addr": hex (big-endian),
//    "dl_settings": int, "rx_delay": int, "cflist": hex ("" for none)} -> {"phy": hex}
//   {"op": "open_join_accept", "phy", "app_key", "dev_nonce": int} -> {"mic_ok", "join_nonce", "net_id",
//    "dev_addr", "dl_settings", "rx_delay", "cflist", "nwk_skey", "app_skey"}
// Anything lora-packet throws comes back as {"error": message}.
"use strict";
const readline = require("readline");
const lora = require("lora-packet");

// lora-packet takes the upper 16 bits of a 32-bit FCnt as the two bytes that follow FCnt in B0/A_i:
// little-endian, as they would travel.
function msb(fcnt) {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(Math.floor(fcnt / 65536), 0);
  return b;
}

function open(req) {
  const packet = lora.fromWire(Buffer.from(req.phy, "hex"));
  const nwk = Buffer.from(req.nwk, "hex");
  const app = Buffer.from(req.app, "hex");
  return {
    mic_ok: lora.verifyMIC(packet, nwk, undefined, msb(req.fcnt)),
    mtype: packet.getMType(),
    dev_addr: packet.DevAddr.toString("hex"),
    fcnt16: packet.getFCnt(),
    fport: packet.getFPort(),
    fopts: packet.FOpts ? packet.FOpts.toString("hex") : "",
    fctrl: packet.FCtrl ? packet.FCtrl[0] : null,
    plaintext: lora.decrypt(packet, app, nwk, msb(req.fcnt)).toString("hex"),
  };
}

function build(req) {
  const fcnt16 = Buffer.alloc(2);
  fcnt16.writeUInt16BE(req.fcnt % 65536, 0); // a number 0 would be dropped as "absent"
  const packet = lora.fromFields(
    {
      MType: req.mtype,
      DevAddr: Buffer.from(req.dev_addr, "hex"),
      FCtrl: { ADR: !!req.adr, ACK: !!req.ack, ADRACKReq: false, FPending: !!req.fpending },
      FCnt: fcnt16,
      FPort: req.fport === null ? undefined : req.fport, // null would put an FPort 0 byte on the air
      FOpts: Buffer.from(req.fopts || "", "hex"),
      payload: Buffer.from(req.payload, "hex"),
    },
    Buffer.from(req.app, "hex"),
    Buffer.from(req.nwk, "hex"),
    undefined,
    msb(req.fcnt)
  );
  if (req.fport === null) {
    // fromFields computes the MIC only when there is an FPort; without one it leaves EEEEEEEE.
    lora.recalculateMIC(packet, Buffer.from(req.nwk, "hex"), undefined, msb(req.fcnt));
  }
  return { phy: packet.getPHYPayload().toString("hex") };
}

function bench(req) {
  const frames = req.phy.map((h) => Buffer.from(h, "hex"));
  const nwk = Buffer.from(req.nwk, "hex");
  const app = Buffer.from(req.app, "hex");
  const zero = msb(0);
  let n = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(req.seconds * 1e9));
  while (process.hrtime.bigint() - start < limit) {
    for (const f of frames) {
      const packet = lora.fromWire(f);
      if (!lora.verifyMIC(packet, nwk, undefined, zero)) throw new Error("MIC check failed in bench");
      lora.decrypt(packet, app, nwk, zero);
      n += 1;
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { frames_per_s: n / seconds };
}

// lora-packet shows EUIs, nonces and NetID big-endian and reverses them on the wire, as we do with EUIs.
function be(n, bytes) {
  return Buffer.from(n.toString(16).padStart(2 * bytes, "0"), "hex");
}

function joinRequest(req) {
  const packet = lora.fromFields(
    {
      MType: "Join Request",
      AppEUI: Buffer.from(req.join_eui, "hex"),
      DevEUI: Buffer.from(req.dev_eui, "hex"),
      DevNonce: be(req.dev_nonce, 2),
    },
    undefined,
    undefined,
    Buffer.from(req.app_key, "hex")
  );
  return { phy: packet.getPHYPayload().toString("hex") };
}

function openJoinRequest(req) {
  const packet = lora.fromWire(Buffer.from(req.phy, "hex"));
  return {
    mic_ok: lora.verifyMIC(packet, undefined, Buffer.from(req.app_key, "hex")),
    join_eui: packet.AppEUI.toString("hex"),
    dev_eui: packet.DevEUI.toString("hex"),
    dev_nonce: packet.DevNonce.readUInt16BE(0),
  };
}

function joinAccept(req) {
  const packet = lora.fromFields(
    {
      MType: "Join Accept",
      AppNonce: be(req.join_nonce, 3),
      NetID: be(req.net_id, 3),
      DevAddr: Buffer.from(req.dev_addr, "hex"),
      DLSettings: Buffer.from([req.dl_settings]), // a Buffer: lora-packet drops a number 0 as absent
      RxDelay: Buffer.from([req.rx_delay]),
      CFList: Buffer.from(req.cflist, "hex"),
    },
    undefined,
    undefined,
    Buffer.from(req.app_key, "hex")
  );
  return { phy: packet.getPHYPayload().toString("hex") };
}

function openJoinAccept(req) {
  const appKey = Buffer.from(req.app_key, "hex");
  const packet = lora.fromWire(lora.decryptJoinAccept(lora.fromWire(Buffer.from(req.phy, "hex")), appKey));
  const keys = lora.generateSessionKeys10(appKey, packet.NetID, packet.AppNonce, be(req.dev_nonce, 2));
  return {
    mic_ok: lora.verifyMIC(packet, undefined, appKey),
    join_nonce: packet.AppNonce.readUIntBE(0, 3),
    net_id: packet.NetID.readUIntBE(0, 3),
    dev_addr: packet.DevAddr.toString("hex"),
    dl_settings: packet.DLSettings.readUInt8(0),
    rx_delay: packet.RxDelay.readUInt8(0),
    cflist: packet.CFList.toString("hex"),
    nwk_skey: keys.NwkSKey.toString("hex"),
    app_skey: keys.AppSKey.toString("hex"),
  };
}

const ops = {
  open: open,
  build: build,
  bench: bench,
  join_request: joinRequest,
  open_join_request: openJoinRequest,
  join_accept: joinAccept,
  open_join_accept: openJoinAccept,
};
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  let answer;
  try {
    const req = JSON.parse(line);
    answer = ops[req.op](req);
  } catch (err) {
    answer = { error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
