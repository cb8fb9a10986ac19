#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (fuzz/corpus/<target>/): valid frames from the specifications and the
project's docs, and a few broken ones. Small files, checked in; rerun only to change the seeds:

    python3 fuzz/make_corpus.py        (from the repository root)

The encoders here are written from the documents, not from the C++ code, so the seeds are independent
of the codecs they exercise."""
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"


def write(target, name, data):
    d = ROOT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(bytes(data))


# --- Modbus TCP: the request/response examples of Modbus Application Protocol V1.1b3, section 6 -----------
def adu(pdu, transaction=1, unit=0x11, protocol=0, length=None):
    length = len(pdu) + 1 if length is None else length
    return struct.pack(">HHHB", transaction, protocol, length, unit) + bytes(pdu)


MODBUS = {
    "fc01_read_coils": ([0x01, 0x00, 0x13, 0x00, 0x13], [0x01, 0x03, 0xCD, 0x6B, 0x05]),
    "fc02_read_discrete_inputs": ([0x02, 0x00, 0xC4, 0x00, 0x16], [0x02, 0x03, 0xAC, 0xDB, 0x35]),
    "fc03_read_holding": ([0x03, 0x00, 0x6B, 0x00, 0x03], [0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64]),
    "fc04_read_input": ([0x04, 0x00, 0x08, 0x00, 0x01], [0x04, 0x02, 0x00, 0x0A]),
    "fc05_write_coil": ([0x05, 0x00, 0xAC, 0xFF, 0x00], [0x05, 0x00, 0xAC, 0xFF, 0x00]),
    "fc06_write_register": ([0x06, 0x00, 0x01, 0x00, 0x03], [0x06, 0x00, 0x01, 0x00, 0x03]),
    "fc15_write_coils": ([0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01], [0x0F, 0x00, 0x13, 0x00, 0x0A]),
    "fc16_write_registers": ([0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02],
                             [0x10, 0x00, 0x01, 0x00, 0x02]),
}
for name, (request, response) in MODBUS.items():
    write("modbus", name + "_request", adu(request))
    write("modbus", name + "_response", adu(response))
write("modbus", "exception_illegal_function", adu([0x81, 0x01]))
write("modbus", "back_to_back", adu(MODBUS["fc03_read_holding"][0], 1) + adu(MODBUS["fc06_write_register"][0], 2))
write("modbus", "broken_protocol_id", adu([0x03, 0x00, 0x00, 0x00, 0x01], protocol=1))
write("modbus", "broken_length", adu([0x03, 0x00, 0x00, 0x00, 0x01], length=0xFFFF))
write("modbus", "unservable_fc2b", adu([0x2B, 0x0E, 0x01, 0x00]))


# --- Wiegand frames: [bit count][value, 8 bytes big-endian][bit string] (see wiegand_fuzz.cpp) -----------
def frame(bits, text=""):
    value = int(bits, 2) if bits else 0
    return bytes([len(bits)]) + struct.pack(">Q", value) + text.encode()


W26 = "0" "00010010" "0011000000111001" "1"                  # H10301 facility 18 card 12345 (docs/wiegand.md)
W34 = "1" "0000010011010010" "1101110111010101" "0"          # W34 facility 1234 card 56789
write("wiegand", "w26_facility18_card12345", frame(W26, W26))
write("wiegand", "w34_facility1234_card56789", frame(W34, W34))
write("wiegand", "w26_misread_bit3", frame("00101001000110000001110011"))
write("wiegand", "w26_all_zero_data", frame("00000000000000000000000001", "0" * 64))
write("wiegand", "bits64", bytes([64]) + b"\xff" * 8 + b"1" * 64)
write("wiegand", "bits0_junk_text", bytes([0]) + b"\0" * 8 + b"01a")
write("wiegand", "bits200", bytes([200]) + b"\x80" + b"\0" * 7 + b"10")


# --- Wiegand TCP transport (docs/wiegand.md): CRC-16/IBM-3740 (CCITT-FALSE) ---------------------------------
def crc16(data):
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def message(kind, reader, sequence, timestamp, payload):
    body = b"WG" + bytes([1, kind]) + struct.pack(">HIqH", reader, sequence, timestamp, len(payload)) + payload
    return body + struct.pack(">H", crc16(body))


def card(bits):
    n = (len(bits) + 7) // 8
    return bytes([len(bits)]) + (int(bits, 2) << (8 * n - len(bits))).to_bytes(n, "big")


w26 = message(1, 1, 1, 1_500_000, card(W26))
write("wiegand_tcp", "card_w26", w26)
write("wiegand_tcp", "card_w34", message(1, 2, 7, 2_000_000, card(W34)))
write("wiegand_tcp", "card_64_bits", message(1, 1, 2, 0, card("1" * 64)))
write("wiegand_tcp", "card_1_bit", message(1, 1, 3, -5, card("1")))
write("wiegand_tcp", "keepalive", message(2, 1, 1, 2_500_000, b""))
write("wiegand_tcp", "status", message(3, 1, 0, 0, bytes([3, 0]) + struct.pack(">H", 1000)))
write("wiegand_tcp", "ack", message(4, 0, 9, -1, struct.pack(">I", 1)))
write("wiegand_tcp", "stream_status_card_keepalive",
      message(3, 1, 0, 0, bytes([3, 0, 0, 0])) + w26 + message(2, 1, 1, 3_000_000, b""))
write("wiegand_tcp", "broken_crc", w26[:-1] + bytes([w26[-1] ^ 1]))
write("wiegand_tcp", "broken_padding", message(1, 1, 1, 0, card(W26)[:-1] + b"\xC1"))
write("wiegand_tcp", "broken_length", w26[:18] + b"\xff\xff")
write("wiegand_tcp", "partial_header", w26[:12])


# --- RTSP/HTTP requests (the camera's codec): RFC 2326 examples, what FFmpeg and VLC send, HTTP GETs -------
RTSP_URL = "rtsp://127.0.0.1:8554/north-1"
write("rtsp", "rfc2326_options", b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nRequire: implicit-play\r\n"
      b"Proxy-Require: gzipped-messages\r\n\r\n")
write("rtsp", "rfc2326_setup_alternatives", b"SETUP rtsp://example.com/foo/bar/baz.rm RTSP/1.0\r\nCSeq: 302\r\n"
      b"Transport: RTP/AVP;multicast;ttl=127;mode=\"PLAY\",\r\n    RTP/AVP;unicast;client_port=3456-3457;mode=\"PLAY\"\r\n\r\n")
write("rtsp", "rfc2326_announce_body", b"ANNOUNCE rtsp://server.example.com/fizzle/foo RTSP/1.0\r\nCSeq: 312\r\n"
      b"Session: 47112344\r\nContent-Type: application/sdp\r\nContent-Length: 25\r\n\r\nv=0\r\no=mhandley 2890844\r\n")
write("rtsp", "ffmpeg_describe", f"DESCRIBE {RTSP_URL} RTSP/1.0\r\nAccept: application/sdp\r\nCSeq: 2\r\n"
      "User-Agent: Lavf59.27.100\r\n\r\n".encode())
write("rtsp", "ffmpeg_setup_tcp", f"SETUP {RTSP_URL}/track1 RTSP/1.0\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
      "CSeq: 3\r\nUser-Agent: Lavf59.27.100\r\n\r\n".encode())
write("rtsp", "ffmpeg_setup_udp", f"SETUP {RTSP_URL}/track1 RTSP/1.0\r\nTransport: RTP/AVP/UDP;unicast;client_port=5000-5001\r\n"
      "CSeq: 3\r\n\r\n".encode())
write("rtsp", "ffmpeg_play_digest", (f"PLAY {RTSP_URL}/ RTSP/1.0\r\nRange: npt=0.000-\r\nCSeq: 5\r\nSession: 0123456789abcdef\r\n"
      "Authorization: Digest username=\"admin\", realm=\"GateTwin camera\", nonce=\"5ccc069c403ebaf9f0171e9517f40e41\", "
      f"uri=\"{RTSP_URL}/\", response=\"6629fae49393a05397450978507c4ef1\"\r\n\r\n").encode())
rtcp_rr = bytes([0x81, 201, 0, 7]) + bytes(28)
write("rtsp", "interleaved_rtcp_then_keepalive", b"$\x01" + struct.pack(">H", len(rtcp_rr)) + rtcp_rr +
      f"GET_PARAMETER {RTSP_URL}/ RTSP/1.0\r\nCSeq: 6\r\nSession: 0123456789abcdef\r\n\r\n".encode())
write("rtsp", "http_get_mjpeg", b"GET /north-1.mjpg HTTP/1.1\r\nUser-Agent: Lavf/59.27.100\r\nAccept: */*\r\n"
      b"Range: bytes=0-\r\nConnection: close\r\nHost: 127.0.0.1:8555\r\nIcy-MetaData: 1\r\n\r\n")
write("rtsp", "http_get_qop_auth", b"GET /north-1.jpg HTTP/1.1\r\nHost: x\r\nAuthorization: Digest username=\"Mufasa\", "
      b"realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, "
      b"nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\"\r\n\r\n")
write("rtsp", "broken_content_length", b"PLAY rtsp://x/y RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n")
write("rtsp", "broken_folded_first_line", b"OPTIONS * RTSP/1.0\r\n  folded\r\nCSeq: 1\r\n\r\n")


# --- Scenario files: the project's own scenarios and loader test data, copied as they are -------------------
# Small ones only. Lines starting "#set " are --set overrides to scenario_fuzz (comments to YAML).
REPO = ROOT.parent.parent
SCENARIO_SEEDS = {
    "good_minimal": "tests/data/good/minimal.yaml",
    "good_two_gates": "tests/data/good/two_gates.yaml",
    "good_units": "tests/data/good/units.yaml",
    "good_custom_profile": "tests/data/good/custom_profile.yaml",
    "good_rich": "tests/data/good/rich.yaml",
    "jiaochangkou": "scenarios/jiaochangkou.yaml",
    "bad_four_errors": "tests/data/bad/four_errors.yaml",
    "bad_syntax_error": "tests/data/bad/syntax_error.yaml",
    "bad_empty": "tests/data/bad/empty.yaml",
    "bad_top_level_list": "tests/data/bad/top_level_list.yaml",
    "bad_duplicate_key": "tests/data/bad/duplicate_key.yaml",
    "bad_gate_not_mapping": "tests/data/bad/gate_not_mapping.yaml",
    "bad_custom_profile_short": "tests/data/bad/custom_profile_short.yaml",
    "bad_wrong_units": "tests/data/bad/wrong_units.yaml",
    "bad_duplicate_gate_names": "tests/data/bad/duplicate_gate_names.yaml",
    "bad_calibration_missing": "tests/data/bad/calibration_missing.yaml",
}
for name, path in SCENARIO_SEEDS.items():
    write("scenario", name, (REPO / path).read_bytes())
write("scenario", "set_overrides", b"name: overrides\ngates:\n  - name: east\n    lanes: 2\n"
      b"#set gates[1].lanes=3\n#set faults[0].device=camera\n#set faults[0].start=07:30\n"
      b"#set policy.fever_threshold=37.5 C\n#set arrivals.profile=flat\n")
write("scenario", "set_bad_overrides", b"name: bad overrides\n#set gates[5].lanes=2\n#set nosuch=1\n#set day.end\n"
      b"#set population.households=[1, 2]\n#set policy.mask={a: b\n")
write("scenario", "faults_hil", b"fidelity: hil\ngates:\n  - {name: a, lanes: 1}\nfaults:\n"
      b"  - {gate: a, lane: 2, device: thermal, mode: drift, value: 0.5, start: \"08:00\", duration: 10 min}\n")
# Found by scenario_fuzz: to_yaml quoted the first "  end: " it found, here inside the name.
write("scenario", "regress_name_with_clock_key", b'name: "a  end: b"\ndescription: "x  start: y"\n')

# --- Enrolment requests (gatectl enroll --request; docs/privacy.md) ---------------------------------------------
JPEG_B64 = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/"
def request(**over):
    import json as _json
    r = {"person": 17, "phone": "+86 138-0013-8017", "residence": "3号楼 2单元 401", "photo_base64": JPEG_B64,
         "consent": {"purposes": ["access"], "retention_days": 365, "notice": "biometric-notice-2020-06", "separate": True}}
    r.update(over)
    return _json.dumps(r, ensure_ascii=False).encode()
write("enrolment", "good", request())
write("enrolment", "good_no_person_two_purposes",
      request(person=None, consent={"purposes": ["movement_tracking", "access"], "retention_days": 30,
                                    "notice": "n", "separate": True}).replace(b'"person": null, ', b""))
write("enrolment", "bundled_consent", request(consent={"purposes": ["access"], "retention_days": 365, "notice": "n",
                                                       "separate": False}))
write("enrolment", "no_retention", request(consent={"purposes": ["access"], "notice": "n", "separate": True}))
write("enrolment", "png_photo", request(photo_base64="iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"))
write("enrolment", "bad_base64", request(photo_base64="@@@@"))
write("enrolment", "purposes_list", b"access,movement_tracking,police_linkage")
write("enrolment", "not_json", b"{\"phone\": ")
# Found by enrolment_fuzz: an unknown empty key gave an error with an empty field name.
write("enrolment", "regress_empty_key", b'{"":0}')
