"""Runs under MicroPython (`-m join_check`): the device's side of a join with the note's vector V1.

Prints one JSON line: the JoinRequest it builds and what it reads from the JoinAccept, session keys included.
tests/payload_codec/test_lorawan_join.py compares it with the vector.
"""

import json

from payload_codec.lorawan_join import build_join_request, open_join_accept

APP_KEY = bytes.fromhex("B6B53F4A168A7A88BDF7EA135CE9CFCA")
ACCEPT = bytes.fromhex("204DD85AE608B87FC4889970B7D2042C9E72959B0057AED6094B16003DF12DE145")

req = build_join_request(bytes.fromhex("70B3D57ED00000DC"), bytes.fromhex("00AFEE7CF5ED6F1E"), 0xCC85, APP_KEY)
got = open_join_accept(ACCEPT, APP_KEY, 0xCC85)
got["nwk_skey"] = got["nwk_skey"].hex()
got["app_skey"] = got["app_skey"].hex()
got["request"] = req.hex()
print(json.dumps(got))
