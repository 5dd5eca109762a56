// DiarkisRoomBase (diarkis/room.h): the JSON bodies of PROTOCOL section 10 through
// nlohmann::json (Debian nlohmann-json3-dev, header-only; docs/decisions.md).
#include "diarkis/room.h"

#include <nlohmann/json.hpp>

#include "session/room_rules.h"

namespace diarkis {
namespace {

using nlohmann::json;

using room::kCmdBroadcast;
constexpr uint16_t kCmdInfo = 5;
constexpr uint16_t kCmdSetProps = 6;
constexpr uint16_t kCmdOwnerChanged = 8;

// The body as a JSON object; false (nothing thrown) when it is not one.
bool parseObject(const uint8_t* p, size_t len, json& out) {
  out = json::parse(p, p + len, nullptr, false);
  return !out.is_discarded() && out.is_object();
}

std::string str(const json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// {"error": code} of a Bad answer, or a description of another status.
std::string errorOf(uint8_t status, const uint8_t* p, size_t len) {
  json o;
  if (parseObject(p, len, o)) {
    const std::string code = str(o, "error");
    if (!code.empty()) return code;
  }
  return "status-" + std::to_string(status);
}

bool toState(const json& o, RoomState& st) {
  st.roomId = str(o, "roomId");
  st.ownerId = str(o, "ownerId");
  st.members.clear();
  const auto m = o.find("members");
  if (m != o.end() && m->is_array()) {
    for (const auto& v : *m) {
      if (v.is_string()) st.members.push_back(v.get<std::string>());
    }
  }
  const auto pr = o.find("props");
  st.propsJson = pr != o.end() && pr->is_object() ? pr->dump() : "{}";
  st.json = o.dump();
  return !st.roomId.empty();
}

// Pops the oldest request's "sent by this class" flag (false when none is known).
bool popSilent(std::deque<bool>& q) {
  if (q.empty()) return false;
  const bool silent = q.front();
  q.pop_front();
  return silent;
}

// Never throws: a text that is not a JSON object comes back discarded.
json objectOf(const std::string& text) {
  json o = json::parse(text, nullptr, false);
  return o.is_object() ? o : json(json::value_t::discarded);
}

}  // namespace

ErrorCode DiarkisRoomBase::sendJson(uint16_t cmd, const std::string& text) {
  return send_(room::kVer, cmd, reinterpret_cast<const uint8_t*>(text.data()), text.size(), true);
}

ErrorCode DiarkisRoomBase::SendCreateRoom(uint32_t maxMembers, const std::string& propsJson) {
  json props = objectOf(propsJson);
  if (maxMembers == 0 || props.is_discarded()) return ErrorCode::InvalidArgument;
  return sendJson(room::kCmdCreate, json{{"maxMembers", maxMembers}, {"props", std::move(props)}}.dump());
}

ErrorCode DiarkisRoomBase::SendJoinRoom(const std::string& roomId) {
  if (roomId.empty()) return ErrorCode::InvalidArgument;
  return sendJson(room::kCmdJoin, json{{"roomId", roomId}}.dump());
}

ErrorCode DiarkisRoomBase::SendLeaveRoom() {
  const ErrorCode rc = send_(room::kVer, room::kCmdLeave, nullptr, 0, true);
  if (rc == ErrorCode::None) leaves_.push_back(false);
  return rc;
}

ErrorCode DiarkisRoomBase::SendGetRoomInfo() { return send_(room::kVer, kCmdInfo, nullptr, 0, true); }

ErrorCode DiarkisRoomBase::SendSetRoomProps(const std::string& propsJson) {
  json props = objectOf(propsJson);
  if (props.is_discarded()) return ErrorCode::InvalidArgument;
  return sendJson(kCmdSetProps, json{{"props", std::move(props)}}.dump());
}

ErrorCode DiarkisRoomBase::SendBroadcast(const uint8_t* data, size_t len, bool reliable) {
  if (roomId_.empty()) return ErrorCode::NotConnected;
  return send_(room::kVer, kCmdBroadcast, data, len, reliable);
}

ErrorCode DiarkisRoomBase::Migrate() {
  const ErrorCode rc = send_(room::kVer, room::kCmdMigrate, nullptr, 0, true);
  if (rc == ErrorCode::None) migrates_.push_back(false);
  return rc;
}

void DiarkisRoomBase::HandleOffline(bool autoMigrate) {
  if (!autoMigrate || !IsOwner()) return;
  if (send_(room::kVer, room::kCmdMigrate, nullptr, 0, true) == ErrorCode::None) migrates_.push_back(true);
}

bool DiarkisRoomBase::HandleError(ErrorCode code) {
  if (code != ErrorCode::RoomMigrationTimeout) return false;
  if (roomId_.empty()) return true;
  roomId_.clear();
  ownerId_.clear();
  if (send_(room::kVer, room::kCmdLeave, nullptr, 0, true) == ErrorCode::None) leaves_.push_back(true);
  OnRoomLeave(true, "room-migration-timeout");
  return true;
}

ErrorCode DiarkisRoomBase::ErrorCodeOf(const std::string& nodeCode) {
  // The node's Bad codes (docs/decisions.md, issue 16), as the TypeScript client maps them.
  static const struct {
    const char* wire;
    ErrorCode code;
  } kTable[] = {
      {"bad-request", ErrorCode::InvalidArgument}, {"already-in-room", ErrorCode::AlreadyInRoom},
      {"not-in-room", ErrorCode::NotInRoom},       {"not-found", ErrorCode::RoomNotFound},
      {"room-full", ErrorCode::RoomFull},           {"not-owner", ErrorCode::NotOwner},
      {"migrating", ErrorCode::RoomBusy},           {"not-offline", ErrorCode::RoomBusy},
      {"no-target", ErrorCode::NoTarget},
  };
  for (const auto& e : kTable) {
    if (nodeCode == e.wire) return e.code;
  }
  return ErrorCode::ProtocolError;
}

bool DiarkisRoomBase::HandleResponse(uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* payload,
                                     size_t len) {
  if (ver != room::kVer) return false;
  const bool ok = status == wire::kStatusOk;
  const std::string error = ok ? std::string() : errorOf(status, payload, len);
  json o;
  const bool obj = ok && parseObject(payload, len, o);
  RoomState st;
  switch (cmd) {
    case room::kCmdCreate:
      if (ok && (!obj || str(o, "roomId").empty())) {
        ++bad_;
        OnRoomCreate(false, "", "bad-answer");
        return true;
      }
      if (ok) {
        roomId_ = str(o, "roomId");
        ownerId_ = me_ = str(o, "ownerId");
      }
      OnRoomCreate(ok, roomId_, error);
      return true;
    case room::kCmdJoin:
    case kCmdInfo:
      if (ok && !(obj && toState(o, st))) {
        ++bad_;
        st = RoomState();
      } else if (ok) {
        roomId_ = st.roomId;
        ownerId_ = st.ownerId;
        // The join answer lists members in join order, the joiner last (PROTOCOL 10, ours).
        if (cmd == room::kCmdJoin && !st.members.empty()) me_ = st.members.back();
      }
      if (cmd == room::kCmdJoin) OnRoomJoin(ok && !st.roomId.empty(), st, ok ? "" : error);
      else OnRoomInfo(ok && !st.roomId.empty(), st, ok ? "" : error);
      return true;
    case room::kCmdLeave:
      if (popSilent(leaves_)) return true;  // HandleError's leave: the room was left already
      if (ok) {
        roomId_.clear();
        ownerId_.clear();
      }
      OnRoomLeave(ok, error);
      return true;
    case kCmdSetProps:
      if (!ok) OnRoomPropsFailed(error);
      else if (obj && o.contains("props") && o["props"].is_object()) OnRoomProps(o["props"].dump());
      else ++bad_;
      return true;
    case room::kCmdMigrate:
      // Success is the 1/7 push (every member gets it); only a refusal is reported here.
      if (!popSilent(migrates_) && !ok) OnMigrate(false, "", error);
      return true;
    default:
      return true;
  }
}

bool DiarkisRoomBase::HandlePush(uint8_t ver, uint16_t cmd, const uint8_t* payload, size_t len) {
  if (ver != room::kVer) return false;
  if (cmd == kCmdBroadcast) {  // uidLen:uint8 || uid || bytes
    if (len < 1 || len < 1u + payload[0]) {
      ++bad_;
      return true;
    }
    const std::string uid(reinterpret_cast<const char*>(payload + 1), payload[0]);
    OnMemberBroadcast(uid, payload + 1 + payload[0], len - 1 - payload[0]);
    return true;
  }
  json o;
  if (!parseObject(payload, len, o)) {
    ++bad_;
    return true;
  }
  switch (cmd) {
    case room::kCmdJoin:
      OnMemberJoin(str(o, "uid"));
      return true;
    case room::kCmdLeave: {
      const std::string uid = str(o, "uid");
      if (!me_.empty() && uid == me_) {
        roomId_.clear();
        ownerId_.clear();
        OnRoomLeave(true, "removed");
      } else {
        OnMemberLeave(uid);
      }
      return true;
    }
    case kCmdSetProps:
      OnRoomProps(o.contains("props") && o["props"].is_object() ? o["props"].dump() : "{}");
      return true;
    case room::kCmdMigrate:
      roomId_ = str(o, "newRoomId");
      ownerId_ = str(o, "ownerId");
      OnMigrate(!roomId_.empty(), roomId_, roomId_.empty() ? "bad-push" : "");
      return true;
    case kCmdOwnerChanged:
      ownerId_ = str(o, "ownerId");
      OnOwnerChange(ownerId_);
      return true;
    default:
      ++bad_;
      return true;
  }
}

}  // namespace diarkis
