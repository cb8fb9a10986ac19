-- Wireshark/tshark dissector for the GateTwin Wiegand TCP transport (docs/wiegand.md, "The TCP transport"):
-- card events, keepalives, status and acks between an access controller and its host.
--
--   tshark -X lua_script:tools/wireshark/wiegand_tcp.lua -d tcp.port==PORT,wgtcp -r capture.pcap
--   (Wireshark: copy to the personal plugins folder, then Decode As... WGTCP on the reader's port)
--
-- Messages are reassembled across TCP segments. A field the transport does not allow (magic, version,
-- type, payload length, card bit count, padding, reserved bits) or a bad CRC raises an expert item of
-- severity error, so `_ws.expert.severity == error` finds every broken message.
local wgtcp = Proto("wgtcp", "GateTwin Wiegand TCP")

local HEADER, CRC = 20, 2
local types = { [1] = "card", [2] = "keepalive", [3] = "status", [4] = "ack" }
local payload_bounds = { [1] = { 1, 9 }, [2] = { 0, 0 }, [3] = { 4, 4 }, [4] = { 4, 4 } }

local f = {
  magic = ProtoField.string("wgtcp.magic", "Magic"),
  version = ProtoField.uint8("wgtcp.version", "Version"),
  type = ProtoField.uint8("wgtcp.type", "Type", base.HEX, types),
  reader = ProtoField.uint16("wgtcp.reader", "Reader id"),
  seq = ProtoField.uint32("wgtcp.seq", "Sequence"),
  timestamp = ProtoField.int64("wgtcp.timestamp", "Timestamp (us)"),
  length = ProtoField.uint16("wgtcp.length", "Payload length"),
  bits = ProtoField.uint8("wgtcp.card.bits", "Bit count"),
  data = ProtoField.bytes("wgtcp.card.data", "Card data"),
  wire = ProtoField.string("wgtcp.card.wire", "Wire bits"),
  formats = ProtoField.uint8("wgtcp.status.formats", "Formats", base.HEX),
  reserved = ProtoField.uint8("wgtcp.status.reserved", "Reserved", base.HEX),
  keepalive = ProtoField.uint16("wgtcp.status.keepalive_ms", "Keepalive interval (ms)"),
  acked = ProtoField.uint32("wgtcp.ack.seq", "Acked sequence"),
  crc = ProtoField.uint16("wgtcp.crc", "CRC", base.HEX),
}
wgtcp.fields = f

local e_field = ProtoExpert.new("wgtcp.field.bad", "Field not allowed by the transport", expert.group.MALFORMED,
                                expert.severity.ERROR)
local e_crc = ProtoExpert.new("wgtcp.crc.bad", "Bad CRC", expert.group.CHECKSUM, expert.severity.ERROR)
wgtcp.experts = { e_field, e_crc }

-- CRC-16/IBM-3740 (CCITT-FALSE): poly 0x1021, init 0xFFFF, not reflected, no final XOR. Lua 5.2's bit32.
local function crc16(tvb, offset, length)
  local crc = 0xFFFF
  for i = offset, offset + length - 1 do
    crc = bit32.bxor(crc, bit32.lshift(tvb(i, 1):uint(), 8))
    for _ = 1, 8 do
      if bit32.band(crc, 0x8000) ~= 0 then
        crc = bit32.band(bit32.bxor(bit32.lshift(crc, 1), 0x1021), 0xFFFF)
      else
        crc = bit32.band(bit32.lshift(crc, 1), 0xFFFF)
      end
    end
  end
  return crc
end

local function message_length(tvb, pinfo, offset)
  return HEADER + tvb(offset + 18, 2):uint() + CRC
end

local function wire_bits(tvb, offset, bits)
  local out = {}
  for i = 0, bits - 1 do
    local byte = tvb(offset + math.floor(i / 8), 1):uint()
    out[#out + 1] = bit32.band(bit32.rshift(byte, 7 - i % 8), 1) == 1 and "1" or "0"
  end
  return table.concat(out)
end

local function dissect_message(tvb, pinfo, tree)
  local kind = tvb(3, 1):uint()
  local length = tvb(18, 2):uint()
  local t = tree:add(wgtcp, tvb(), "GateTwin Wiegand TCP, " .. (types[kind] or "unknown"))
  local magic = t:add(f.magic, tvb(0, 2))
  if tvb(0, 2):uint() ~= 0x5747 then magic:add_proto_expert_info(e_field, "magic must be WG") end
  local version = t:add(f.version, tvb(2, 1))
  if tvb(2, 1):uint() ~= 1 then version:add_proto_expert_info(e_field, "version must be 1") end
  local type_item = t:add(f.type, tvb(3, 1))
  t:add(f.reader, tvb(4, 2))
  t:add(f.seq, tvb(6, 4))
  t:add(f.timestamp, tvb(10, 8))
  local length_item = t:add(f.length, tvb(18, 2))
  local bounds = payload_bounds[kind]
  if not bounds then
    type_item:add_proto_expert_info(e_field, "not a message type")
  elseif length < bounds[1] or length > bounds[2] then
    length_item:add_proto_expert_info(e_field, "payload length out of range for the type")
  end

  local info = (types[kind] or "unknown") .. " reader=" .. tvb(4, 2):uint() .. " seq=" .. tvb(6, 4):uint()
  if kind == 1 and length >= 1 then
    local bits = tvb(HEADER, 1):uint()
    local bits_item = t:add(f.bits, tvb(HEADER, 1))
    if bits < 1 or bits > 64 or length ~= 1 + math.ceil(bits / 8) then
      bits_item:add_proto_expert_info(e_field, "bit count does not match the payload")
    elseif length > 1 then
      local data = t:add(f.data, tvb(HEADER + 1, length - 1))
      local pad = 8 * (length - 1) - bits
      local last = tvb(HEADER + length - 1, 1):uint()
      if pad > 0 and bit32.band(last, bit32.lshift(1, pad) - 1) ~= 0 then
        data:add_proto_expert_info(e_field, "padding bits must be 0")
      end
      local wire = wire_bits(tvb, HEADER + 1, bits)
      t:add(f.wire, tvb(HEADER + 1, length - 1), wire)
      info = info .. " bits=" .. bits .. " " .. wire
    end
  elseif kind == 3 and length == 4 then
    local formats = t:add(f.formats, tvb(HEADER, 1))
    if bit32.band(tvb(HEADER, 1):uint(), 0xFC) ~= 0 then formats:add_proto_expert_info(e_field, "reserved bits set") end
    local reserved = t:add(f.reserved, tvb(HEADER + 1, 1))
    if tvb(HEADER + 1, 1):uint() ~= 0 then reserved:add_proto_expert_info(e_field, "must be 0") end
    t:add(f.keepalive, tvb(HEADER + 2, 2))
  elseif kind == 4 and length == 4 then
    t:add(f.acked, tvb(HEADER, 4))
    info = info .. " acked=" .. tvb(HEADER, 4):uint()
  end

  local crc_item = t:add(f.crc, tvb(HEADER + length, 2))
  if crc16(tvb, 0, HEADER + length) ~= tvb(HEADER + length, 2):uint() then
    crc_item:add_proto_expert_info(e_crc)
  end
  pinfo.cols.protocol = "WGTCP"
  -- Several messages in one segment share the info column, separated by "; ".
  if tostring(pinfo.cols.info) == "" then pinfo.cols.info:set(info) else pinfo.cols.info:append("; " .. info) end
  return tvb:len()
end

function wgtcp.dissector(tvb, pinfo, tree)
  pinfo.cols.info:clear()
  dissect_tcp_pdus(tvb, tree, HEADER, message_length, dissect_message, true)
  return tvb:len()
end

DissectorTable.get("tcp.port"):add_for_decode_as(wgtcp)
