// Command packet encoding and parsing (PROTOCOL.md section 1).
#include <cstring>

#include "diarkis/codec.h"

namespace diarkis {
namespace {

// Writes the 10 bytes every packet starts with: magic, ver, uint24 length, cmd.
void appendHeader(Bytes& out, uint8_t ver, uint16_t cmd, size_t len) {
  const auto n = static_cast<uint32_t>(len);
  const uint8_t h[10] = {wire::kMagic[0],
                         wire::kMagic[1],
                         wire::kMagic[2],
                         wire::kMagic[3],
                         ver,
                         static_cast<uint8_t>(n >> 16),
                         static_cast<uint8_t>(n >> 8),
                         static_cast<uint8_t>(n),
                         static_cast<uint8_t>(cmd >> 8),
                         static_cast<uint8_t>(cmd)};
  out.insert(out.end(), h, h + sizeof h);
}

bool validStatus(uint8_t s) {
  return s == wire::kStatusOk || s == wire::kStatusBad || s == wire::kStatusErr ||
         s == wire::kStatusPush;
}

ParseResult fail(DropReason r) {
  ParseResult res;
  res.status = ParseStatus::Error;
  res.reason = r;
  return res;
}

// Shared parser: headerSize 10 for requests, 11 for responses (status byte).
// Every header check runs as soon as its bytes are present, so a bad stream is
// reported without waiting for a length's worth of bytes that may never come.
ParseResult parse(const uint8_t* data, size_t len, uint32_t maxPayload, size_t headerSize,
                  PacketView& out) {
  const size_t magicBytes = len < 4 ? len : 4;
  if (magicBytes > 0 && std::memcmp(data, wire::kMagic, magicBytes) != 0) {
    return fail(DropReason::BadMagic);
  }
  if (len < 8) return ParseResult{};
  const uint32_t payloadLen = (uint32_t{data[5]} << 16) | (uint32_t{data[6]} << 8) | data[7];
  if (payloadLen > maxPayload) return fail(DropReason::TooLarge);
  if (headerSize == wire::kResponseHeaderSize && len > 10 && !validStatus(data[10])) {
    return fail(DropReason::BadStatus);
  }
  if (len < headerSize || len - headerSize < payloadLen) return ParseResult{};

  out.ver = data[4];
  out.cmd = static_cast<uint16_t>((data[8] << 8) | data[9]);
  out.status = headerSize == wire::kResponseHeaderSize ? data[10] : 0;
  out.payload = data + headerSize;
  out.len = payloadLen;
  ParseResult res;
  res.status = ParseStatus::Ok;
  res.consumed = headerSize + payloadLen;
  return res;
}

}  // namespace

void appendRequest(Bytes& out, uint8_t ver, uint16_t cmd, const uint8_t* payload, size_t len) {
  out.reserve(out.size() + wire::kRequestHeaderSize + len);
  appendHeader(out, ver, cmd, len);
  if (len > 0) out.insert(out.end(), payload, payload + len);
}

void appendResponse(Bytes& out, uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* payload,
                    size_t len) {
  out.reserve(out.size() + wire::kResponseHeaderSize + len);
  appendHeader(out, ver, cmd, len);
  out.push_back(status);
  if (len > 0) out.insert(out.end(), payload, payload + len);
}

ParseResult parseResponse(const uint8_t* data, size_t len, uint32_t maxPayload, PacketView& out) {
  return parse(data, len, maxPayload, wire::kResponseHeaderSize, out);
}

namespace {
ParseResult parseCopy(const uint8_t* data, size_t len, uint32_t maxPayload, size_t headerSize, Packet& out) {
  PacketView v;
  const ParseResult r = parse(data, len, maxPayload, headerSize, v);
  if (r.status == ParseStatus::Ok) {
    out.ver = v.ver;
    out.cmd = v.cmd;
    out.status = v.status;
    out.payload.assign(v.payload, v.payload + v.len);
  }
  return r;
}
}  // namespace

ParseResult parseResponse(const uint8_t* data, size_t len, uint32_t maxPayload, Packet& out) {
  return parseCopy(data, len, maxPayload, wire::kResponseHeaderSize, out);
}

ParseResult parseRequest(const uint8_t* data, size_t len, uint32_t maxPayload, Packet& out) {
  return parseCopy(data, len, maxPayload, wire::kRequestHeaderSize, out);
}

}  // namespace diarkis
